//! Stage 2 end to end against the local emulators: stage1 → stage2 adds only the cache and the
//! global table, both described back (the table in both regions); a second apply plans nothing;
//! stage2 → stage1 removes exactly what stage2 added; destroy removes everything in both regions
//! and keeps final snapshots unless told not to; bad parameters are refused before any AWS call.
//!
//! What the emulators cannot show (see ../shared/emulators.md): neither implements Application
//! Auto Scaling for ElastiCache, so the cache's replica auto scaling is checked only as far as
//! the refusal goes and the runs turn it off with `--var`; moto ignores a replication group's
//! final snapshot and keeps deleted groups listed as `deleting`.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// The logical ids stage2 adds to stage1.
fn stage2_additions() -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = [
        "cache.session",
        "cache.session.sg",
        "cache.session.subnets",
        // Replica auto scaling is on in the shipped stack.
        "cache.session.scaling",
        "table.orders",
        "table.orders.replica.us-west-2",
        "alarm.table.orders.read-throttles",
        "alarm.table.orders.write-throttles",
        "alarm.table.orders.replication-latency.us-west-2",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for node in ["0001-001", "0001-002"] {
        for what in ["cpu", "evictions", "replication-lag"] {
            ids.insert(format!("alarm.cache.session.{node}.{what}"));
        }
    }
    ids
}

fn apply(stage: &str, env: &str, vars: &[&str]) -> Run {
    let mut args = vec!["apply", stage, "--env", env, "--yes"];
    for v in vars {
        args.extend(["--var", v]);
    }
    ftctl(&args)
}

#[tokio::test(flavor = "multi_thread")]
async fn stage2_builds_on_stage1_and_comes_off_again() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("sb");
    let env = deployment.created().to_string();
    let aws = aws().await;
    apply("stage1", &env, &[]).ok();

    // stage1 → stage2: only additions, exactly the stage2 parts.
    let changes = plan_changes("stage2", &env, &[]);
    assert!(
        changes.iter().all(|(_, action)| action == "create"),
        "{changes:?}"
    );
    let ids: BTreeSet<String> = changes.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, stage2_additions());
    // ftctl apply stage2: the cache, the table, and the cache's replica auto scaling (the
    // emulator layer serves Application Auto Scaling as its API reference describes).
    let run = apply("stage2", &env, &[]).ok();
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    let targets = aws
        .autoscaling_apps
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Elasticache)
        .resource_ids(format!("replication-group/{env}-session"))
        .send()
        .await
        .unwrap();
    let target = targets
        .scalable_targets()
        .first()
        .expect("the cache's scalable target");
    assert_eq!(
        (target.min_capacity(), target.max_capacity()),
        (1, 3),
        "replicas between the stack's bounds"
    );
    let policies = aws
        .autoscaling_apps
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Elasticache)
        .resource_id(format!("replication-group/{env}-session"))
        .send()
        .await
        .unwrap();
    assert_eq!(policies.scaling_policies().len(), 1, "{policies:?}");
    let again = ftctl(&["plan", "stage2", "--env", &env, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    // The cache: cluster mode, failover and Multi-AZ on, encrypted both ways, snapshots kept,
    // the replica in another zone than its primary, in the private subnets, open to the app tier.
    let groups = aws
        .elasticache
        .describe_replication_groups()
        .replication_group_id(format!("{env}-session"))
        .send()
        .await
        .unwrap();
    let g = &groups.replication_groups()[0];
    assert_eq!(g.status(), Some("available"));
    assert_eq!(g.automatic_failover().map(|a| a.as_str()), Some("enabled"));
    assert_eq!(g.multi_az().map(|m| m.as_str()), Some("enabled"));
    assert_eq!(g.at_rest_encryption_enabled(), Some(true));
    assert_eq!(g.transit_encryption_enabled(), Some(true));
    assert_eq!(g.cluster_enabled(), Some(true));
    assert_eq!(g.snapshot_retention_limit(), Some(7));
    assert_eq!(g.node_groups().len(), 1);
    let members = g.node_groups()[0].node_group_members();
    assert_eq!(members.len(), 2, "a primary and one replica");
    let zones: BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.preferred_availability_zone())
        .collect();
    assert_eq!(
        zones.len(),
        2,
        "primary and replica share a zone: {zones:?}"
    );
    let tags = aws
        .elasticache
        .list_tags_for_resource()
        .resource_name(g.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(tags
        .tag_list()
        .iter()
        .any(|t| t.key() == Some("ftctl:deployment") && t.value() == Some(env.as_str())));
    let subnet_groups = aws
        .elasticache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(format!("{env}-session-cache"))
        .send()
        .await
        .unwrap();
    let cache_subnets: BTreeSet<String> = subnet_groups.cache_subnet_groups()[0]
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    let private: BTreeSet<String> = aws
        .ec2
        .describe_subnets()
        .filters(tag_filter(&env))
        .send()
        .await
        .unwrap()
        .subnets()
        .iter()
        .filter(|s| {
            s.tags().iter().any(|t| {
                t.key() == Some("ftctl:logical-id")
                    && t.value().is_some_and(|v| v.starts_with("network.private."))
            })
        })
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    assert_eq!(cache_subnets, private);
    let sgs = aws
        .ec2
        .describe_security_groups()
        .filters(tag_filter(&env))
        .send()
        .await
        .unwrap();
    let sg = |name: String| {
        sgs.security_groups()
            .iter()
            .find(|g| g.group_name() == Some(name.as_str()))
            .unwrap()
            .clone()
    };
    let cache_sg = sg(format!("{env}-session-cache"));
    let app_sg = sg(format!("{env}-app-tier"));
    assert_eq!(cache_sg.ip_permissions().len(), 1);
    let rule = &cache_sg.ip_permissions()[0];
    assert_eq!(rule.from_port(), Some(6379));
    assert!(rule.ip_ranges().is_empty(), "cache open to a CIDR");
    assert_eq!(rule.user_id_group_pairs()[0].group_id(), app_sg.group_id());

    // The table: on demand, KMS-encrypted, point-in-time recovery, protected, replicated.
    let table_name = format!("{env}-orders");
    let home = aws
        .dynamodb
        .describe_table()
        .table_name(&table_name)
        .send()
        .await
        .unwrap();
    let t = home.table().unwrap();
    assert_eq!(
        t.billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some("PAY_PER_REQUEST")
    );
    assert_eq!(
        t.sse_description()
            .and_then(|s| s.sse_type())
            .map(|s| s.as_str()),
        Some("KMS")
    );
    assert_eq!(t.deletion_protection_enabled(), Some(true));
    let replicas: Vec<&str> = t
        .replicas()
        .iter()
        .filter_map(|r| r.region_name())
        .collect();
    assert!(replicas.contains(&REPLICA_REGION), "{replicas:?}");
    for (region, client) in [("home", &aws.dynamodb), ("replica", &aws.dynamodb_west)] {
        let backups = client
            .describe_continuous_backups()
            .table_name(&table_name)
            .send()
            .await
            .unwrap();
        let pitr = backups
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .map(|s| s.as_str().to_string());
        assert_eq!(pitr.as_deref(), Some("ENABLED"), "{region} PITR");
    }
    // The replica is tagged in its own region and reads what was written at home.
    let west = aws
        .dynamodb_west
        .describe_table()
        .table_name(&table_name)
        .send()
        .await
        .unwrap();
    let west_tags = aws
        .dynamodb_west
        .list_tags_of_resource()
        .resource_arn(west.table().unwrap().table_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(west_tags
        .tags()
        .iter()
        .any(|t| t.key() == "ftctl:logical-id" && t.value() == "table.orders.replica.us-west-2"));
    // Working in the replica's region, ftctl does not take the replica for a table of its own
    // (which it would plan to delete).
    let west = format!("stack.region={REPLICA_REGION}");
    let run = ftctl(&["plan", "stage1", "--env", &env, "--json", "--var", &west]).ok();
    let west_plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let summary = &west_plan["summary"];
    assert_eq!(summary["delete"], 0, "{}", run.stdout);
    assert!(summary["create"].as_u64().unwrap() > 0, "{}", run.stdout);
    use aws_sdk_dynamodb::types::AttributeValue;
    aws.dynamodb
        .put_item()
        .table_name(&table_name)
        .item("pk", AttributeValue::S("order#1".into()))
        .item("sk", AttributeValue::S("v1".into()))
        .item("total", AttributeValue::N("42".into()))
        .send()
        .await
        .unwrap();
    let item = aws
        .dynamodb_west
        .get_item()
        .table_name(&table_name)
        .key("pk", AttributeValue::S("order#1".into()))
        .key("sk", AttributeValue::S("v1".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        item.item().and_then(|i| i.get("total")),
        Some(&AttributeValue::N("42".into()))
    );

    // Every new alarm notifies the deployment's topic.
    let alarms = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{env}-"))
        .send()
        .await
        .unwrap();
    let alarms = alarms.metric_alarms();
    assert_eq!(alarms.len(), 8 + 9, "stage1's 8 and stage2's 9");
    assert!(alarms.iter().all(|a| a.alarm_actions().len() == 1));
    let lag = alarms
        .iter()
        .find(|a| {
            a.alarm_name() == Some(&format!("{env}-orders-table-replication-latency-us-west-2"))
        })
        .unwrap();
    let dims: BTreeSet<(String, String)> = lag
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap().into(), d.value().unwrap().into()))
        .collect();
    assert!(dims.contains(&("ReceivingRegion".into(), REPLICA_REGION.into())));
    assert!(dims.contains(&("TableName".into(), table_name.clone())));

    // A second apply plans nothing.
    ftctl(&["plan", "stage2", "--env", &env, "--detailed-exitcode"])
        .success()
        .stdout_has("No changes");

    // stage2 → stage1: exactly the stage2 parts go.
    let changes = plan_changes("stage1", &env, &[]);
    assert!(
        changes.iter().all(|(_, action)| action == "delete"),
        "{changes:?}"
    );
    let ids: BTreeSet<String> = changes.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, stage2_additions());
    // The table is protected: removing it is refused up front, before anything else goes,
    // until protection is turned off.
    let run = apply("stage1", &env, &[]).failure(1);
    assert!(
        run.stderr.contains("deletion protection on")
            && run
                .stderr
                .contains(&format!("table.orders (dynamodb table {table_name})")),
        "{}",
        run.stderr
    );
    assert_eq!(
        plan_changes("stage1", &env, &[]).len(),
        stage2_additions().len()
    );
    let changes = plan_changes("stage2", &env, &["tables.orders.deletion_protection=false"]);
    assert_eq!(
        changes,
        vec![("table.orders".to_string(), "update".to_string())]
    );
    apply("stage2", &env, &["tables.orders.deletion_protection=false"]).ok();
    apply("stage1", &env, &[]).ok();
    let changes = plan_changes("stage1", &env, &[]);
    assert!(changes.is_empty(), "{changes:?}");
    for client in [&aws.dynamodb, &aws.dynamodb_west] {
        let tables = client.list_tables().send().await.unwrap();
        assert!(
            !tables.table_names().contains(&table_name),
            "{:?}",
            tables.table_names()
        );
    }
    // The removed table's final backup outlives it.
    let backups = aws
        .dynamodb
        .list_backups()
        .table_name(&table_name)
        .send()
        .await
        .unwrap();
    assert!(
        backups.backup_summaries().iter().any(|b| b
            .backup_name()
            .is_some_and(|n| n.starts_with(&format!("{table_name}-final-")))),
        "{:?}",
        backups.backup_summaries()
    );

    // The deployment's own trail is opt-in; with it, its bucket outlives the deployment.
    apply("stage1", &env, &["audit.trail=true"]).ok();

    // Destroy without --skip-final-snapshot keeps the database's final snapshot.
    ftctl(&[
        "destroy",
        "--env",
        &env,
        "--yes",
        "--disable-deletion-protection",
    ])
    .ok();
    let snapshots = aws.rds.describe_db_snapshots().send().await.unwrap();
    assert!(
        snapshots.db_snapshots().iter().any(|s| s
            .db_snapshot_identifier()
            .is_some_and(|id| id.starts_with(&format!("{env}-main-final-")))),
        "no final snapshot"
    );
    // The audit bucket, like a final snapshot, is kept and handed over, logs and all.
    let buckets = aws.s3.list_buckets().send().await.unwrap();
    let audit = buckets
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .find(|n| n.starts_with(&format!("{env}-audit-logs-")))
        .expect("the audit bucket was kept")
        .to_string();
    let tags = aws
        .s3
        .get_bucket_tagging()
        .bucket(&audit)
        .send()
        .await
        .unwrap();
    assert!(tags
        .tag_set()
        .iter()
        .any(|t| t.key() == "ftctl:retained-from" && t.value() == env));
    assert!(!tags.tag_set().iter().any(|t| t.key() == "ftctl:deployment"));
    // So is the evidence, unless asked otherwise; a second destroy with --delete-evidence,
    // though the deployment owns nothing else, takes it.
    assert_eq!(
        leftovers(&aws, &env).await,
        vec![format!("bucket {env}-evidence-000000000000-us-east-1")]
    );
    ftctl(&["destroy", "--env", &env, "--yes", "--delete-evidence"]).ok();
    assert_eq!(leftovers(&aws, &env).await, Vec::<String>::new());
    deployment.destroyed();
}

#[tokio::test(flavor = "multi_thread")]
async fn stage2_destroy_removes_both_regions() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("sd");
    let env = deployment.created().to_string();
    let aws = aws().await;
    apply("stage2", &env, &[]).ok();
    let table_name = format!("{env}-orders");
    aws.dynamodb_west
        .describe_table()
        .table_name(&table_name)
        .send()
        .await
        .expect("the replica exists before destroy");

    // `ftctl backup` snapshots the database and the cache and backs the table up; each is
    // described back from the emulators.
    let run = ftctl(&["backup", "--env", &env, "--wait", "--json"]).ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let taken = doc["taken"].as_array().unwrap();
    let id_of = |store: &str| {
        taken
            .iter()
            .find(|b| b["store"] == store)
            .and_then(|b| b["id"].as_str())
            .unwrap_or_else(|| panic!("no {store} backup in {taken:?}"))
            .to_string()
    };
    let (db_snapshot, cache_snapshot, table_backup) =
        (id_of("database"), id_of("cache"), id_of("table"));
    let snapshots = aws
        .rds
        .describe_db_snapshots()
        .db_snapshot_identifier(&db_snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(
        snapshots.db_snapshots()[0].db_instance_identifier(),
        Some(format!("{env}-main").as_str())
    );
    let snapshots = aws
        .elasticache
        .describe_snapshots()
        .snapshot_name(&cache_snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(
        snapshots.snapshots()[0].replication_group_id(),
        Some(format!("{env}-session").as_str())
    );
    let described = aws
        .dynamodb
        .describe_backup()
        .backup_arn(&table_backup)
        .send()
        .await
        .unwrap();
    let source = described
        .backup_description()
        .and_then(|d| d.source_table_details())
        .map(|s| s.table_name().to_string());
    assert_eq!(source.as_deref(), Some(table_name.as_str()));

    // Destroy finds the replica through the table, though no stack file is given.
    let run = ftctl(&[
        "destroy",
        "--env",
        &env,
        "--yes",
        "--disable-deletion-protection",
        "--skip-final-snapshot",
        "--delete-evidence",
    ])
    .ok();
    assert!(
        run.stdout
            .contains("table.orders.replica.us-west-2: Destruction complete"),
        "{}",
        run.stdout
    );
    assert_eq!(leftovers(&aws, &env).await, Vec::<String>::new());
    // The on-demand backups outlive the deployment and are still listed; no final ones were
    // taken.
    let run = ftctl(&["backup", "--env", &env, "--list", "--json"]).ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let ids: BTreeSet<&str> = doc["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["origin"] == "manual")
        .filter_map(|b| b["id"].as_str())
        .collect();
    let want: BTreeSet<&str> = [
        db_snapshot.as_str(),
        cache_snapshot.as_str(),
        table_backup.as_str(),
    ]
    .into();
    assert_eq!(ids, want);
    assert!(
        !doc["backups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["origin"] == "final"),
        "--skip-final-snapshot still took final backups: {doc}"
    );
    let run = ftctl(&["destroy", "--env", &env, "--yes"]).ok();
    assert!(run.stdout.contains("owns nothing"), "{}", run.stdout);
    deployment.destroyed();
}

#[test]
fn bad_stage2_parameters_are_refused_before_any_aws_call() {
    let no_aws = NoAws::new();
    let endpoints = no_aws.env();
    let dir = tempfile::tempdir().unwrap();
    type Edit = fn(String) -> String;
    let cases: [(&str, Edit, &str, &str); 4] = [
        (
            "no replica to fail over to",
            |t| t.replace("replicas_per_shard = 1 ", "replicas_per_shard = 0 "),
            "caches.session.replicas_per_shard",
            "failover needs a replica",
        ),
        (
            "replica in the stack's own region",
            |t| {
                t.replace(
                    "description = \"Stage 1 plus",
                    "region = \"us-west-2\"\ndescription = \"Stage 1 plus",
                )
            },
            "tables.orders.replica_regions.0",
            "a replica must be in another region",
        ),
        (
            "auto scaling without cluster mode",
            |t| t.replace("cluster_mode = true ", "cluster_mode = false "),
            "caches.session.autoscaling.enabled",
            "needs cluster_mode = true",
        ),
        (
            "no snapshots",
            |t| {
                t.replace(
                    "snapshot_retention_days = 7 ",
                    "snapshot_retention_days = 0 ",
                )
            },
            "caches.session.snapshot_retention_days",
            "cannot be recovered",
        ),
    ];
    for (i, (what, edit, field, message)) in cases.iter().enumerate() {
        let path = edited_stage(dir.path(), "stage2", &format!("bad{i}.toml"), edit);
        for command in ["plan", "apply"] {
            let run = ftctl_with(
                &[command, path.to_str().unwrap(), "--env", "bad", "--yes"]
                    [..if command == "plan" { 4 } else { 5 }],
                &endpoints,
            );
            assert_eq!(run.code, 1, "{what}: {command}\n{}", run.stderr);
            let location = format!("{}:", path.display());
            for expected in [location.as_str(), field, message] {
                assert!(
                    run.stderr.contains(expected),
                    "{what}: no `{expected}` in\n{}",
                    run.stderr
                );
            }
        }
    }
    // The region may come from the AWS configuration rather than the stack: the replica check
    // then names the stack line that put the replica there, still before any call.
    let mut west = endpoints.clone();
    west.retain(|(k, _)| *k != "AWS_REGION");
    west.push(("AWS_REGION", "us-west-2"));
    let run = ftctl_with(&["plan", "stage2", "--env", "bad"], &west).failure(1);
    let shipped = std::fs::read_to_string(repo().join("stacks/stage2.toml")).unwrap();
    let line = shipped
        .lines()
        .position(|l| l.starts_with("replica_regions"))
        .unwrap()
        + 1;
    let location = format!("stacks/stage2.toml:{line}:");
    assert!(
        run.stderr.contains(&location) && run.stderr.contains("tables.orders.replica_regions.0"),
        "no {location} in {}",
        run.stderr
    );
    no_aws.assert_untouched();
}

/// A table's stream view changed outside ftctl (drift): apply puts it back, turning the stream
/// off and on again as DynamoDB requires. (A table with replicas cannot lose its stream; this
/// one has none.)
#[tokio::test(flavor = "multi_thread")]
async fn a_changed_stream_view_is_put_back() {
    let _emulators = emulators().await;
    let aws = aws().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("sv");
    let env = deployment.created().to_string();
    let vars = ["tables.orders.replica_regions=[]"];
    apply("stage2", &env, &vars).ok();
    let table = format!("{env}-orders");
    let view = |out: aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput| {
        out.table()
            .and_then(|t| t.stream_specification())
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_string())
    };
    use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
    for spec in [
        StreamSpecification::builder()
            .stream_enabled(false)
            .build()
            .unwrap(),
        StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::KeysOnly)
            .build()
            .unwrap(),
    ] {
        aws.dynamodb
            .update_table()
            .table_name(&table)
            .stream_specification(spec)
            .send()
            .await
            .unwrap();
    }
    let drifted = aws
        .dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(view(drifted).as_deref(), Some("KEYS_ONLY"));
    let changes = plan_changes("stage2", &env, &vars);
    assert_eq!(
        changes,
        vec![("table.orders".to_string(), "update".to_string())]
    );
    apply("stage2", &env, &vars).ok();
    let fixed = aws
        .dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(view(fixed).as_deref(), Some("NEW_AND_OLD_IMAGES"));
    assert!(plan_changes("stage2", &env, &vars).is_empty());
    destroy_leaving_nothing(&aws, &env).await;
    deployment.destroyed();
}
