//! `[documents.NAME]` (Amazon DocumentDB) through `ftctl`, against ministack's DocumentDB as
//! `localstack/ministack_patches/documentdb.py` completes it: applied, the cluster, its TLS
//! parameter group, its instances across the zones and its alarms are what DocumentDB and
//! CloudWatch hold; a second plan is empty; a changed retention is one in-place update and one
//! more instance one creation; `chaos docdb-failover` promotes a replica and recovers; `ftctl
//! backup` snapshots and lists it; destroy keeps a final snapshot unless told otherwise and
//! leaves nothing else.

use crate::support::*;

const VARS: [&str; 3] = [
    "documents.catalog.instance_class=\"db.t3.medium\"",
    "documents.catalog.allow_from=[\"app\"]",
    "documents.catalog.instances=2",
];

fn plan_with(env: &str, extra: &[&str], args: &[&str]) -> Ftctl {
    let mut run = Ftctl::new()
        .args(["plan", "stage1", "--env", env])
        .args(args);
    for v in VARS.iter().chain(extra) {
        run = run.var(v);
    }
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_database_is_applied_described_changed_backed_up_and_destroyed() {
    let _emulators = emulators().await;
    let aws = aws().await;
    let d = crate::chaos::Deployed::of("stage1", "dd", &VARS);
    let env = d.env.clone();
    let name = format!("{env}-catalog");

    let clusters = aws
        .docdb
        .describe_db_clusters()
        .db_cluster_identifier(&name)
        .send()
        .await
        .unwrap();
    let c = &clusters.db_clusters()[0];
    assert_eq!(c.engine(), Some("docdb"));
    assert_eq!(c.engine_version(), Some("5.0.0"));
    assert_eq!(c.storage_encrypted(), Some(true));
    assert_eq!(c.deletion_protection(), Some(true));
    assert_eq!(c.backup_retention_period(), Some(7));
    assert_eq!(c.port(), Some(27017));
    assert!(
        c.master_user_secret()
            .and_then(|s| s.secret_arn())
            .is_some(),
        "DocumentDB keeps the master password: {c:?}"
    );
    let group = c.db_cluster_parameter_group().unwrap().to_string();
    let params = aws
        .docdb
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name(&group)
        .source("user")
        .send()
        .await
        .unwrap();
    let tls = params
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == Some("tls"))
        .and_then(|p| p.parameter_value());
    assert_eq!(tls, Some("tls1.2+"));
    // One writer, one replica, in two zones.
    let members = c.db_cluster_members();
    assert_eq!(members.len(), 2, "{members:?}");
    assert_eq!(
        members
            .iter()
            .filter(|m| m.is_cluster_writer() == Some(true))
            .count(),
        1
    );
    let mut zones = std::collections::BTreeSet::new();
    for m in members {
        let id = m.db_instance_identifier().unwrap();
        let got = aws
            .docdb
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .unwrap();
        zones.insert(
            got.db_instances()[0]
                .availability_zone()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(zones.len(), 2, "{zones:?}");
    let alarms = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{env}-catalog-docdb-"))
        .send()
        .await
        .unwrap();
    let metrics: std::collections::BTreeSet<&str> = alarms
        .metric_alarms()
        .iter()
        .filter_map(|a| a.metric_name())
        .collect();
    assert_eq!(
        metrics,
        [
            "CPUUtilization",
            "DBClusterReplicaLagMaximum",
            "FreeableMemory"
        ]
        .into_iter()
        .collect()
    );

    plan_with(&env, &[], &["--detailed-exitcode"])
        .run()
        .success();
    let run = plan_with(
        &env,
        &["documents.catalog.backup_retention_days=10"],
        &["--json"],
    )
    .run()
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["id"], "docdb.catalog");
    assert_eq!(changes[0]["action"], "update");
    let mut more = Ftctl::new().args(["apply", "stage1", "--env", &env, "--yes"]);
    for v in VARS.iter().chain(&["documents.catalog.instances=3"]) {
        more = more.var(v);
    }
    more.run()
        .success()
        .stdout_has("docdb.catalog.2: Creation complete");

    // chaos docdb-failover: a replica becomes the writer; the verdict is judged on the
    // cluster's status and writer, within its alarms' window (5 × 60 s).
    let writer = || async {
        let got = aws
            .docdb
            .describe_db_clusters()
            .db_cluster_identifier(&name)
            .send()
            .await
            .unwrap();
        got.db_clusters()[0]
            .db_cluster_members()
            .iter()
            .find(|m| m.is_cluster_writer() == Some(true))
            .and_then(|m| m.db_instance_identifier().map(str::to_string))
            .unwrap()
    };
    let run = ftctl(&["chaos", "list", "--env", &env]).ok();
    assert!(
        run.stdout.contains(&format!(
            "ftctl chaos docdb-failover --env {env} --docs catalog"
        )),
        "{}",
        run.stdout
    );
    let before = writer().await;
    let dir = tempfile::tempdir().unwrap();
    ftctl(&[
        "chaos",
        "docdb-failover",
        "--env",
        &env,
        "--docs",
        "catalog",
        "--report-dir",
        dir.path().to_str().unwrap(),
    ])
    .success();
    let j = crate::chaos::journal(dir.path());
    assert_eq!(j["outcome"], "recovered", "{j}");
    assert_eq!(j["design"]["budget"]["seconds"], 300.0, "{j}");
    assert_ne!(writer().await, before, "a replica was promoted");

    ftctl(&["backup", "--env", &env])
        .success()
        .stdout_has(&format!("{name}-manual-"));
    let run = ftctl(&["backup", "--env", &env, "--list", "--json"]).ok();
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        list["backups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["resource"] == name.as_str() && b["storage_class"] == "standard"),
        "{list}"
    );

    // Without --skip-final-snapshot the cluster leaves a final snapshot.
    ftctl(&[
        "destroy",
        "--env",
        &env,
        "--yes",
        "--disable-deletion-protection",
    ])
    .ok();
    let snapshots = aws
        .docdb
        .describe_db_cluster_snapshots()
        .db_cluster_identifier(&name)
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = snapshots
        .db_cluster_snapshots()
        .iter()
        .filter_map(|s| s.db_cluster_snapshot_identifier().map(str::to_string))
        .collect();
    assert!(
        ids.iter().any(|i| i.starts_with(&format!("{name}-final-"))),
        "{ids:?}"
    );
    for id in &ids {
        aws.docdb
            .delete_db_cluster_snapshot()
            .db_cluster_snapshot_identifier(id)
            .send()
            .await
            .unwrap();
    }
    d.destroy().run().success();
    let left: Vec<String> = leftovers(&aws, &env)
        .await
        .into_iter()
        .filter(|l| l.starts_with("docdb"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
