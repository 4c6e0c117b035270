//! Evidence tied to the configuration (issue 18) against the emulators: the evidence bucket
//! `apply` makes and records into, the evidence a passing and a failing run write, read back by
//! `status`; a plan that changes something in a proven blast radius naming the proof and one
//! that changes something outside it not; `destroy` keeping the evidence unless asked; and
//! `ftctl verify` game days over stage 1 and stage 3 with one failure mode made to fail, their
//! report, exit code and score checked against their JSON, and one mailed through SES.

use crate::chaos::Deployed;
use crate::support::*;
use serde_json::Value;
use std::path::Path;

/// The deployment's evidence bucket, found by its name's start (the account id and region
/// follow) and its tag.
async fn evidence_bucket(aws: &Aws, env: &str) -> Option<String> {
    let prefix = format!("{env}-evidence-");
    let listed = aws.s3.list_buckets().send().await.unwrap();
    let name = listed
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .find(|n| n.starts_with(&prefix))?
        .to_string();
    let tags = aws
        .s3
        .get_bucket_tagging()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_set()
            .iter()
            .any(|t| t.key() == "ftctl:evidence-of" && t.value() == env),
        "{name} is tagged as {env}'s evidence: {:?}",
        tags.tag_set()
    );
    Some(name)
}

/// The evidence bucket's protections: versioning on, SSE-KMS, a policy refusing plain HTTP.
async fn assert_protected(aws: &Aws, bucket: &str) {
    let versioning = aws
        .s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    let encryption = aws
        .s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "aws:kms"
    );
    let policy = aws
        .s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert!(
        policy
            .policy()
            .unwrap_or_default()
            .contains("DenyInsecureTransport"),
        "{policy:?}"
    );
}

async fn object(aws: &Aws, bucket: &str, key: &str) -> Option<Value> {
    let out = aws
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.unwrap().into_bytes();
    Some(serde_json::from_slice(&bytes).unwrap())
}

async fn evidence_keys(aws: &Aws, bucket: &str) -> Vec<String> {
    let listed = aws
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("evidence/")
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

fn status_json(env: &str) -> Value {
    let run = ftctl(&["status", "--env", env, "--json"]).success();
    serde_json::from_str(&run.stdout).unwrap()
}

/// The standing of one failure mode in `status --json` or `verify.json`.
fn mode<'a>(modes: &'a Value, name: &str) -> &'a Value {
    modes
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["failure_mode"] == name)
        .unwrap_or_else(|| panic!("no failure mode {name} in {modes}"))
}

/// The score by its definition, from the standings alone.
fn score_by_hand(modes: &Value) -> f64 {
    let (mut proven, mut total) = (0usize, 0usize);
    for m in modes.as_array().unwrap() {
        let r = m["radius"].as_array().unwrap().len();
        total += r;
        if m["standing"] == "proven" {
            proven += r;
        }
    }
    proven as f64 / total as f64
}

fn kill_instance(env: &str, tier: &str, dir: &Path) -> Run {
    ftctl(&[
        "chaos",
        "kill-instance",
        "--env",
        env,
        "--group",
        tier,
        "--interval",
        "0.2",
        "--settle",
        "1",
        "--report-dir",
        dir.to_str().unwrap(),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_leave_evidence_that_status_reads_plans_invalidate_and_destroy_keeps() {
    let _emulators = emulators().await;
    // The app tier must recover within 1 s: on the emulators a replacement takes about 3 s,
    // so its kill-instance fails on the objective while the web tier's passes.
    let d = Deployed::of("stage1", "ev", &["objectives.tiers.app.rto_seconds=1"]);
    let aws = aws().await;
    let bucket = evidence_bucket(&aws, &d.env)
        .await
        .expect("apply made the evidence bucket");
    assert_protected(&aws, &bucket).await;
    let applied = object(&aws, &bucket, "applied.json")
        .await
        .expect("applied.json");
    assert_eq!(applied["complete"], true);
    assert_eq!(applied["stack"], "stage1");
    assert!(applied["resources"]["tier.web.asg"]["hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(
        applied["component_objectives"]["tier.app.asg"]["rto_seconds"],
        1.0
    );

    // A passing and a failing run, each with its evidence.
    let reports = tempfile::tempdir().unwrap();
    kill_instance(&d.env, "web", &reports.path().join("web"))
        .success()
        .stdout_has("Evidence: s3://");
    calm_alarms(&aws, &d.env).await;
    let failing = kill_instance(&d.env, "app", &reports.path().join("app")).failure(1);
    assert!(
        failing.stdout.contains("the stack's objective rto_seconds"),
        "{}",
        failing.stdout
    );
    let keys = evidence_keys(&aws, &bucket).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let app_key = keys
        .iter()
        .find(|k| k.starts_with("evidence/kill-instance/app/"))
        .unwrap();
    let app = object(&aws, &bucket, app_key).await.unwrap();
    assert_eq!(app["passed"], false);
    assert_eq!(app["budget_seconds"], 1.0);
    assert_eq!(app["objective"]["rto_seconds"], 1.0);

    // status shows each derived failure mode's standing and the score.
    let status = status_json(&d.env);
    let modes = &status["resilience"]["failure_modes"];
    let web = mode(modes, "kill-instance web");
    assert_eq!(web["standing"], "proven", "{web}");
    assert_eq!(web["evidence"]["outcome"], "recovered");
    assert!(web["radius"]
        .as_array()
        .unwrap()
        .contains(&Value::from("tier.web.asg")));
    assert_eq!(mode(modes, "kill-instance app")["standing"], "failed");
    assert_eq!(mode(modes, "rds-failover main")["standing"], "missing");
    let score = status["resilience"]["score"].as_f64().unwrap();
    assert!(score > 0.0 && score < 1.0, "{score}");
    assert!((score - score_by_hand(modes)).abs() < 1e-9);
    ftctl(&["status", "--env", &d.env])
        .success()
        .stdout_has("Resilience (evidence in s3://")
        .stdout_has("kill-instance web");

    // A change in the web tier's radius names its proof; one in the app tier's does not (the
    // app's only proof failed: nothing to invalidate).
    let inside = Ftctl::new()
        .args(["plan", "stage1", "--env", &d.env])
        .var("objectives.tiers.app.rto_seconds=1")
        .var("tiers.web.max_size=8")
        .run()
        .success()
        .stdout_has("This change invalidates 1 passing proof")
        .stdout_has("kill-instance web (passed ");
    assert!(inside.stdout.contains("tier.web.asg in its blast radius"));
    let json = Ftctl::new()
        .args(["plan", "stage1", "--env", &d.env, "--json"])
        .var("objectives.tiers.app.rto_seconds=1")
        .var("tiers.web.max_size=8")
        .run()
        .success();
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["invalidated_proofs"][0]["failure_mode"],
        "kill-instance web"
    );
    assert_eq!(
        doc["invalidated_proofs"][0]["changed"],
        serde_json::json!(["tier.web.asg"])
    );
    let outside = Ftctl::new()
        .args(["plan", "stage1", "--env", &d.env])
        .var("objectives.tiers.app.rto_seconds=1")
        .var("tiers.app.max_size=8")
        .run()
        .success()
        .stdout_has("1 to change");
    assert!(
        !outside.stdout.contains("invalidates"),
        "{}",
        outside.stdout
    );

    // Applied, the change makes the web tier's proof stale.
    Ftctl::new()
        .args(["apply", "stage1", "--env", &d.env, "--yes"])
        .var("objectives.tiers.app.rto_seconds=1")
        .var("tiers.web.max_size=8")
        .run()
        .success()
        .stdout_has("This change invalidates 1 passing proof");
    let status = status_json(&d.env);
    let web = mode(&status["resilience"]["failure_modes"], "kill-instance web");
    assert_eq!(web["standing"], "stale", "{web}");
    assert_eq!(web["changed"], serde_json::json!(["tier.web.asg"]));

    // destroy keeps the evidence (not the applied configuration) unless asked.
    let destroy = |more: &[&str]| {
        let mut args = vec![
            "destroy",
            "--env",
            &d.env,
            "--yes",
            "--disable-deletion-protection",
            "--skip-final-snapshot",
        ];
        args.extend(more);
        ftctl(&args).success()
    };
    destroy(&[]).stdout_has("stays in s3://");
    assert_eq!(evidence_bucket(&aws, &d.env).await, Some(bucket.clone()));
    assert!(object(&aws, &bucket, "applied.json").await.is_none());
    assert_eq!(evidence_keys(&aws, &bucket).await.len(), 2);
    assert_eq!(
        leftovers(&aws, &d.env).await,
        vec![format!("bucket {bucket}")]
    );
    destroy(&["--delete-evidence"]).stdout_has("Deleted the evidence bucket");
    assert_eq!(evidence_bucket(&aws, &d.env).await, None);
    assert_eq!(leftovers(&aws, &d.env).await, Vec::<String>::new());
}

/// `ftctl verify --only kill-instance` on stage 1, the app tier held to 1 s: the first failure
/// stops the game day; `--keep-going` runs both; `--stale` then runs only the failed one.
#[tokio::test(flavor = "multi_thread")]
async fn verify_runs_a_game_day_on_stage1_and_scores_it() {
    let _emulators = emulators().await;
    let d = Deployed::of("stage1", "vf", &["objectives.tiers.app.rto_seconds=1"]);
    let aws = aws().await;
    let reports = tempfile::tempdir().unwrap();
    let verify = |dir: &str, more: &[&str]| -> (Run, Value, String) {
        let path = reports.path().join(dir);
        let mut args = vec![
            "verify",
            "--env",
            &d.env,
            "--only",
            "kill-instance",
            "--interval",
            "0.2",
            "--settle",
            "1",
            "--report-dir",
            path.to_str().unwrap(),
        ];
        args.extend(more);
        let run = ftctl(&args);
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(path.join("verify.json")).unwrap())
                .unwrap();
        let md = std::fs::read_to_string(path.join("verify.md")).unwrap();
        (run, json, md)
    };

    // The app tier comes first and fails: the web tier is not run.
    let (run, day, _) = verify("first", &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let runs = day["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{day}");
    assert_eq!(runs[0]["failure_mode"], "kill-instance app");
    assert_eq!(runs[0]["evidence"]["passed"], false);
    assert_eq!(runs[1]["state"], "not-run");

    calm_alarms(&aws, &d.env).await;
    let (run, day, md) = verify("both", &["--keep-going"]);
    assert_eq!(run.code, 1);
    assert_eq!(day["passed"], false);
    let web = &day["runs"][1];
    assert_eq!(web["failure_mode"], "kill-instance web");
    assert_eq!(web["state"], "ran");
    assert_eq!(web["evidence"]["passed"], true);
    assert!(reports
        .path()
        .join("both")
        .join(web["timeline"].as_str().unwrap())
        .is_file());
    let score = day["score"].as_f64().unwrap();
    assert!((score - score_by_hand(&day["standings"])).abs() < 1e-9);
    assert!(score > 0.0, "the web tier is proven");
    assert_eq!(
        mode(&day["standings"], "kill-instance web")["standing"],
        "proven"
    );
    assert!(
        md.contains(&format!("## Resilience score: {score:.2}")),
        "{md}"
    );
    assert!(md.contains("### kill-instance app"));
    assert!(md.contains("| time to recover | not recovered"), "{md}");
    assert!(md.contains("| MISSED |"), "{md}");

    // Only what lacks valid passing evidence: the app tier; the report mailed through SES
    // from an identity it has verified.
    calm_alarms(&aws, &d.env).await;
    let from = format!("ftctl-{}@example.com", d.env);
    let to = format!("oncall-{}@example.com", d.env);
    aws.sesv2
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();
    let (run, day, _) = verify(
        "stale",
        &["--stale", "--mail-to", &to, "--mail-from", &from],
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("Mailed the report"), "{}", run.stdout);
    let mail: Vec<Value> = sent_mail()
        .into_iter()
        .filter(|m| m["To"] == serde_json::json!([to]))
        .collect();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["Source"], from.as_str());
    let subject = mail[0]["Subject"].as_str().unwrap();
    assert!(
        subject.contains("FAILED") && subject.contains(&d.env),
        "{subject}"
    );
    assert!(mail[0]["BodyHtml"]
        .as_str()
        .unwrap()
        .contains("<td>kill-instance app</td>"));
    let modes: Vec<&str> = day["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["failure_mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, vec!["kill-instance app"]);

    // A mode the deployment does not have is refused before anything runs, as is an address
    // that is not one.
    ftctl(&["verify", "--env", &d.env, "--only", "kill-task"])
        .failure(2)
        .stderr_has("names no failure mode");
    ftctl(&[
        "verify",
        "--env",
        &d.env,
        "--mail-to",
        "oncall",
        "--mail-from",
        &from,
    ])
    .failure(2)
    .stderr_has("`oncall` is not an e-mail address");
    ftctl(&["verify", "--env", &d.env, "--mail-to", &to])
        .failure(2)
        .stderr_has("--mail-from");
}

/// A stage-3 game day: the ECS service held to 3 s cannot heal on the emulators (ministack
/// never replaces a stopped task), so kill-task fails while both kill-instance modes pass.
#[tokio::test(flavor = "multi_thread")]
async fn verify_runs_a_game_day_on_stage3_with_one_mode_failing() {
    let _emulators = emulators().await;
    let d = Deployed::of("stage3", "v3", &["objectives.services.api.rto_seconds=3"]);
    let reports = tempfile::tempdir().unwrap();
    let run = ftctl(&[
        "verify",
        "--env",
        &d.env,
        "--only",
        "kill-instance",
        "--only",
        "kill-task",
        "--keep-going",
        "--interval",
        "0.2",
        "--settle",
        "1",
        "--json",
        "--report-dir",
        reports.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let day: Value = serde_json::from_str(&run.stdout).unwrap();
    let outcome: Vec<(String, bool)> = day["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["failure_mode"].as_str().unwrap().to_string(),
                r["evidence"]["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcome,
        vec![
            ("kill-instance app".to_string(), true),
            ("kill-instance web".to_string(), true),
            ("kill-task api".to_string(), false),
        ]
    );
    let standings = &day["standings"];
    assert_eq!(mode(standings, "kill-task api")["standing"], "failed");
    assert_eq!(
        mode(standings, "cache-failover session")["standing"],
        "missing"
    );
    assert_eq!(
        mode(standings, "pause-replication orders")["standing"],
        "missing"
    );
    let score = day["score"].as_f64().unwrap();
    assert!((score - score_by_hand(standings)).abs() < 1e-9);
    assert!(std::fs::read_to_string(reports.path().join("verify.md"))
        .unwrap()
        .contains("### kill-task api"));
}

/// A policy document as IAM returns it (URL-encoded), decoded as ftctl decodes it.
fn decoded(doc: &str) -> String {
    ftctl::aws::iam::role::decode_policy(doc)
        .expect("a JSON policy document")
        .to_string()
}

/// The deployment's scheduled templates in the emulator (tagged `ftctl:game-day`), by mode.
async fn scheduled_templates(aws: &Aws, env: &str) -> Vec<(String, String)> {
    let listed = aws.fis.list_experiment_templates().send().await.unwrap();
    let mut out: Vec<(String, String)> = listed
        .experiment_templates()
        .iter()
        .filter(|t| {
            t.tags()
                .and_then(|m| m.get("ftctl:game-day"))
                .map(String::as_str)
                == Some(env)
        })
        .map(|t| {
            let mode = t
                .tags()
                .and_then(|m| m.get("ftctl:failure-mode"))
                .cloned()
                .unwrap_or_default();
            (mode, t.id().unwrap_or_default().to_string())
        })
        .collect();
    out.sort();
    out
}

async fn experiment_status(aws: &Aws, id: &str) -> String {
    let got = aws.fis.get_experiment().id(id).send().await.unwrap();
    let state = got.experiment().and_then(|x| x.state()).unwrap();
    state
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// `verify --schedule` makes templates, roles and schedules the emulators then hold; the
/// experiments FIS ran are collected into evidence that status reads; `--unschedule` and
/// `destroy` remove what was made. moto runs the FIS experiments (changing nothing: its FIS
/// resolves no targets), ministack the schedules and roles.
#[tokio::test(flavor = "multi_thread")]
async fn verify_schedules_game_days_in_aws_collects_them_and_unschedules() {
    let _emulators = emulators().await;
    let d = Deployed::of("stage1", "gd", &[]);
    let aws = aws().await;
    // Checked before any call: a bad expression makes nothing.
    ftctl(&["verify", "--env", &d.env, "--schedule", "every week"])
        .failure(2)
        .stderr_has("is not a schedule expression");
    let run = ftctl(&[
        "verify",
        "--env",
        &d.env,
        "--schedule",
        "rate(7 days)",
        "--only",
        "kill-instance",
        "--stagger",
        "1800",
        "--yes",
    ])
    .success();
    assert!(run.stdout.contains("kill-instance web"), "{}", run.stdout);
    let templates = scheduled_templates(&aws, &d.env).await;
    let modes: Vec<&str> = templates.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(modes, vec!["kill-instance app", "kill-instance web"]);
    let (fis_role, scheduler_role) = (
        format!("{}-fis-us-east-1", d.env),
        format!("{}-game-days-us-east-1", d.env),
    );
    let web_template = aws
        .fis
        .get_experiment_template()
        .id(&templates[1].1)
        .send()
        .await
        .unwrap();
    let t = web_template.experiment_template().unwrap();
    assert!(t.role_arn().unwrap().ends_with(&format!("/{fis_role}")));
    let actions: Vec<&str> = t
        .actions()
        .unwrap()
        .values()
        .filter_map(|a| a.action_id())
        .collect();
    assert_eq!(actions, vec!["aws:ec2:terminate-instances"]);
    // The FIS role may do what the templates do and nothing more.
    let policy = aws
        .iam
        .get_role_policy()
        .role_name(&fis_role)
        .policy_name("ftctl")
        .send()
        .await
        .unwrap();
    let doc = decoded(policy.policy_document());
    assert!(doc.contains("ec2:TerminateInstances"), "{doc}");
    assert!(!doc.contains("rds:") && !doc.contains("ecs:"), "{doc}");
    let trust = aws
        .iam
        .get_role()
        .role_name(&scheduler_role)
        .send()
        .await
        .unwrap();
    let trust = decoded(trust.role().unwrap().assume_role_policy_document().unwrap());
    assert!(trust.contains("scheduler.amazonaws.com"), "{trust}");
    let group = format!("{}-game-days", d.env);
    let schedules = aws
        .scheduler
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(schedules.schedules().len(), 2);
    let web_schedule = aws
        .scheduler
        .get_schedule()
        .group_name(&group)
        .name("ftctl-kill-instance_web")
        .send()
        .await
        .unwrap();
    assert_eq!(web_schedule.schedule_expression(), Some("rate(7 days)"));
    let target = web_schedule.target().unwrap();
    assert!(target.arn().ends_with(":aws-sdk:fis:startExperiment"));
    assert!(target.role_arn().ends_with(&format!("/{scheduler_role}")));
    assert!(target.input().unwrap().contains(&templates[1].1));

    // FIS runs them (here started by the test, as the schedule would): the web tier's to its
    // end, the app tier's stopped; --collect reads both back, once.
    // The client token is FIS's idempotency key: a token an earlier run used (emulators are
    // reused between runs) would give back that run's experiment of another template.
    let start = |id: String, token: &'static str| {
        let fis = aws.fis.clone();
        let token = format!("{}-{token}", d.env);
        async move {
            let out = fis
                .start_experiment()
                .experiment_template_id(id)
                .client_token(token)
                .send()
                .await
                .unwrap();
            out.experiment().unwrap().id().unwrap().to_string()
        }
    };
    let web_run = start(templates[1].1.clone(), "web").await;
    let app_run = start(templates[0].1.clone(), "app").await;
    aws.fis.stop_experiment().id(&app_run).send().await.unwrap();
    for id in [&web_run, &app_run] {
        until(100, || async {
            matches!(
                experiment_status(&aws, id).await.as_str(),
                "completed" | "stopped"
            )
            .then_some(())
        })
        .await
        .expect("the experiment ends");
    }
    ftctl(&["verify", "--env", &d.env, "--collect"])
        .success()
        .stdout_has("(2 new)");
    ftctl(&["verify", "--env", &d.env, "--collect"])
        .success()
        .stdout_has("(0 new)");
    let status = status_json(&d.env);
    let modes = &status["resilience"]["failure_modes"];
    let web = mode(modes, "kill-instance web");
    assert_eq!(web["standing"], "proven", "{web}");
    assert_eq!(web["evidence"]["source"], "fis");
    assert_eq!(mode(modes, "kill-instance app")["standing"], "failed");

    ftctl(&["verify", "--env", &d.env, "--unschedule"])
        .success()
        .stdout_has("Removed schedule group");
    assert!(scheduled_templates(&aws, &d.env).await.is_empty());
    assert!(aws
        .iam
        .get_role()
        .role_name(&fis_role)
        .send()
        .await
        .is_err());
    assert!(aws
        .scheduler
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .map(|s| s.schedules().is_empty())
        .unwrap_or(true));
    // Scheduled again, then destroyed: the deployment takes its game days with it.
    ftctl(&[
        "verify",
        "--env",
        &d.env,
        "--schedule",
        "rate(1 day)",
        "--only",
        "kill-instance web",
        "--yes",
    ])
    .success();
    assert_eq!(scheduled_templates(&aws, &d.env).await.len(), 1);
    d.destroy()
        .run()
        .success()
        .stdout_has("Removed the scheduled game days' FIS experiment template");
    assert!(scheduled_templates(&aws, &d.env).await.is_empty());
    assert!(aws
        .iam
        .get_role()
        .role_name(&scheduler_role)
        .send()
        .await
        .is_err());
}

/// A run stopped between making the evidence bucket and marking it (CreateBucket done, its
/// `ftctl:evidence-of` tag not yet) leaves an untagged bucket of the deployment's name: the next
/// apply finishes it (protections first, the mark last) instead of refusing it. A bucket of that
/// name carrying anyone else's tags is still refused, before anything is changed.
#[tokio::test(flavor = "multi_thread")]
async fn an_evidence_bucket_left_unmarked_is_finished_and_a_foreign_one_refused() {
    use aws_sdk_s3::types::{Tag, Tagging};
    let _emulators = emulators().await;
    let aws = aws().await;
    // Destroyed (with its evidence) on drop, also when an assertion fails.
    let mut d = TestDeployment::new("eb");
    let env = d.created().to_string();
    let bucket = format!("{env}-evidence-000000000000-us-east-1");
    aws.s3.create_bucket().bucket(&bucket).send().await.unwrap();

    // Someone else's bucket under that name: refused, and nothing made.
    aws.s3
        .put_bucket_tagging()
        .bucket(&bucket)
        .tagging(
            Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key("owner")
                        .value("someone-else")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // ftctl apply stage1 --env eb… --yes
    let refused = ftctl(&["apply", "stage1", "--env", &env, "--yes"]);
    // Untagged from here: what an interrupted run leaves.
    aws.s3
        .delete_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("is not tagged ftctl:evidence-of={env}")),
        "{}",
        refused.stderr
    );
    // (the bucket the test made is all there is)
    assert_eq!(
        leftovers(&aws, &env).await,
        vec![format!("bucket {bucket}")]
    );

    // ftctl apply stage1 --env eb… --yes
    ftctl(&["apply", "stage1", "--env", &env, "--yes"]).success();
    assert_eq!(evidence_bucket(&aws, &env).await, Some(bucket.clone()));
    assert_protected(&aws, &bucket).await;
    assert!(
        object(&aws, &bucket, "applied.json").await.is_some(),
        "the apply recorded into it"
    );
}
