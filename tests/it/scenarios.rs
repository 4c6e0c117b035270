//! `ftctl chaos run FILE` and `chaos list --export DIR` against the local emulators, on a
//! deployed stage 1: the exported experiments are scenario files that run; a scenario's steps
//! are designed together (the dry run lists each step's start and touches nothing) and start
//! when their time comes, judged as one experiment.

use crate::chaos::{instance_states, journal, spawn_ftctl, state_of, Deployed};
use crate::support::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn exported_experiments_run_and_a_scenario_starts_each_step_on_time() {
    let _emulators = emulators().await;
    let d = Deployed::new("sc");
    let aws = aws().await;
    let work = tempfile::tempdir().unwrap();

    // Every derived experiment, written as a scenario a user can start from.
    let exported = work.path().join("exported");
    let run = ftctl(&[
        "chaos",
        "list",
        "--env",
        &d.env,
        "--export",
        exported.to_str().unwrap(),
    ])
    .ok();
    let mut names: Vec<String> = std::fs::read_dir(&exported)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for want in [
        "kill-instance-web.toml",
        "kill-instance-app.toml",
        "rds-failover-main.toml",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} in {names:?}: {}",
            run.stderr
        );
    }
    assert!(names.iter().any(|n| n.starts_with("kill-az-")), "{names:?}");
    let before = instance_states(&aws, &d.env).await;
    let web = exported.join("kill-instance-web.toml");
    let dry = ftctl(&[
        "chaos",
        "run",
        web.to_str().unwrap(),
        "--env",
        &d.env,
        "--dry-run",
        "--json",
    ])
    .ok();
    let plan: Value = serde_json::from_str(&dry.stdout).unwrap();
    let victims = plan["design"]["actions"][0]["instances"]
        .as_array()
        .unwrap();
    assert_eq!(victims.len(), 1, "{plan}");
    assert_eq!(
        before[victims[0].as_str().unwrap()].0,
        "running",
        "the exported kill-instance names a running web instance: {plan}"
    );

    // Lose a web instance; two seconds later fail the database over and lose an app instance.
    let file = work.path().join("web-then-db-and-app.toml");
    std::fs::write(
        &file,
        r#"[scenario]
name = "web-then-db-and-app"
description = "one web instance, then the database and an app instance together"

[[step]]
kill-instance = { targets = ["tier.web"] }

[[step]]
at = 2
rds-failover = { targets = ["db.main"] }

[[step]]
at = 2
kill-instance = { targets = ["tier.app"] }
"#,
    )
    .unwrap();
    let dry = ftctl(&[
        "chaos",
        "run",
        file.to_str().unwrap(),
        "--env",
        &d.env,
        "--dry-run",
    ])
    .ok();
    assert!(
        dry.stdout.contains("at +2 s, step 2 (rds-failover):"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("at +2 s, step 3 (kill-instance):"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        instance_states(&aws, &d.env).await,
        before,
        "a dry run changes nothing"
    );

    let dir = work.path().join("run");
    let child = spawn_ftctl(&[
        "chaos",
        "run",
        file.to_str().unwrap(),
        "--env",
        &d.env,
        "--interval",
        "0.2",
        "--settle",
        "1",
        "--budget",
        "40",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    finish(child).await.success().stdout_has("RECOVERED");

    let j = journal(&dir);
    assert_eq!(j["outcome"], "recovered", "{j}");
    let steps = j["design"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{j}");
    let injected = j["injected_at"].as_f64().unwrap();
    let events = j["events"].as_array().unwrap();
    let at_of = |needle: &str| -> f64 {
        events
            .iter()
            .find(|e| e["kind"] == "step" && e["detail"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no step event {needle}: {events:?}"))["at"]
            .as_f64()
            .unwrap()
    };
    assert!(at_of("step 1 (kill-instance)") - injected < 1.0);
    assert!(at_of("step 2 (rds-failover)") - injected >= 2.0);
    assert!(at_of("step 3 (kill-instance)") >= at_of("step 2 (rds-failover)"));
    let injects: Vec<&Value> = events.iter().filter(|e| e["kind"] == "inject").collect();
    assert_eq!(injects.len(), 3, "{events:?}");
    assert!(injects.iter().all(|e| e["ok"] == true), "{events:?}");
    assert!(injects[1]["detail"]
        .as_str()
        .unwrap()
        .contains("reboot database"));

    // Each kill-instance step took one instance of its own tier, and it is gone.
    let actions = j["design"]["actions"].as_array().unwrap();
    for (n, tier) in [(0, "web"), (2, "app")] {
        let id = actions[n]["instances"][0].as_str().unwrap();
        assert_eq!(state_of(&aws, id).await, "terminated", "{tier}: {id}");
        let group = format!("{}-{tier}", d.env);
        assert!(
            before.contains_key(id),
            "{id} was an instance of the deployment ({group})"
        );
    }
}
