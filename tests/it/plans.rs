//! Saved plans (`plan --out`, `apply PLAN.json`) and drift (`plan --refresh-only`) against the
//! local emulators: what is applied is read back from them, and a refused plan changes nothing.

use crate::support::*;
use serde_json::Value;

async fn web_max_size(aws: &Aws, env: &str) -> Option<i32> {
    let out = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(format!("{env}-web"))
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups().first().and_then(|g| g.max_size())
}

async fn set_web_max_size(aws: &Aws, env: &str, max: i32) {
    aws.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(format!("{env}-web"))
        .max_size(max)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_applied_as_planned_or_refused_when_the_deployment_changed() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("sp");
    let env = deployment.created().to_string();
    let aws = aws().await;
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.json");
    let first = first.to_str().unwrap();

    // A setting given only at plan time must be what apply makes; credentials in the
    // environment must not reach the file.
    let canary = "ftctl-canary-secret-0451";
    let run = ftctl_with(
        &[
            "plan",
            "stage1",
            "--env",
            &env,
            "--var",
            "tiers.web.max_size=8",
            "--out",
            first,
        ],
        &[
            ("AWS_SECRET_ACCESS_KEY", canary),
            ("AWS_SESSION_TOKEN", canary),
        ],
    )
    .ok();
    assert!(run.stdout.contains("Plan: 58 to add"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("Apply exactly it with: ftctl apply {first}")),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(first).unwrap();
    assert!(!text.contains(canary), "a credential in the plan file");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    assert!(!text.contains(&endpoint), "an endpoint in the plan file");
    // An explicit --env other than the plan's is refused before any AWS call, also `dev`,
    // the default (ftctl apply PLAN --env dev).
    for other in ["dev", "someone-else"] {
        let wrong = ftctl(&["apply", first, "--env", other]);
        assert_ne!(wrong.code, 0, "{}", wrong.stdout);
        assert!(
            wrong
                .stderr
                .contains(&format!("is a plan for deployment {env}, not {other}")),
            "{}",
            wrong.stderr
        );
    }
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "ftctl-plan");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["deployment"], env.as_str());
    assert_eq!(doc["stack"]["name"], "stage1");
    assert_eq!(doc["stack"]["files"][0], "stacks/stage1.toml");
    assert_eq!(doc["region"], "us-east-1");
    assert!(doc["vars"]
        .as_array()
        .unwrap()
        .contains(&Value::from("tiers.web.max_size=8")));
    assert_eq!(doc["desired"].as_array().unwrap().len(), 58);
    assert_eq!(doc["changes"].as_array().unwrap().len(), 58);
    assert_eq!(doc["observed"]["resources"].as_array().unwrap().len(), 0);
    assert_eq!(
        web_max_size(&aws, &env).await,
        None,
        "plan created something"
    );

    // Applied without --var and without --yes: the saved plan is what was reviewed.
    let run = ftctl(&["apply", first]).ok();
    assert!(
        run.stdout
            .contains(&format!("Applying the plan saved in {first}")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("58 added"), "{}", run.stdout);
    assert_eq!(web_max_size(&aws, &env).await, Some(8));

    // A saved plan is good once: the deployment it was planned against is gone.
    let run = ftctl(&["apply", first])
        .failure(1)
        .stderr_has("changed since the plan was made");
    assert!(
        run.stderr
            .contains(&format!("db.main (rds db instance {env}-main): new")),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("Creating"),
        "the refused plan started work:\n{}",
        run.stdout
    );

    // Planned, then changed by hand before the apply: refused, nothing changed.
    let second = dir.path().join("second.json");
    let second = second.to_str().unwrap();
    let run = ftctl(&[
        "plan",
        "stage1",
        "--env",
        &env,
        "--var",
        "tiers.web.max_size=7",
        "--out",
        second,
    ])
    .ok();
    assert!(run.stdout.contains("max_size = 8 -> 7"), "{}", run.stdout);
    set_web_max_size(&aws, &env, 9).await;
    let run = ftctl(&["apply", second]).failure(1);
    assert!(
        run.stderr.contains(&format!(
            "tier.web.asg (autoscaling group {env}-web): max_size changed"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Nothing was changed"), "{}", run.stderr);
    assert!(
        run.stderr.contains("--var tiers.web.max_size=7 --out"),
        "the hint repeats the plan's settings:\n{}",
        run.stderr
    );
    assert_eq!(web_max_size(&aws, &env).await, Some(9));

    // A plan of the deployment as it is now applies, with exactly its one change.
    let third = dir.path().join("third.json");
    let third = third.to_str().unwrap();
    ftctl(&[
        "plan",
        "stage1",
        "--env",
        &env,
        "--var",
        "tiers.web.max_size=7",
        "--out",
        third,
    ])
    .ok();
    // A plan file whose resources were edited is not the plan that was reviewed.
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(third).unwrap()).unwrap();
    let asg = doc["desired"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["id"] == "tier.web.asg")
        .unwrap();
    asg["props"]["max_size"] = serde_json::json!({ "int": 3 });
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_string(&doc).unwrap()).unwrap();
    let run = ftctl(&["apply", edited.to_str().unwrap()]).failure(1);
    assert!(
        run.stderr
            .contains("differs from the plan saved in it (was the file edited?"),
        "{}",
        run.stderr
    );
    assert_eq!(web_max_size(&aws, &env).await, Some(9));

    let run = ftctl(&["apply", third]).ok();
    assert!(run.stdout.contains("max_size = 9 -> 7"), "{}", run.stdout);
    assert!(run.stdout.contains("0 added, 1 changed"), "{}", run.stdout);
    assert_eq!(web_max_size(&aws, &env).await, Some(7));

    destroy_leaving_nothing(&aws, &env).await;
    deployment.destroyed();
}

#[test]
fn broken_plan_files_are_refused_before_any_aws_call() {
    let no_aws = NoAws::new();
    let endpoints = no_aws.env();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("garbage.json", "this is not { json", "not JSON"),
        (
            "terraform.json",
            r#"{"format_version": "1.2", "terraform_version": "1.9.0"}"#,
            "not an ftctl plan file",
        ),
        (
            "future.json",
            r#"{"format": "ftctl-plan", "version": 7}"#,
            "version 7 is not supported",
        ),
        (
            "truncated.json",
            r#"{"format": "ftctl-plan", "version": 1, "deployment": "x"}"#,
            "missing field",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap();
        let run = ftctl_with(&["apply", path], &endpoints);
        assert_eq!(run.code, 1, "{name}: {}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(path), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{name}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    let missing = dir.path().join("missing.json");
    ftctl_with(&["apply", missing.to_str().unwrap()], &endpoints)
        .failure(1)
        .stderr_has("no such plan file");

    // A saved plan is applied as it is: no --var.
    let path = dir.path().join("garbage.json");
    ftctl_with(
        &[
            "apply",
            path.to_str().unwrap(),
            "--var",
            "tiers.web.max_size=3",
        ],
        &endpoints,
    )
    .failure(1)
    .stderr_has("--var cannot change it");

    // --out where nothing can be written fails before planning.
    let nowhere = dir.path().join("no/such/dir/plan.json");
    ftctl_with(
        &["plan", "stage1", "--out", nowhere.to_str().unwrap()],
        &endpoints,
    )
    .failure(1)
    .stderr_has("does not exist");
    no_aws.assert_untouched();
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_only_reports_drift_and_proposes_nothing() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("dr");
    let env = deployment.created().to_string();
    let aws = aws().await;
    ftctl(&["apply", "stage1", "--env", &env, "--yes"]).ok();

    ftctl(&[
        "plan",
        "stage1",
        "--env",
        &env,
        "--refresh-only",
        "--detailed-exitcode",
    ])
    .success()
    .stdout_has("No drift");

    // Someone changes a group by hand: the plan would change it back...
    set_web_max_size(&aws, &env, 9).await;
    assert_eq!(
        plan_changes("stage1", &env, &[]),
        vec![("tier.web.asg".to_string(), "update".to_string())]
    );
    // ...the drift report names it, attribute by attribute, and proposes nothing.
    let run = ftctl(&[
        "plan",
        "stage1",
        "--env",
        &env,
        "--refresh-only",
        "--detailed-exitcode",
    ])
    .failure(2)
    .stdout_has("Drift: 1 resource differs")
    .stdout_has("~ tier.web.asg")
    .stdout_has("max_size  live 9, stack 6");
    assert!(!run.stdout.contains("Plan:"), "{}", run.stdout);
    // Without --detailed-exitcode, drift is a successful report.
    let run = ftctl(&["plan", "stage1", "--env", &env, "--refresh-only", "--json"]).ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["refresh_only"], true);
    assert_eq!(doc["matching"], 57);
    let drift = doc["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{}", run.stdout);
    assert_eq!(drift[0]["id"], "tier.web.asg");
    assert_eq!(drift[0]["status"], "changed");
    assert_eq!(
        drift[0]["attributes"],
        serde_json::json!([{ "name": "max_size", "live": 9, "stack": 6 }])
    );
    // `check --live` reads the same drift.
    let run = ftctl(&["check", "stage1", "--live", "--env", &env, "--json"]);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["control"] == "ftctl.drift"
            && f["resource"] == "tier.web.asg"
            && f["finding"] == "differs from the stack: max_size"));
    assert_eq!(
        web_max_size(&aws, &env).await,
        Some(9),
        "refresh-only changed it"
    );

    destroy_leaving_nothing(&aws, &env).await;
    deployment.destroyed();
}
