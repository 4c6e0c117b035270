//! Deployment locks against the local emulators: a run that holds the lock (an apply waiting at
//! its confirmation prompt, on a pseudo-terminal) makes the next apply or destroy refuse, naming
//! it; killed with SIGKILL, its lock is named as left by a killed run until `force-unlock`.
//! Both backends: the local lock file and a DynamoDB table (ministack).

use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `ftctl apply stage1` left waiting at "Do you want to apply?" on a pseudo-terminal (util-linux
/// `script`), holding the deployment's lock. Killed when dropped.
struct Holder {
    script: Child,
    pid: Option<u32>,
}

impl Holder {
    fn start(env: &str, vars: &[(&str, &str)]) -> Holder {
        let command = format!("'{}' apply stage1 --env {env}", ftctl_bin().display());
        eprintln!("$ script -qfec \"{command}\" /dev/null &");
        let mut cmd = Command::new("script");
        // `script` passes its environment on to ftctl: the test's HOME and state.
        hermetic(&mut cmd)
            .args(["-qfec", &command, "/dev/null"])
            .current_dir(repo())
            // Kept open: the prompt waits on it.
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Holder {
            script: cmd.spawn().expect("util-linux `script` runs"),
            pid: None,
        }
    }

    /// SIGKILL, as an OOM killer or a closed laptop would: no chance to release anything.
    fn kill(&mut self) {
        let pid = self.pid.take().expect("the holder's pid");
        let status = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // `script` exits with its child and reaps it.
        let _ = self.script.wait();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let _ = self.script.kill();
        let _ = self.script.wait();
    }
}

fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn lock_file(env: &str) -> std::path::PathBuf {
    test_state_dir().join(format!("ftctl/locks/us-east-1--{env}.json"))
}

fn read_lock(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn destroy_with(env: &str, vars: &[(&str, &str)]) -> Run {
    ftctl_with(
        &[
            "destroy",
            "--env",
            env,
            "--yes",
            "--disable-deletion-protection",
            "--skip-final-snapshot",
            "--delete-evidence",
        ],
        vars,
    )
}

/// The refusals every backend must give while `holder` runs, then after it is killed.
fn assert_refused_while_held(env: &str, vars: &[(&str, &str)], holder: &Value, extra: &str) {
    let pid = holder["pid"].as_u64().unwrap();
    for args in [
        vec!["apply", "stage1", "--env", env, "--yes"],
        vec!["destroy", "--env", env, "--yes"],
    ] {
        let run = ftctl_with(&args, vars);
        assert_eq!(run.code, 1, "{args:?}: {}\n{}", run.stdout, run.stderr);
        for want in [
            format!("deployment {env} in us-east-1 is locked by another run"),
            format!(
                "  {} on {}, pid {pid}, since {}\n",
                holder["user"].as_str().unwrap(),
                holder["host"].as_str().unwrap(),
                holder["since"].as_str().unwrap()
            ),
            format!("  running: ftctl apply stage1 --env {env}\n"),
            format!("lock id {}", holder["id"].as_str().unwrap()),
            "Wait for that run to finish".to_string(),
        ] {
            assert!(run.stderr.contains(&want), "no `{want}` in\n{}", run.stderr);
        }
        assert!(!run.stderr.contains("killed"), "{}", run.stderr);
        assert!(run.stderr.contains(extra), "{}", run.stderr);
    }
}

fn assert_left_by_killed_run(env: &str, vars: &[(&str, &str)], extra: &str) {
    let run = ftctl_with(&["apply", "stage1", "--env", env, "--yes"], vars)
        .failure(1)
        .stderr_has("the lock was left by a killed run")
        .stderr_has(&format!(
            "ftctl force-unlock --env {env} --region us-east-1{extra}"
        ));
    assert!(!run.stdout.contains("Creating"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_lock_excludes_other_runs_until_its_holder_ends_or_is_unlocked() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("lk");
    let env = deployment.created().to_string();
    let aws = aws().await;
    let path = lock_file(&env);
    let vars: &[(&str, &str)] = &[];

    let mut holder = Holder::start(&env, vars);
    let lock = wait_for("the lock file", || read_lock(&path));
    holder.pid = Some(lock["pid"].as_u64().unwrap() as u32);
    assert_eq!(
        lock["command"],
        format!("ftctl apply stage1 --env {env}").as_str()
    );
    let file = format!("(lock file {}, lock id", path.display());
    assert_refused_while_held(&env, vars, &lock, &file);
    assert_eq!(leftovers(&aws, &env).await, Vec::<String>::new());

    holder.kill();
    assert_left_by_killed_run(&env, vars, "");
    assert!(path.exists(), "a refused run removed someone else's lock");

    // Only the named lock is released.
    ftctl(&["force-unlock", "--env", &env, "--lock-id", "0000"]).failure(1);
    assert!(path.exists());
    let run = ftctl(&["force-unlock", "--env", &env]).ok();
    assert!(run.stdout.contains("Released the lock"), "{}", run.stdout);
    assert!(run.stdout.contains("(a killed run)"), "{}", run.stdout);
    assert!(!path.exists());

    let run = ftctl(&["apply", "stage1", "--env", &env, "--yes"]).ok();
    assert!(run.stdout.contains("58 added"), "{}", run.stdout);
    assert!(!path.exists(), "apply kept its lock");
    // A run that fails releases its lock too.
    ftctl(&["destroy", "--env", &env, "--yes"])
        .failure(1)
        .stderr_has("deletion protection");
    assert!(!path.exists(), "a failed destroy kept its lock");

    destroy_with(&env, vars).ok();
    assert!(!path.exists());
    assert_eq!(leftovers(&aws, &env).await, Vec::<String>::new());
    deployment.destroyed();
}

async fn lock_item(aws: &Aws, table: &str, env: &str) -> Option<Value> {
    let out = aws
        .dynamodb
        .get_item()
        .table_name(table)
        .key("LockID", AttributeValue::S(format!("us-east-1/{env}")))
        .consistent_read(true)
        .send()
        .await
        .ok()?;
    let info = out.item()?.get("Info")?.as_s().ok()?.clone();
    Some(serde_json::from_str(&info).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dynamodb_lock_table_is_created_and_excludes_other_runs() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("lt");
    let env = deployment.created().to_string();
    let aws = aws().await;
    let table = format!("ftctl-test-locks-{env}");
    let vars: &[(&str, &str)] = &[("FTCTL_LOCK_TABLE", &table)];
    let extra = format!(" --lock-table {table}");

    let mut holder = Holder::start(&env, vars);
    let mut item = None;
    for _ in 0..300 {
        item = lock_item(&aws, &table, &env).await;
        if item.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let item = item.expect("the lock item in DynamoDB");
    holder.pid = Some(item["pid"].as_u64().unwrap() as u32);
    assert!(
        !lock_file(&env).exists(),
        "a table lock also wrote a lock file"
    );
    // The table ftctl made: on demand, keyed by LockID.
    let described = aws
        .dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let t = described.table().unwrap();
    assert_eq!(t.key_schema()[0].attribute_name(), "LockID");
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
    );

    assert_refused_while_held(&env, vars, &item, "DynamoDB lock table");
    holder.kill();
    assert_left_by_killed_run(&env, vars, &extra);
    assert!(lock_item(&aws, &table, &env).await.is_some());

    let run = ftctl_with(&["force-unlock", "--env", &env], vars).ok();
    assert!(run.stdout.contains("Released the lock"), "{}", run.stdout);
    assert_eq!(lock_item(&aws, &table, &env).await, None);

    let run = ftctl_with(&["apply", "stage1", "--env", &env, "--yes"], vars).ok();
    assert!(run.stdout.contains("58 added"), "{}", run.stdout);
    assert_eq!(
        lock_item(&aws, &table, &env).await,
        None,
        "apply kept its lock"
    );
    destroy_with(&env, vars).ok();
    assert_eq!(lock_item(&aws, &table, &env).await, None);
    assert_eq!(leftovers(&aws, &env).await, Vec::<String>::new());
    aws.dynamodb
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    deployment.destroyed();
}
