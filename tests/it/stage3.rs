//! Stage 3 end to end against the local emulators, as shipped: stage2 → stage3 adds the
//! service (with its task auto scaling), its file system, the private DNS name, the EMR cluster
//! and a NAT gateway per zone (the private route tables change to use them), all described
//! back; a second apply plans nothing; stage3 → stage2 removes exactly those; destroy leaves
//! nothing.
//!
//! What the emulators cannot show (see ../shared/emulators.md and localstack/README.md):
//! ministack's ECS does not register tasks in the (moto) target group.

use crate::support::*;
use std::collections::BTreeSet;

fn with_vars<'a>(mut args: Vec<&'a str>, vars: &[&'a str]) -> Vec<&'a str> {
    for v in vars {
        args.extend(["--var", v]);
    }
    args
}

/// The logical ids stage3 adds to stage2.
fn stage3_additions() -> BTreeSet<String> {
    [
        "network.nat.0",
        "network.nat.0.ip",
        "network.nat.1",
        "network.nat.1.ip",
        "ecs.cluster",
        "svc.api",
        "svc.api.scaling",
        "svc.api.sg",
        "svc.api.tg",
        "svc.api.rule",
        "svc.api.logs",
        "svc.api.execution-role",
        "svc.api.task-role",
        "svc.api.task",
        "alarm.svc.api.running",
        "alarm.svc.api.cpu",
        "alarm.svc.api.memory",
        "fs.shared",
        "fs.shared.sg",
        "fs.shared.ap",
        "fs.shared.mount.0",
        "fs.shared.mount.1",
        "alarm.fs.shared.io-limit",
        "dns.zone",
        "dns.record.www",
        "emr.analytics",
        "emr.analytics.logs",
        "emr.analytics.service-role",
        "emr.analytics.node-role",
        "emr.analytics.profile",
        "emr.analytics.master-sg",
        "emr.analytics.core-sg",
        "emr.analytics.service-sg",
        "alarm.emr.analytics.unhealthy-nodes",
        "queue.payments",
        "queue.payments.dead",
        "queue.payments.policy",
        "alarm.queue.payments.age",
        "alarm.queue.payments.dead-letters",
        "edge.maintenance",
        "edge.maintenance.policy",
        "edge.oac",
        "edge.distribution",
        "alarm.edge.5xx",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// The private route tables (stage 3's NAT gateways give them a default route) and the tiers'
/// instance roles (the payments queue's permissions).
fn route_tables() -> BTreeSet<String> {
    [
        "network.private.0.routes",
        "network.private.1.routes",
        "tier.app.role",
        "tier.web.role",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

fn only(action: &str, changes: &[(String, String)]) -> BTreeSet<String> {
    changes
        .iter()
        .filter(|(_, a)| a == action)
        .map(|(id, _)| id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn stage3_builds_on_stage2_and_comes_off_again() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("sc");
    let env = deployment.created().to_string();
    let aws = aws().await;
    ftctl(&with_vars(
        vec!["apply", "stage2", "--env", &env, "--yes"],
        &[],
    ))
    .ok();

    let changes = plan_changes("stage3", &env, &[]);
    assert_eq!(only("create", &changes), stage3_additions());
    assert_eq!(only("update", &changes), route_tables(), "{changes:?}");
    assert_eq!(
        changes.len(),
        stage3_additions().len() + route_tables().len(),
        "{changes:?}"
    );
    // The shipped default scales the service's tasks too.
    assert!(
        plan_changes("stage3", &env, &[]).contains(&("svc.api.scaling".into(), "create".into()))
    );

    ftctl(&with_vars(
        vec!["apply", "stage3", "--env", &env, "--yes"],
        &[],
    ))
    .ok();

    // The private subnets, for checking where things landed.
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(tag_filter(&env))
        .send()
        .await
        .unwrap();
    let private: BTreeSet<String> = subnets
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
    assert_eq!(private.len(), 2);

    // The service: Fargate in every private subnet, behind its target group, with a circuit
    // breaker that rolls back.
    let cluster = format!("{env}-cluster");
    let services = aws
        .ecs
        .describe_services()
        .cluster(&cluster)
        .services(format!("{env}-api"))
        .send()
        .await
        .unwrap();
    let svc = &services.services()[0];
    assert_eq!(svc.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    assert_eq!(svc.desired_count(), 2);
    let vpc = svc
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    let svc_subnets: BTreeSet<String> = vpc.subnets().iter().cloned().collect();
    assert_eq!(svc_subnets, private);
    assert_eq!(vpc.assign_public_ip().map(|a| a.as_str()), Some("DISABLED"));
    let breaker = svc
        .deployment_configuration()
        .and_then(|d| d.deployment_circuit_breaker())
        .unwrap();
    assert!(breaker.enable() && breaker.rollback());
    let tgs = aws
        .elb
        .describe_target_groups()
        .names(format!("{env}-api"))
        .send()
        .await
        .unwrap();
    let tg = &tgs.target_groups()[0];
    assert_eq!(tg.target_type().map(|t| t.as_str()), Some("ip"));
    assert_eq!(
        svc.load_balancers()[0].target_group_arn(),
        tg.target_group_arn()
    );
    // Its own listener rule on the public balancer.
    let lbs = aws
        .elb
        .describe_load_balancers()
        .names(format!("{env}-public"))
        .send()
        .await
        .unwrap();
    let lb = &lbs.load_balancers()[0];
    let listeners = aws
        .elb
        .describe_listeners()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let rules = aws
        .elb
        .describe_rules()
        .listener_arn(listeners.listeners()[0].listener_arn().unwrap())
        .send()
        .await
        .unwrap();
    let rule = rules
        .rules()
        .iter()
        .find(|r| !r.is_default().unwrap_or(false))
        .expect("the service's rule");
    assert_eq!(rule.actions()[0].target_group_arn(), tg.target_group_arn());

    // The task: the file system's access point mounted over TLS, logs to the service's group,
    // roles trusted by ECS tasks only.
    let task = aws
        .ecs
        .describe_task_definition()
        .task_definition(svc.task_definition().unwrap())
        .send()
        .await
        .unwrap();
    let task = task.task_definition().unwrap();
    let efs = task.volumes()[0].efs_volume_configuration().unwrap();
    assert_eq!(
        efs.transit_encryption().map(|t| t.as_str()),
        Some("ENABLED")
    );
    let file_systems = aws.efs.describe_file_systems().send().await.unwrap();
    let fs = file_systems
        .file_systems()
        .iter()
        .find(|f| f.file_system_id() == efs.file_system_id())
        .expect("the task's file system");
    assert_eq!(fs.encrypted(), Some(true));
    let mounts = aws
        .efs
        .describe_mount_targets()
        .file_system_id(fs.file_system_id())
        .send()
        .await
        .unwrap();
    let mount_subnets: BTreeSet<String> = mounts
        .mount_targets()
        .iter()
        .map(|m| m.subnet_id().to_string())
        .collect();
    assert_eq!(mount_subnets, private, "one mount target per zone");
    let points = aws
        .efs
        .describe_access_points()
        .file_system_id(fs.file_system_id())
        .send()
        .await
        .unwrap();
    let ap = &points.access_points()[0];
    assert_eq!(
        efs.authorization_config().and_then(|a| a.access_point_id()),
        ap.access_point_id()
    );
    assert_eq!(ap.root_directory().and_then(|r| r.path()), Some("/shared"));
    assert_eq!(ap.posix_user().map(|u| u.uid()), Some(1000));
    for role in [task.execution_role_arn(), task.task_role_arn()] {
        let name = role.unwrap().rsplit('/').next().unwrap();
        let r = aws.iam.get_role().role_name(name).send().await.unwrap();
        let trust = r.role().unwrap().assume_role_policy_document().unwrap();
        assert!(trust.contains("ecs-tasks.amazonaws.com"), "{trust}");
    }
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/ftctl/{env}/api"))
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(30));

    // DNS: the shipped zone is private to the VPC, with its alias to the public balancer, and
    // no Route 53 health check (Route 53's checkers cannot reach inside a VPC).
    let zones = aws.route53.list_hosted_zones().send().await.unwrap();
    let zone = zones
        .hosted_zones()
        .iter()
        .find(|z| {
            z.config()
                .and_then(|c| c.comment())
                .is_some_and(|c| c.contains(&format!("deployment={env} ")))
        })
        .expect("the hosted zone");
    assert_eq!(zone.name(), "shop.internal.");
    assert!(zone.config().is_some_and(|c| c.private_zone()));
    let records = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone.id())
        .send()
        .await
        .unwrap();
    let www = records
        .resource_record_sets()
        .iter()
        .find(|r| r.name() == "www.shop.internal.")
        .expect("the www record");
    assert!(ftctl_dns_matches(
        www.alias_target().unwrap().dns_name(),
        lb.dns_name().unwrap()
    ));
    let checks = aws.route53.list_health_checks().send().await.unwrap();
    assert!(
        !checks
            .health_checks()
            .iter()
            .any(|h| h.caller_reference().starts_with(&format!("ftctl/{env}/"))),
        "a health check for a private zone"
    );

    // EMR: in a private subnet, logging to its encrypted, non-public bucket, with its roles.
    let clusters = aws
        .emr
        .list_clusters()
        .cluster_states(aws_sdk_emr::types::ClusterState::Waiting)
        .cluster_states(aws_sdk_emr::types::ClusterState::Running)
        .send()
        .await
        .unwrap();
    let summary = clusters
        .clusters()
        .iter()
        .find(|c| c.name() == Some(format!("{env}-analytics").as_str()))
        .expect("the EMR cluster");
    let described = aws
        .emr
        .describe_cluster()
        .cluster_id(summary.id().unwrap())
        .send()
        .await
        .unwrap();
    let emr = described.cluster().unwrap();
    assert_eq!(emr.release_label(), Some("emr-7.1.0"));
    let emr_subnet = emr
        .ec2_instance_attributes()
        .and_then(|a| a.ec2_subnet_id())
        .unwrap();
    assert!(
        private.contains(emr_subnet),
        "EMR outside the private subnets"
    );
    assert_eq!(
        emr.service_role(),
        Some(format!("{env}-analytics-emr-service-us-east-1").as_str())
    );
    // EMR's managed security groups are the deployment's own (tagged, deleted with it), not
    // ones EMR would make and leave behind.
    let attrs = emr.ec2_instance_attributes().unwrap();
    for (group, suffix) in [
        (attrs.emr_managed_master_security_group(), "master"),
        (attrs.emr_managed_slave_security_group(), "core"),
        (attrs.service_access_security_group(), "service"),
    ] {
        let described = aws
            .ec2
            .describe_security_groups()
            .group_ids(group.expect("a managed security group"))
            .send()
            .await
            .unwrap();
        let g = &described.security_groups()[0];
        assert_eq!(
            g.group_name(),
            Some(format!("{env}-analytics-emr-{suffix}").as_str())
        );
        assert!(g
            .tags()
            .iter()
            .any(|t| t.key() == Some("ftctl:deployment") && t.value() == Some(env.as_str())));
    }
    let log_uri = emr.log_uri().unwrap();
    let bucket = log_uri
        .trim_start_matches("s3://")
        .trim_end_matches('/')
        .to_string();
    assert!(
        bucket.starts_with(&format!("{env}-analytics-emr-logs-")),
        "{bucket}"
    );
    let encryption = aws
        .s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().as_str()),
        Some("aws:kms")
    );
    let block = aws
        .s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(block.block_public_acls(), Some(true));
    assert_eq!(block.restrict_public_buckets(), Some(true));
    let idle = aws
        .emr
        .get_auto_termination_policy()
        .cluster_id(summary.id().unwrap())
        .send()
        .await
        .unwrap();
    // Long-running: no auto-termination, so no later apply finds it gone and re-creates it.
    assert_eq!(idle.auto_termination_policy(), None, "{idle:?}");

    // The dashboard grew with the stage.
    let dashboard = aws
        .cloudwatch
        .get_dashboard()
        .dashboard_name(format!("{env}-overview"))
        .send()
        .await
        .unwrap();
    let body = dashboard.dashboard_body().unwrap();
    for row in [
        "## Service api",
        "## File system shared",
        "## EMR cluster analytics",
        "## Cache session",
        "## Table orders",
        "## Queue payments",
    ] {
        assert!(body.contains(row), "no {row} in the dashboard");
    }

    // A second run plans nothing.
    ftctl(&with_vars(
        vec!["plan", "stage3", "--env", &env, "--detailed-exitcode"],
        &[],
    ))
    .success();

    // stage3 → stage2: exactly the stage3 parts go.
    let changes = plan_changes("stage2", &env, &[]);
    assert_eq!(only("delete", &changes), stage3_additions());
    assert_eq!(only("update", &changes), route_tables(), "{changes:?}");
    assert_eq!(
        changes.len(),
        stage3_additions().len() + route_tables().len(),
        "{changes:?}"
    );
    ftctl(&with_vars(
        vec!["apply", "stage2", "--env", &env, "--yes"],
        &[],
    ))
    .ok();
    let left = aws
        .ecs
        .describe_services()
        .cluster(&cluster)
        .services(format!("{env}-api"))
        .send()
        .await;
    let still_active = left
        .map(|l| l.services().iter().any(|s| s.status() == Some("ACTIVE")))
        .unwrap_or(false);
    assert!(!still_active, "the service survived the return to stage 2");
    assert!(plan_changes("stage2", &env, &[]).is_empty());

    destroy_leaving_nothing(&aws, &env).await;
    deployment.destroyed();
}

/// Route 53 may answer an alias target with a trailing dot and a `dualstack.` prefix.
fn ftctl_dns_matches(alias: &str, lb: &str) -> bool {
    let norm = |s: &str| {
        s.trim_end_matches('.')
            .to_lowercase()
            .trim_start_matches("dualstack.")
            .to_string()
    };
    norm(alias) == norm(lb)
}
