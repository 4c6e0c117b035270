//! Secrets never appear in output, logs, plans, reports or any file ftctl writes: a realistic
//! session against the local emulators with distinctive fake credentials and the most verbose
//! logging, then every byte it produced is searched for them and for the database's master
//! password (created by RDS in Secrets Manager; ftctl never asks for it).

use crate::support::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Fake credentials: the emulators accept any. Distinctive, so a match is a leak.
const SECRET_KEY: &str = "SecretMarker0e8d2b6f9a1c4e7d3b5a8f0c2e4d6b8a";
const SESSION_TOKEN: &str = "TokenMarker7c1e5a9d3f0b2c4e6a8d0f2b4c6e8a0d";
/// Not a secret (it names the key, like a user name), but worth knowing where it shows.
const ACCESS_KEY_ID: &str = "AKIAMARKER00000000042";

/// A session in a scratch directory that is also HOME and TMPDIR, so every file any command
/// writes lands where the test can read it.
struct Session {
    dir: tempfile::TempDir,
    /// (what ran, stream, text) of every command.
    outputs: Vec<(String, &'static str, String)>,
}

impl Session {
    fn new() -> Session {
        let dir = tempfile::tempdir().unwrap();
        let stacks = dir.path().join("work/stacks");
        std::fs::create_dir_all(&stacks).unwrap();
        for entry in std::fs::read_dir(repo().join("stacks")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), stacks.join(entry.file_name())).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        Session {
            dir,
            outputs: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs ftctl with the marked credentials and trace logging; returns the exit code.
    fn run(&mut self, args: &[&str], trace: bool) -> Run {
        self.run_env(args, trace, &[])
    }

    fn run_env(&mut self, args: &[&str], trace: bool, env: &[(&str, &str)]) -> Run {
        // The harness's ftctl, with this session's scratch as HOME and state instead of the
        // process's, so the search below sees the lock files too.
        let mut cmd = ftctl_command();
        cmd.envs(env.iter().copied());
        cmd.args(args)
            .current_dir(self.path("work"))
            .env("HOME", self.path("home"))
            .env("XDG_STATE_HOME", self.path("home/.local/state"))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
            .env("TMPDIR", self.path("tmp"))
            .env("RUST_BACKTRACE", "1");
        if trace {
            // ftctl's filter (src/main.rs), and the conventional one in case a library reads it.
            cmd.env("FTCTL_LOG", "trace").env("RUST_LOG", "trace");
        } else {
            cmd.env_remove("FTCTL_LOG").env_remove("RUST_LOG");
        }
        let started = std::time::Instant::now();
        let out = cmd.output().expect("ftctl runs");
        // Seen with --nocapture: which step a slow run spent its time in.
        eprintln!(
            "{:6.1}s ftctl {}",
            started.elapsed().as_secs_f64(),
            args.join(" ")
        );
        let what = format!(
            "ftctl {}{}",
            args.join(" "),
            if trace { " (trace)" } else { "" }
        );
        let run = Run::from(what.clone(), out);
        self.outputs
            .push((what.clone(), "stdout", run.stdout.clone()));
        self.outputs.push((what, "stderr", run.stderr.clone()));
        run
    }

    /// Every file under the scratch directory except the stack files copied in.
    fn files(&self) -> Vec<(PathBuf, String)> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut paths = Vec::new();
        walk(self.dir.path(), &mut paths);
        let stacks = self.path("work/stacks");
        paths
            .into_iter()
            .filter(|p| !p.starts_with(&stacks))
            .map(|p| {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                (p, text)
            })
            .collect()
    }
}

/// Trace logs are megabytes: what ftctl itself said, without the libraries' log lines.
fn said(run: &Run) -> String {
    let own: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.contains(" TRACE ") && !l.contains(" DEBUG ") && !l.contains(" INFO "))
        .collect();
    format!("exit {}\n{}\n{}", run.code, run.stdout, own.join("\n"))
}

fn succeeded(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what} failed: {}", said(run));
}

/// Destroys the deployment however the test ends, so a failure leaves nothing behind.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let run = ftctl(&[
            "destroy",
            "--env",
            &self.0,
            "--yes",
            "--skip-final-snapshot",
            "--delete-evidence",
            "--disable-deletion-protection",
        ]);
        if run.code != 0 && !std::thread::panicking() {
            panic!("destroy of {} failed: {}", self.0, said(&run));
        }
    }
}

/// Occurrences of `needle` that are the named thing itself: `master_user_password` also occurs
/// inside `manage_master_user_password`, which is the setting, not a password.
fn occurrences(haystack: &str, needle: &str, allowed_prefix: &str) -> usize {
    haystack
        .match_indices(needle)
        .filter(|(i, _)| !haystack[..*i].ends_with(allowed_prefix))
        .count()
}

/// The master password RDS (moto) keeps in Secrets Manager for the deployment's database.
async fn master_password(aws: &Aws, env: &str) -> String {
    let db = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("{env}-main"))
        .send()
        .await
        .unwrap();
    let arn = db.db_instances()[0]
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .expect("RDS manages the master password in Secrets Manager")
        .to_string();
    // moto holds the secret; ask it directly (no Secrets Manager client among the test's deps).
    let moto = std::env::var("FTCTL_MOTO_URL").unwrap();
    let host = moto.trim_start_matches("http://").trim_end_matches('/');
    let body = serde_json::json!({ "SecretId": arn }).to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: secretsmanager.GetSecretValue\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let json = &response[response.find("\r\n\r\n").expect("an HTTP response") + 4..];
    let value: serde_json::Value = serde_json::from_str(json.trim())
        .unwrap_or_else(|e| panic!("GetSecretValue: {e}: {response}"));
    let secret: serde_json::Value =
        serde_json::from_str(value["SecretString"].as_str().unwrap()).unwrap();
    let password = secret["password"].as_str().unwrap().to_string();
    assert!(
        password.len() >= 6,
        "a password worth searching for: {password}"
    );
    password
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_output_logs_reports_or_files() {
    let _emulators = emulators().await;
    let aws = aws().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("sec");
    let env = deployment.created().to_string();
    let _cleanup = Cleanup(env.clone());
    let mut s = Session::new();
    let notrace = "tracing.enabled=false";
    let reports_dry = s.path("reports/dry");
    let reports_run = s.path("reports/run");
    let plan_file = s.path("plan.json");

    // Before: what a user does first. Plans with and without trace logging.
    for trace in [true, false] {
        let run = s.run(&["plan", "stage1", "--env", &env, "--var", notrace], trace);
        succeeded(&run, "plan");
    }
    let run = s.run(
        &["plan", "stage1", "--env", &env, "--json", "--var", notrace],
        true,
    );
    succeeded(&run, "plan --json");
    std::fs::write(&plan_file, &run.stdout).unwrap();
    let run = s.run(
        &["apply", "stage1", "--env", &env, "--yes", "--var", notrace],
        true,
    );
    succeeded(&run, "apply");
    let password = master_password(&aws, &env).await;

    // Operating it.
    for args in [
        vec!["status", "--env", &env],
        vec!["status", "--env", &env, "--json"],
        vec!["check", "--live", "--env", &env],
        vec!["check", "stage1", "--live", "--env", &env, "--var", notrace],
        vec!["backup", "--env", &env, "--wait"],
        vec!["backup", "--env", &env, "--list"],
        vec!["backup", "--env", &env, "--list", "--json"],
    ] {
        let run = s.run(&args, true);
        // check exits 2 or 3 for findings; only a crash or an error (1) is wrong here.
        assert!(
            run.code == 0 || (args[0] == "check" && run.code > 1),
            "{args:?}: {}",
            said(&run)
        );
    }
    calm_alarms(&aws, &env).await;
    let run = s.run(
        &[
            "chaos",
            "kill-instance",
            "--env",
            &env,
            "--dry-run",
            "--report-dir",
            reports_dry.to_str().unwrap(),
        ],
        true,
    );
    succeeded(&run, "chaos kill-instance --dry-run");
    // A real experiment writes the journal, report and timeline.
    let run = s.run(
        &[
            "chaos",
            "rds-failover",
            "--env",
            &env,
            "--interval",
            "0.2",
            "--settle",
            "0.4",
            "--report-dir",
            reports_run.to_str().unwrap(),
        ],
        true,
    );
    succeeded(&run, "chaos rds-failover");
    for file in ["journal.json", "report.md", "timeline.svg"] {
        assert!(reports_run.join(file).is_file(), "{file} written");
    }
    // A failed apply: with tracing on, X-Ray's endpoint answers nothing (a closed loopback
    // port), so the error path, with trace logs, is taken too.
    let run = s.run_env(
        &["apply", "stage1", "--env", &env, "--yes"],
        true,
        &[
            ("AWS_ENDPOINT_URL_XRAY", "http://127.0.0.1:9"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    assert_eq!(run.code, 1, "X-Ray unreachable: {}", said(&run));
    // A refused --var: the input error path.
    s.run(
        &[
            "plan",
            "stage1",
            "--env",
            &env,
            "--var",
            "tiers.web.max_size=x",
        ],
        true,
    )
    .failure(1);

    let run = s.run(
        &[
            "destroy",
            "--env",
            &env,
            "--yes",
            "--skip-final-snapshot",
            "--delete-evidence",
            "--disable-deletion-protection",
        ],
        true,
    );
    succeeded(&run, "destroy");
    let left = leftovers(&aws, &env).await;
    assert!(left.is_empty(), "left behind: {left:?}");

    // The search.
    let mut artifacts: Vec<(String, String)> = s
        .outputs
        .iter()
        .map(|(what, stream, text)| (format!("{what} [{stream}]"), text.clone()))
        .collect();
    let files = s.files();
    assert!(
        files.iter().any(|(p, _)| p.ends_with("journal.json")),
        "the report files are searched: {:?}",
        files.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    artifacts.extend(files.into_iter().map(|(p, t)| (p.display().to_string(), t)));
    let traced: usize = artifacts.iter().map(|(_, t)| t.len()).sum();
    assert!(
        traced > 1_000_000,
        "trace logging was on: {traced} bytes in all"
    );

    // The search can find what it looks for: the credentials did reach the SDK, which logged
    // the key id and the token's length (redacted) at trace level.
    let all: String = artifacts.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        all.contains(ACCESS_KEY_ID),
        "the marked credentials were used"
    );
    assert!(
        all.contains(&format!(
            "x-amz-security-token:** redacted (length={}) **",
            SESSION_TOKEN.len()
        )),
        "the session token was sent, redacted in the logs"
    );

    let mut leaks = Vec::new();
    for (name, text) in &artifacts {
        for (what, needle, allowed) in [
            ("secret access key", SECRET_KEY, ""),
            ("session token", SESSION_TOKEN, ""),
            ("database master password", password.as_str(), ""),
            (
                "a master password setting",
                "master_user_password",
                "manage_",
            ),
            ("a master password setting", "MasterUserPassword", "Manage"),
        ] {
            let n = occurrences(text, needle, allowed);
            if n > 0 {
                let at = text.find(needle).unwrap();
                let context: String = text[at.saturating_sub(120)..].chars().take(240).collect();
                leaks.push(format!("{what} ×{n} in {name}: …{context}…"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n\n"));

    // The access key id names a key and is no secret; still, it appears only in trace logs the
    // user asked for, never in ordinary output.
    let plain: Vec<&String> = s
        .outputs
        .iter()
        .filter(|(what, _, _)| !what.ends_with("(trace)"))
        .map(|(_, _, text)| text)
        .collect();
    assert!(!plain.is_empty());
    for text in plain {
        assert!(
            !text.contains(ACCESS_KEY_ID),
            "access key id printed:\n{text}"
        );
    }
    deployment.destroyed();
}
