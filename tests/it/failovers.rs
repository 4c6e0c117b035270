//! Cache failover (stage 2) and task kills (stage 3) against the emulators: designed from the
//! deployment, the dry run changing nothing, and what the emulator holds afterwards.

use crate::chaos::{journal, Deployed};
use crate::support::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn cache_failover_is_designed_from_the_cache_and_promotes_the_replica() {
    let _emulators = emulators().await;
    // Without cluster mode, where ElastiCache reports which member is primary (with cluster
    // mode it reports no roles), so the test can see the promotion.
    let d = Deployed::of(
        "stage2",
        "cf",
        &[
            "caches.session.cluster_mode=false",
            "caches.session.autoscaling.enabled=false",
        ],
    );
    let aws = aws().await;
    let group = format!("{}-session", d.env);

    let run = ftctl(&["chaos", "list", "--env", &d.env, "--json"]).ok();
    let list: Value = serde_json::from_str(&run.stdout).unwrap();
    let offered = list["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["experiment"] == "cache-failover")
        .unwrap_or_else(|| panic!("no cache-failover in {list}"));
    assert_eq!(offered["budget"]["seconds"], 300.0);

    let run = ftctl(&[
        "chaos",
        "cache-failover",
        "--env",
        &d.env,
        "--dry-run",
        "--json",
    ])
    .ok();
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(plan["steady"], true, "{plan}");
    let actions = plan["design"]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["action"], "failover-cache");
    assert_eq!(actions[0]["group"], group.as_str());
    assert_eq!(actions[0]["shard"], "0001");
    assert!(
        plan["design"]["budget"]["source"]
            .as_str()
            .unwrap()
            .contains(&format!("{group}-cache-")),
        "{plan}"
    );

    let refused = ftctl(&[
        "chaos",
        "cache-failover",
        "--env",
        &d.env,
        "--cache",
        "nope",
    ]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("no such cache"),
        "{}",
        refused.stderr
    );

    let primary = |groups: &aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsOutput| {
        groups.replication_groups()[0].node_groups()[0]
            .node_group_members()
            .iter()
            .find(|m| m.current_role() == Some("primary"))
            .and_then(|m| m.cache_cluster_id())
            .map(str::to_string)
    };
    let describe = || async {
        aws.elasticache
            .describe_replication_groups()
            .replication_group_id(&group)
            .send()
            .await
            .unwrap()
    };
    let before = primary(&describe().await).expect("a primary before");

    // The real run: ftctl chaos cache-failover --env cf-… --report-dir DIR
    let dir = tempfile::tempdir().unwrap();
    ftctl(&[
        "chaos",
        "cache-failover",
        "--env",
        &d.env,
        "--report-dir",
        dir.path().to_str().unwrap(),
    ])
    .success();
    let j = journal(dir.path());
    assert_eq!(j["outcome"], "recovered", "{j}");
    let inject = &j["events"][0];
    assert_eq!(inject["kind"], "inject");
    assert_eq!(inject["ok"], true, "{inject}");
    let after = describe().await;
    let g = &after.replication_groups()[0];
    assert_eq!(g.status(), Some("available"));
    assert_eq!(g.node_groups()[0].node_group_members().len(), 2);
    let now = primary(&after).expect("a primary after");
    assert_ne!(now, before, "the replica was promoted");
}

/// ministack runs a service's tasks but, unlike ECS, never starts a replacement for a stopped
/// one: on the emulators a kill-task cannot heal, so the verdict must be NOT RECOVERED (exit
/// 1), with the fault seen at once and the stopped task really stopped. On AWS the service
/// scheduler starts a new task within seconds and the same run recovers.
#[tokio::test(flavor = "multi_thread")]
async fn kill_task_stops_a_task_and_judges_the_service_by_its_running_count() {
    let _emulators = emulators().await;
    let d = Deployed::of("stage3", "kt", &[]);
    let aws = aws().await;
    let cluster = format!("{}-cluster", d.env);
    let service = format!("{}-api", d.env);

    let run = ftctl(&["chaos", "kill-task", "--env", &d.env, "--dry-run", "--json"]).ok();
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    let actions = plan["design"]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["action"], "stop-tasks");
    assert_eq!(actions[0]["tasks"].as_array().unwrap().len(), 1);
    // The running-task alarm (3 × 60 s) is the tightest guard of the service.
    assert_eq!(plan["design"]["budget"]["seconds"], 180.0, "{plan}");
    // Stopping every task is refused: there would be nothing left to serve.
    let refused = ftctl(&["chaos", "kill-task", "--env", &d.env, "--count", "2"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("would leave none"),
        "{}",
        refused.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    ftctl(&[
        "chaos",
        "kill-task",
        "--env",
        &d.env,
        "--budget",
        "3",
        "--settle",
        "1",
        "--report-dir",
        dir.path().to_str().unwrap(),
    ])
    .failure(1);
    let j = journal(dir.path());
    assert_eq!(j["verdict"]["status"], "not-recovered", "{j}");
    assert!(j["verdict"]["detected_after"].as_f64().unwrap() < 3.0);
    let victim = j["design"]["actions"][0]["tasks"][0]
        .as_str()
        .unwrap()
        .to_string();
    let tasks = aws
        .ecs
        .describe_tasks()
        .cluster(&cluster)
        .tasks(&victim)
        .send()
        .await
        .unwrap();
    assert_eq!(tasks.tasks()[0].last_status(), Some("STOPPED"));
    let services = aws
        .ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(services.services()[0].running_count(), 1);
}
