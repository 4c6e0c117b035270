//! `ftctl chaos` against the local emulators, on a deployed stage 1: runs where the groups heal
//! (exit 0), a run where they cannot within the budget (exit 1) that still rolls back, dry runs
//! that change nothing, an instance outside the deployment that is never touched, and a stop
//! condition that aborts.
//!
//! The emulator layer (localstack/moto_patches) models the AWS behaviour these runs depend on:
//! a group notices a member terminated or stopped outside it, replaces it after a short delay
//! (FTCTL_ASG_REPLACE_SECONDS, 2 s) and registers the replacement with its target groups, where
//! it is `initial` before `healthy`; a cache fails over with TestFailover. The tests play no AWS
//! step themselves. What is still not modelled: RDS failover is accepted but nothing moves, so
//! only the action and the status are checked.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A deployment applied for the test, destroyed when the test ends, however it ends.
pub(crate) struct Deployed {
    pub(crate) env: String,
    _destroyed: TestDeployment,
}

impl Deployed {
    pub(crate) fn new(tag: &str) -> Deployed {
        Deployed::of("stage1", tag, &[])
    }

    pub(crate) fn of(stage: &str, tag: &str, vars: &[&str]) -> Deployed {
        let mut deployment = TestDeployment::new(tag);
        let env = deployment.created().to_string();
        let mut apply = Ftctl::new().args(["apply", stage, "--env", &env, "--yes"]);
        for v in vars {
            apply = apply.var(v);
        }
        apply.run().success();
        Deployed {
            env,
            _destroyed: deployment,
        }
    }

    /// The destroy its drop runs (run again on drop: by then it finds nothing).
    pub(crate) fn destroy(&self) -> Ftctl {
        self._destroyed.destroy()
    }

    pub(crate) fn group(&self, tier: &str) -> String {
        format!("{}-{tier}", self.env)
    }
}

/// Starts ftctl in the background (no terminal), so the test can act while it runs.
pub(crate) fn spawn_ftctl(args: &[&str]) -> (String, std::process::Child) {
    Ftctl::new().args(args).spawn()
}

pub(crate) fn journal(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("journal.json")).expect("journal.json written");
    serde_json::from_str(&text).expect("journal is JSON")
}

/// Subnet list of each group.
async fn zone_lists(aws: &Aws, groups: &[String]) -> BTreeMap<String, String> {
    let out = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(groups.to_vec()))
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()
        .iter()
        .map(|g| {
            (
                g.auto_scaling_group_name().unwrap().to_string(),
                g.vpc_zone_identifier().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Subnet id -> the network ACL it is on, for every subnet of the deployment's VPC.
async fn subnet_acls(aws: &Aws, env: &str) -> BTreeMap<String, String> {
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:ftctl:deployment")
                .values(env)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    let acls = aws
        .ec2
        .describe_network_acls()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("association.subnet-id")
                .set_values(Some(ids.clone()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut on = BTreeMap::new();
    for acl in acls.network_acls() {
        for a in acl.associations() {
            let subnet = a.subnet_id().unwrap_or_default().to_string();
            if ids.contains(&subnet) {
                on.insert(subnet, acl.network_acl_id().unwrap_or_default().to_string());
            }
        }
    }
    on
}

/// The deny-all ACLs kill-az made for the deployment: (id, its subnets, its entries' actions).
async fn isolating_acls(aws: &Aws, env: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    let out = aws
        .ec2
        .describe_network_acls()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:ftctl:chaos-isolates")
                .values(env)
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.network_acls()
        .iter()
        .map(|a| {
            (
                a.network_acl_id().unwrap_or_default().to_string(),
                a.associations()
                    .iter()
                    .filter_map(|x| x.subnet_id().map(str::to_string))
                    .collect(),
                a.entries()
                    .iter()
                    .map(|e| format!("{:?}", e.rule_action()))
                    .collect(),
            )
        })
        .collect()
}

/// Instance id -> (state, zone) for every instance of the deployment (terminated ones too).
pub(crate) async fn instance_states(aws: &Aws, env: &str) -> BTreeMap<String, (String, String)> {
    let out = aws
        .ec2
        .describe_instances()
        .filters(tag_filter(env))
        .send()
        .await
        .unwrap();
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            (
                i.instance_id().unwrap().to_string(),
                (
                    i.state().unwrap().name().unwrap().as_str().to_string(),
                    i.placement()
                        .and_then(|p| p.availability_zone())
                        .unwrap_or_default()
                        .to_string(),
                ),
            )
        })
        .collect()
}

pub(crate) async fn state_of(aws: &Aws, id: &str) -> String {
    let out = aws
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    out.reservations()[0].instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_string()
}

/// An EC2 instance in the deployment's first private subnet that carries none of its tags.
async fn stranger(aws: &Aws, env: &str) -> String {
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(tag_filter(env))
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:ftctl:logical-id")
                .values("network.private.0")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let subnet = subnets.subnets()[0].subnet_id().unwrap().to_string();
    let out = aws
        .ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet)
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

async fn terminate(aws: &Aws, id: &str) {
    aws.ec2
        .terminate_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_instance_heals_within_budget() {
    let _emulators = emulators().await;
    let d = Deployed::new("ki");
    let aws = aws().await;
    let reports = tempfile::tempdir().unwrap();
    let dir = reports.path().join("run");
    let before = instance_states(&aws, &d.env).await;

    let child = spawn_ftctl(&[
        "chaos",
        "kill-instance",
        "--env",
        &d.env,
        "--group",
        "web",
        "--interval",
        "0.2",
        "--settle",
        "1",
        "--budget",
        "30",
        "--publish-metrics",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    finish(child).await.success().stdout_has("RECOVERED");

    // Exactly one web instance was terminated, and it was one of the deployment's.
    let j = journal(&dir);
    assert_eq!(j["outcome"], "recovered");
    let killed: Vec<String> = j["design"]["actions"][0]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(killed.len(), 1);
    assert!(before.contains_key(&killed[0]));
    assert_eq!(state_of(&aws, &killed[0]).await, "terminated");
    let v = &j["verdict"];
    let detected = v["detected_after"].as_f64().expect("the fault was seen");
    let mttr = v["recovered_after"].as_f64().expect("an MTTR");
    assert!(mttr > detected, "recovered after detecting: {v}");
    assert_eq!(j["design"]["budget"]["source"], "--budget");
    assert!(j["probes"].as_array().unwrap().len() > 3);
    assert_eq!(healthy_targets(&aws, &d.group("web")).await, 2);

    // Report, timeline, and the metric for dashboards.
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Time to recover (MTTR)"), "{report}");
    let svg = std::fs::read_to_string(dir.join("timeline.svg")).unwrap();
    assert!(svg.contains("web serving") && svg.contains("recovered"));
    let metrics = aws
        .cloudwatch
        .list_metrics()
        .namespace("ftctl/Chaos")
        .metric_name("RecoverySeconds")
        .send()
        .await
        .unwrap();
    assert!(
        metrics.metrics().iter().any(|m| m
            .dimensions()
            .iter()
            .any(|dim| dim.value() == Some(d.env.as_str()))),
        "RecoverySeconds published for {}",
        d.env
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_az_rebuilds_in_the_surviving_zone_and_puts_zone_lists_back() {
    let _emulators = emulators().await;
    let d = Deployed::new("ka");
    let aws = aws().await;
    let groups = vec![d.group("app"), d.group("web")];
    let zones_before = zone_lists(&aws, &groups).await;
    let outsider = stranger(&aws, &d.env).await;
    let acls_before = subnet_acls(&aws, &d.env).await;
    let reports = tempfile::tempdir().unwrap();
    let dir = reports.path().join("az");

    let child = spawn_ftctl(&[
        "chaos",
        "kill-az",
        "--env",
        &d.env,
        "--interval",
        "0.2",
        "--settle",
        "1",
        "--budget",
        "30",
        "--duration",
        "6",
        "--json",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    // While the zone is lost, its subnets are on an ACL of ftctl's that denies everything.
    let mut isolated = None;
    for _ in 0..100 {
        let found = isolating_acls(&aws, &d.env).await;
        // Subnets are moved one by one: wait for stage 1's two (public and private) in the zone.
        if let Some(acl) = found.into_iter().find(|(_, subnets, _)| subnets.len() >= 2) {
            isolated = Some(acl);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = finish(child).await.success();
    let (_, cut_off, entries) = isolated.expect("a deny-all ACL held the zone's subnets");
    // No rule allows anything. (AWS lists the two catch-all denies, rule `*` in and out, on
    // every ACL; moto lists no entries on a new one. Either way nothing is allowed.)
    assert!(
        entries.iter().all(|e| e.contains("Deny")),
        "only denies: {entries:?}"
    );
    let j: Value = serde_json::from_str(&run.stdout).expect("--json prints the journal");
    assert_eq!(j["outcome"], "recovered");
    // moto starts every group instance in the first zone, so that is the busiest one, and the
    // report flags both tiers as not spread across zones.
    assert_eq!(j["design"]["zone"], "us-east-1a");
    let warnings = j["design"]["warnings"].to_string();
    assert!(warnings.contains("tier web is not spread"), "{warnings}");
    let kinds: Vec<&str> = j["design"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "isolate-subnets",
            "remove-zone",
            "remove-zone",
            "terminate-instances",
            "failover-database"
        ]
    );
    // The subnets cut off are exactly the deployment's subnets in the lost zone.
    let planned: Vec<String> = j["design"]["actions"][0]["subnets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut cut_off = cut_off;
    cut_off.sort();
    assert_eq!(cut_off, planned);

    // Capacity came back in the surviving zone while the lost one was out of the zone lists.
    let last_faulted = j["probes"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|p| p["at"].as_f64().unwrap() < j["fault_ended_at"].as_f64().unwrap())
        .unwrap();
    for tier in last_faulted["tiers"].as_array().unwrap() {
        assert_eq!(tier["serving_by_zone"]["us-east-1b"], 2, "{tier}");
        assert!(
            tier["serving_by_zone"].get("us-east-1a").is_none(),
            "{tier}"
        );
        assert_eq!(tier["subnets"].as_array().unwrap().len(), 1);
    }
    assert!(j["verdict"]["recovered_after"].as_f64().is_some());

    // Everything the experiment changed is back; the outsider in the lost zone was untouched.
    assert_eq!(zone_lists(&aws, &groups).await, zones_before);
    assert_eq!(subnet_acls(&aws, &d.env).await, acls_before);
    assert!(
        isolating_acls(&aws, &d.env).await.is_empty(),
        "the deny-all ACL is deleted"
    );
    assert!(
        run.stderr.contains("outside us-east-1a, at the end"),
        "{}",
        run.stderr
    );
    assert!(j["pending_undo"].as_array().unwrap().is_empty());
    assert_eq!(state_of(&aws, &outsider).await, "running");
    let events = j["events"].to_string();
    assert!(events.contains("reboot database"), "{events}");
    assert!(events.contains("restore group"), "{events}");
    terminate(&aws, &outsider).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn power_loss_that_cannot_heal_fails_and_still_rolls_back() {
    let _emulators = emulators().await;
    let d = Deployed::new("ps");
    let aws = aws().await;
    let groups = vec![d.group("app"), d.group("web")];
    let zones_before = zone_lists(&aws, &groups).await;
    let reports = tempfile::tempdir().unwrap();
    let dir = reports.path().join("stop");

    // The groups replace the stopped instances after their health check (2 s on the
    // emulator, minutes on AWS) and the replacements serve a second later: a budget of half a
    // second cannot be met.
    ftctl(&[
        "chaos",
        "kill-az",
        "--env",
        &d.env,
        "--mode",
        "stop",
        "--interval",
        "0.2",
        "--settle",
        "0.5",
        "--budget",
        "0.5",
        "--after-timeout",
        "2",
        "--report-dir",
        dir.to_str().unwrap(),
    ])
    .failure(1)
    .stdout_has("NOT RECOVERED");
    let j = journal(&dir);
    assert_eq!(j["outcome"], "not-recovered");
    assert!(j["verdict"]["recovered_after"].is_null());
    assert!(j["verdict"]["detected_after"].as_f64().is_some());

    // Rolled back: each stopped instance runs again, or (as AWS does with a stopped member)
    // its group has replaced it; the zone lists are as they were.
    let stopped: Vec<String> = j["design"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "stop-instances")
        .expect("a stop action")["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(stopped.len(), 4);
    for id in &stopped {
        let state = state_of(&aws, id).await;
        assert!(
            state == "running" || state == "terminated",
            "{id} is {state}: neither started again nor replaced"
        );
    }
    assert_eq!(zone_lists(&aws, &groups).await, zones_before);
    assert!(j["pending_undo"].as_array().unwrap().is_empty());
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("**NOT RECOVERED**"), "{report}");
    assert!(report.contains("| rollback |"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_and_refusals_change_nothing() {
    let _emulators = emulators().await;
    let d = Deployed::new("dr");
    let aws = aws().await;
    let groups = vec![d.group("app"), d.group("web")];
    let outsider = stranger(&aws, &d.env).await;
    let instances_before = instance_states(&aws, &d.env).await;
    let zones_before = zone_lists(&aws, &groups).await;

    let run = ftctl(&["chaos", "list", "--env", &d.env]).ok();
    for line in [
        "kill-instance",
        "kill-az",
        "rds-failover",
        "us-east-1b",
        "300 s",
    ] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }

    let run = ftctl(&["chaos", "kill-az", "--env", &d.env, "--dry-run"]).success();
    assert!(run.stdout.contains("Dry run: nothing was changed"));
    assert!(run.stdout.contains("terminate i-"), "{}", run.stdout);
    assert!(
        !run.stdout.contains(&outsider),
        "an untagged instance is never a target: {}",
        run.stdout
    );
    ftctl(&[
        "chaos",
        "kill-instance",
        "--env",
        &d.env,
        "--percent",
        "100",
        "--dry-run",
    ])
    .success();

    // Refusals: an instance that is not the deployment's, a whole group without --percent 100,
    // a stop condition that does not exist, an unknown zone.
    ftctl(&[
        "chaos",
        "kill-instance",
        "--env",
        &d.env,
        "--instance",
        &outsider,
    ])
    .failure(2)
    .stderr_has("not an instance of deployment");
    ftctl(&[
        "chaos",
        "kill-instance",
        "--env",
        &d.env,
        "--group",
        "web",
        "--count",
        "2",
    ])
    .failure(2)
    .stderr_has("--percent 100");
    ftctl(&[
        "chaos",
        "kill-az",
        "--env",
        &d.env,
        "--stop-on",
        "no-such-alarm",
    ])
    .failure(2)
    .stderr_has("no alarm named no-such-alarm");
    ftctl(&["chaos", "kill-az", "--env", &d.env, "--az", "us-west-2a"])
        .failure(2)
        .stderr_has("does not use that zone");
    ftctl(&["chaos", "kill-az", "--env", "nobody-here"])
        .failure(2)
        .stderr_has("nothing to experiment on");

    assert_eq!(instance_states(&aws, &d.env).await, instances_before);
    assert_eq!(zone_lists(&aws, &groups).await, zones_before);
    assert_eq!(state_of(&aws, &outsider).await, "running");

    // A failover changes nothing ftctl can see in moto; the run says what it did.
    let reports = tempfile::tempdir().unwrap();
    ftctl(&[
        "chaos",
        "rds-failover",
        "--env",
        &d.env,
        "--interval",
        "0.2",
        "--settle",
        "0.4",
        "--report-dir",
        reports.path().to_str().unwrap(),
    ])
    .success();
    let j = journal(reports.path());
    assert!(j["events"].to_string().contains("reboot database"));
    assert!(
        j["design"]["budget"]["source"]
            .as_str()
            .unwrap()
            .contains("-main-"),
        "budget from the database's alarms: {}",
        j["design"]["budget"]
    );

    // The FIS export selects by tag and stops on the guarding alarms.
    let run = ftctl(&[
        "chaos",
        "export-fis",
        "kill-az",
        "--env",
        &d.env,
        "--role-arn",
        "arn:aws:iam::123456789012:role/fis",
    ])
    .ok();
    let t: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        t["targets"]["web-zone-instances"]["resourceTags"]["ftctl:deployment"],
        d.env
    );
    assert_eq!(t["stopConditions"].as_array().unwrap().len(), 4);
    terminate(&aws, &outsider).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_condition_aborts_and_rolls_back() {
    let _emulators = emulators().await;
    let d = Deployed::new("sc");
    let aws = aws().await;
    let groups = vec![d.group("app"), d.group("web")];
    let zones_before = zone_lists(&aws, &groups).await;
    let alarm = format!("{}-web-in-service", d.env);
    let reports = tempfile::tempdir().unwrap();

    let child = spawn_ftctl(&[
        "chaos",
        "kill-az",
        "--env",
        &d.env,
        "--stop-on",
        "alarm.tier.web.capacity",
        "--interval",
        "0.2",
        "--budget",
        "60",
        "--after-timeout",
        "1",
        "--report-dir",
        reports.path().to_str().unwrap(),
    ]);
    // Once the zone is out of the lists, the alarm fires (set by hand: no emulator publishes
    // the AutoScaling metrics it watches).
    let mut waited = 0;
    while zone_lists(&aws, &groups).await == zones_before {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
        assert!(waited < 300, "the experiment never changed the zone lists");
    }
    aws.cloudwatch
        .set_alarm_state()
        .alarm_name(&alarm)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("chaos test: stop condition")
        .send()
        .await
        .unwrap();
    finish(child).await.failure(2);
    let j = journal(reports.path());
    assert_eq!(j["outcome"], "aborted");
    assert!(
        j["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("stop condition: alarm {alarm}")),
        "{}",
        j["reason"]
    );
    assert_eq!(zone_lists(&aws, &groups).await, zones_before);

    // The groups replace what the zone lost (a couple of seconds on the emulator); with the
    // alarm still firing, the deployment is not steady: the next experiment is refused.
    let mut waited = 0;
    while healthy_targets(&aws, &d.group("web")).await < 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += 1;
        assert!(waited < 100, "the web tier was never replaced");
    }
    ftctl(&["chaos", "kill-instance", "--env", &d.env, "--group", "web"])
        .failure(2)
        .stderr_has("not in steady state")
        .stderr_has(&alarm);
    aws.cloudwatch
        .set_alarm_state()
        .alarm_name(&alarm)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
        .state_reason("chaos test: reset")
        .send()
        .await
        .unwrap();
}

/// A cache failover, designed from the cache (its shard, a budget from the cache's own alarms),
/// offered for a stage2 deployment, changing nothing in a dry run, and then run for real:
/// TestFailover promotes the replica (the emulator layer models it as the ElastiCache API
/// reference describes, see localstack/moto_patches), and the verdict is recovered.
#[tokio::test(flavor = "multi_thread")]
async fn an_experiment_holds_the_lock_and_chaos_abort_stops_it_from_elsewhere() {
    let _emulators = emulators().await;
    let d = Deployed::new("ab");
    let aws = aws().await;
    let groups = vec![d.group("app"), d.group("web")];
    let zones_before = zone_lists(&aws, &groups).await;
    let acls_before = subnet_acls(&aws, &d.env).await;
    let reports = tempfile::tempdir().unwrap();
    let dir = reports.path().join("abort");

    // A power loss held for two minutes: long enough that only an abort ends it.
    let child = spawn_ftctl(&[
        "chaos",
        "kill-az",
        "--env",
        &d.env,
        "--mode",
        "stop",
        "--interval",
        "0.2",
        "--budget",
        "120",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    let mut injected = false;
    for _ in 0..150 {
        if let Ok(text) = std::fs::read_to_string(dir.join("journal.json")) {
            if text.contains("\"kind\": \"inject\"") {
                injected = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(injected, "the experiment started");

    // An apply cannot change the deployment under the running experiment.
    ftctl(&["apply", "stage1", "--env", &d.env, "--yes"])
        .failure(1)
        .stderr_has("is locked by another run")
        .stderr_has("chaos kill-az");

    // From another terminal: abort, which waits for the rollback.
    ftctl(&["chaos", "abort", "--env", &d.env])
        .success()
        .stdout_has("Asked `ftctl chaos kill-az")
        .stdout_has("rolled back and released the lock");
    let run = finish(child).await.failure(2);
    assert!(run.stdout.contains("ABORTED"), "{}", run.stdout);
    let j = journal(&dir);
    assert_eq!(j["outcome"], "aborted");
    assert!(
        j["reason"].as_str().unwrap().contains("ftctl chaos abort"),
        "{}",
        j["reason"]
    );
    assert!(j["pending_undo"].as_array().unwrap().is_empty());
    assert_eq!(zone_lists(&aws, &groups).await, zones_before);
    assert_eq!(subnet_acls(&aws, &d.env).await, acls_before);
    assert!(isolating_acls(&aws, &d.env).await.is_empty());

    // Nothing runs now: abort says so and succeeds; the lock is free for an apply.
    ftctl(&["chaos", "abort", "--env", &d.env])
        .success()
        .stdout_has("nothing to abort");
}
