//! Stage 1 end to end against the local emulators: apply, describe everything back, plan no
//! changes, change one parameter, destroy, and refuse bad input before any AWS call.

use crate::support::*;

#[test]
fn bad_stack_files_are_refused_before_any_aws_call() {
    // Every endpoint points at a listener that records connections: there must be none.
    let no_aws = NoAws::new();
    let endpoints = no_aws.env();
    let dir = tempfile::tempdir().unwrap();
    type Edit = fn(String) -> String;
    let cases: [(&str, Edit, &str, &str); 5] = [
        (
            "unknown key",
            |t| {
                t.replacen(
                    "instance_type = \"t3.micro\"",
                    "instance_type = \"t3.micro\"\ninstance_typo = 1",
                    1,
                )
            },
            "tiers.web.instance_typo",
            "unknown field",
        ),
        (
            "wrong type",
            |t| t.replacen("max_size = 6", "max_size = \"six\"", 1),
            "tiers.web.max_size",
            "invalid type",
        ),
        (
            "invalid CIDR",
            |t| t.replace("cidr = \"10.0.0.0/16\"", "cidr = \"10.0.0.0/33\""),
            "network.cidr",
            "not an IPv4 CIDR block",
        ),
        (
            "min above max",
            |t| t.replacen("min_size = 2", "min_size = 7", 1),
            "tiers.web.min_size",
            "greater than max_size",
        ),
        (
            "one zone",
            |t| t.replace("az_count = 2 ", "az_count = 1 "),
            "network.az_count",
            "at least 2 availability zones",
        ),
    ];
    for (i, (what, edit, field, message)) in cases.iter().enumerate() {
        let path = edited_stack(dir.path(), &format!("bad{i}.toml"), edit);
        let text = std::fs::read_to_string(&path).unwrap();
        let original = std::fs::read_to_string(repo().join("stacks/stage1.toml")).unwrap();
        // The line that differs from the shipped stack is where the error must point.
        let line = text
            .lines()
            .zip(original.lines())
            .position(|(a, b)| a != b)
            .unwrap()
            + 1;
        for command in ["plan", "apply"] {
            let mut args = vec![command, path.to_str().unwrap(), "--env", "bad"];
            if command == "apply" {
                args.push("--yes");
            }
            let run = ftctl_with(&args, &endpoints);
            assert_eq!(run.code, 1, "{what}: {command} exit code\n{}", run.stderr);
            let location = format!("{}:{line}:", path.display());
            assert!(
                run.stderr.contains(&location),
                "{what}: no {location} in\n{}",
                run.stderr
            );
            assert!(
                run.stderr.contains(field),
                "{what}: no {field} in\n{}",
                run.stderr
            );
            assert!(
                run.stderr.contains(message),
                "{what}: no `{message}` in\n{}",
                run.stderr
            );
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
    // A --var is checked the same way.
    ftctl_with(
        &["plan", "stage1", "--var", "tiers.app.max_size=0"],
        &endpoints,
    )
    .failure(1)
    .stderr_has("--var tiers.app.max_size=0");
    no_aws.assert_untouched();
}

#[tokio::test(flavor = "multi_thread")]
async fn stage1_apply_describe_update_destroy() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("lc");
    let env = deployment.created().to_string();
    let aws = aws().await;

    let run = ftctl(&["apply", "stage1", "--env", &env, "--yes"]).ok();
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    assert!(run.stdout.contains("Plan: 58 to add"), "{}", run.stdout);
    // The prompt's place repeats the total (--yes answers it).
    assert!(
        run.stdout
            .contains("Once applied, the deployment costs about $"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("network.vpc: Creation complete"),
        "{}",
        run.stdout
    );

    // Network: a public and a private subnet in each of two zones, all tagged.
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(tag_filter(&env))
        .send()
        .await
        .unwrap();
    let subnets = subnets.subnets();
    assert_eq!(subnets.len(), 4);
    let zones: std::collections::BTreeSet<_> = subnets
        .iter()
        .filter_map(|s| s.availability_zone())
        .collect();
    assert_eq!(zones.len(), 2, "{zones:?}");
    let tag = |tags: &[aws_sdk_ec2::types::Tag], key: &str| {
        tags.iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    let private: Vec<String> = subnets
        .iter()
        .filter(|s| {
            tag(s.tags(), "ftctl:logical-id").is_some_and(|id| id.starts_with("network.private."))
        })
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    assert_eq!(private.len(), 2);
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .filters(tag_filter(&env))
        .send()
        .await
        .unwrap();
    let vpc = &vpcs.vpcs()[0];
    assert_eq!(
        tag(vpc.tags(), "ftctl:logical-id").as_deref(),
        Some("network.vpc")
    );
    assert_eq!(tag(vpc.tags(), "ftctl:stack").as_deref(), Some("stage1"));
    assert_eq!(
        tag(vpc.tags(), "ftctl:deployment").as_deref(),
        Some(env.as_str())
    );

    // Both balancers, with the right schemes, across both zones.
    let lbs = aws
        .elb
        .describe_load_balancers()
        .names(format!("{env}-public"))
        .names(format!("{env}-internal"))
        .send()
        .await
        .unwrap();
    let scheme = |name: &str| {
        lbs.load_balancers()
            .iter()
            .find(|l| l.load_balancer_name() == Some(name))
            .map(|l| {
                (
                    l.scheme().unwrap().as_str().to_string(),
                    l.availability_zones().len(),
                )
            })
    };
    assert_eq!(
        scheme(&format!("{env}-public")),
        Some(("internet-facing".into(), 2))
    );
    assert_eq!(
        scheme(&format!("{env}-internal")),
        Some(("internal".into(), 2))
    );

    // Security groups chain: the web tier admits only the public balancer's group.
    let sgs = aws
        .ec2
        .describe_security_groups()
        .filters(tag_filter(&env))
        .send()
        .await
        .unwrap();
    let group = |name: &str| {
        sgs.security_groups()
            .iter()
            .find(|g| g.group_name() == Some(name))
            .unwrap()
    };
    let web = group(&format!("{env}-web-tier"));
    let public_lb = group(&format!("{env}-public-lb"));
    assert_eq!(web.ip_permissions().len(), 1);
    assert!(
        web.ip_permissions()[0].ip_ranges().is_empty(),
        "web tier open to a CIDR"
    );
    assert_eq!(
        web.ip_permissions()[0].user_id_group_pairs()[0].group_id(),
        public_lb.group_id()
    );
    let db_sg = group(&format!("{env}-main-db"));
    let app = group(&format!("{env}-app-tier"));
    assert_eq!(db_sg.ip_permissions()[0].from_port(), Some(3306));
    assert_eq!(
        db_sg.ip_permissions()[0].user_id_group_pairs()[0].group_id(),
        app.group_id()
    );

    // Both groups in every private subnet, with ELB health checks, behind their target groups.
    for tier in ["web", "app"] {
        let name = format!("{env}-{tier}");
        let out = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&name)
            .send()
            .await
            .unwrap();
        let g = &out.auto_scaling_groups()[0];
        let mut zones_of_group: Vec<&str> = g.vpc_zone_identifier().unwrap().split(',').collect();
        zones_of_group.sort();
        let mut want: Vec<&str> = private.iter().map(String::as_str).collect();
        want.sort();
        assert_eq!(zones_of_group, want, "{name} subnets");
        assert_eq!(g.health_check_type(), Some("ELB"));
        assert_eq!(g.health_check_grace_period(), Some(120));
        assert_eq!(g.target_group_arns().len(), 1);
        assert_eq!(g.instances().len(), 2, "{name} instances");
        // The tier has fallback types: its template is in the mixed instances policy.
        let lt = g
            .mixed_instances_policy()
            .and_then(|p| p.launch_template())
            .and_then(|t| t.launch_template_specification())
            .or(g.launch_template())
            .and_then(|t| t.launch_template_id())
            .unwrap();
        let versions = aws
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(lt)
            .versions("$Default")
            .send()
            .await
            .unwrap();
        let data = versions.launch_template_versions()[0]
            .launch_template_data()
            .unwrap();
        assert_eq!(
            data.metadata_options()
                .and_then(|m| m.http_tokens())
                .map(|t| t.as_str()),
            Some("required")
        );
        assert_eq!(
            data.block_device_mappings()[0]
                .ebs()
                .and_then(|e| e.encrypted()),
            Some(true)
        );
        // The instances' role (through its profile) lets them publish their request metric.
        assert_eq!(
            data.iam_instance_profile().and_then(|p| p.name()),
            Some(format!("{env}-{tier}-profile-us-east-1").as_str())
        );
    }

    // The database: Multi-AZ, encrypted, private, backed up, password kept by RDS.
    let dbs = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("{env}-main"))
        .send()
        .await
        .unwrap();
    let db = &dbs.db_instances()[0];
    assert_eq!(db.multi_az(), Some(true));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.backup_retention_period(), Some(7));
    assert_eq!(db.deletion_protection(), Some(true));
    assert_eq!(db.engine(), Some("mysql"));

    // Alarms: one per tier concern, every one notifying the deployment's topic.
    let topics = aws.sns.list_topics().send().await.unwrap();
    let topic = topics
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .find(|arn| arn.ends_with(&format!(":{env}-alerts")))
        .expect("the alerts topic")
        .to_string();
    let alarms = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{env}-"))
        .send()
        .await
        .unwrap();
    let alarms = alarms.metric_alarms();
    assert_eq!(alarms.len(), 8);
    for a in alarms {
        assert_eq!(
            a.alarm_actions(),
            std::slice::from_ref(&topic),
            "{:?}",
            a.alarm_name()
        );
    }
    let capacity = alarms
        .iter()
        .find(|a| a.alarm_name() == Some(&format!("{env}-web-in-service")))
        .unwrap();
    assert_eq!(capacity.metric_name(), Some("GroupInServiceInstances"));
    assert_eq!(
        capacity.dimensions()[0].value(),
        Some(format!("{env}-web").as_str())
    );
    assert_eq!(
        (capacity.period(), capacity.evaluation_periods()),
        (Some(60), Some(5))
    );

    // A second run plans nothing.
    ftctl(&["plan", "stage1", "--env", &env, "--detailed-exitcode"])
        .success()
        .stdout_has("No changes");

    // One parameter changed: exactly one in-place update, which apply converges.
    let run = ftctl(&[
        "plan",
        "stage1",
        "--env",
        &env,
        "--var",
        "tiers.web.max_size=8",
        "--json",
        "--detailed-exitcode",
    ])
    .failure(2);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["id"], "tier.web.asg");
    assert_eq!(changes[0]["action"], "update");
    assert_eq!(changes[0]["attributes"][0]["name"], "max_size");
    assert_eq!(changes[0]["attributes"][0]["before"], 6);
    assert_eq!(changes[0]["attributes"][0]["after"], 8);
    ftctl(&[
        "apply",
        "stage1",
        "--env",
        &env,
        "--var",
        "tiers.web.max_size=8",
        "--yes",
    ])
    .ok();
    let out = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(format!("{env}-web"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.auto_scaling_groups()[0].max_size(), Some(8));
    ftctl(&[
        "plan",
        "stage1",
        "--env",
        &env,
        "--var",
        "tiers.web.max_size=8",
        "--detailed-exitcode",
    ])
    .success();

    // The access logs age as [retention] says (Standard-IA at 30 days, Glacier at 90, gone at
    // 365); the evidence records too, but never into Glacier, where they could not be read.
    let logs = format!("{env}-lb-logs-000000000000-us-east-1");
    let evidence = format!("{env}-evidence-000000000000-us-east-1");
    assert_eq!(lifecycle_of(&aws, &logs, "").await, (30, 90, 365));
    assert_eq!(
        lifecycle_of(&aws, &evidence, "evidence/").await,
        (30, 0, 365)
    );
    let longer = ["tiers.web.max_size=8", "retention.expire_after_days=400"];
    let mut args = vec!["plan", "stage1", "--env", &env, "--json"];
    for v in longer {
        args.extend(["--var", v]);
    }
    let run = ftctl(&args).ok();
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["id"], "logs.balancers");
    assert_eq!(changes[0]["action"], "update");
    assert_eq!(changes[0]["attributes"][0]["name"], "lifecycle");
    args[0] = "apply";
    args.retain(|a| *a != "--json");
    args.push("--yes");
    ftctl(&args).ok();
    assert_eq!(lifecycle_of(&aws, &logs, "").await, (30, 90, 400));
    assert_eq!(
        lifecycle_of(&aws, &evidence, "evidence/").await,
        (30, 0, 400)
    );
    args[0] = "plan";
    args.pop();
    args.push("--detailed-exitcode");
    ftctl(&args).success();

    // Destroy refuses the protected database, deletes the rest, and a second run finishes.
    ftctl(&["destroy", "--env", &env, "--yes", "--skip-final-snapshot"])
        .failure(1)
        .stderr_has("deletion protection");
    assert!(leftovers(&aws, &env)
        .await
        .iter()
        .any(|l| l.starts_with("db ")));
    ftctl(&[
        "destroy",
        "--env",
        &env,
        "--yes",
        "--skip-final-snapshot",
        "--delete-evidence",
        "--disable-deletion-protection",
    ])
    .ok();
    let left = leftovers(&aws, &env).await;
    assert!(left.is_empty(), "left behind: {left:?}");
    let run = ftctl(&["destroy", "--env", &env, "--yes"]).ok();
    assert!(run.stdout.contains("nothing to destroy"), "{}", run.stdout);
    deployment.destroyed();
}

#[tokio::test(flavor = "multi_thread")]
async fn deployments_side_by_side_do_not_touch_each_other() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroys.
    let (mut da, mut db) = (TestDeployment::new("sa"), TestDeployment::new("sb"));
    let (a, b) = (da.created().to_string(), db.created().to_string());
    let aws = aws().await;
    let unprotected = "databases.main.deletion_protection=false";
    ftctl(&[
        "apply",
        "stage1",
        "--env",
        &a,
        "--yes",
        "--var",
        unprotected,
    ])
    .ok();
    ftctl(&[
        "apply",
        "stage1",
        "--env",
        &b,
        "--yes",
        "--var",
        unprotected,
    ])
    .ok();
    let before_b = leftovers(&aws, &b).await;
    assert!(before_b.len() > 20, "{before_b:?}");
    // (the balancers have deletion protection: an unprotected database is not enough)
    ftctl(&[
        "destroy",
        "--env",
        &a,
        "--yes",
        "--skip-final-snapshot",
        "--delete-evidence",
        "--disable-deletion-protection",
    ])
    .ok();
    assert!(leftovers(&aws, &a).await.is_empty());
    let mut after_b = leftovers(&aws, &b).await;
    let mut before_b = before_b;
    before_b.sort();
    after_b.sort();
    assert_eq!(before_b, after_b, "destroying {a} changed {b}");
    ftctl(&[
        "plan",
        "stage1",
        "--env",
        &b,
        "--var",
        unprotected,
        "--detailed-exitcode",
    ])
    .success();
    ftctl(&[
        "destroy",
        "--env",
        &b,
        "--yes",
        "--skip-final-snapshot",
        "--delete-evidence",
        "--disable-deletion-protection",
    ])
    .ok();
    assert!(leftovers(&aws, &b).await.is_empty());
    da.destroyed();
    db.destroyed();
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_without_a_terminal_needs_yes() {
    let _emulators = emulators().await;
    let env = unique_env("ny");
    let run = ftctl(&["apply", "stage1", "--env", &env])
        .failure(1)
        .stderr_has("pass --yes");
    assert!(
        run.stdout.contains("Plan: 58 to add"),
        "the plan is shown first: {}",
        run.stdout
    );
    assert!(
        leftovers(&aws().await, &env).await.is_empty(),
        "apply changed something without --yes"
    );
}

/// The transitions to Standard-IA and Glacier and the expiry (days, 0 for none) of the rule
/// ftctl keeps on `bucket`, after checking it covers the objects under `prefix`.
async fn lifecycle_of(aws: &Aws, bucket: &str, prefix: &str) -> (i32, i32, i32) {
    use aws_sdk_s3::types::TransitionStorageClass;
    let got = aws
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("lifecycle of {bucket}: {e:?}"));
    let rule = got
        .rules()
        .iter()
        .find(|r| r.id() == Some("ftctl-age"))
        .unwrap_or_else(|| panic!("no ftctl rule on {bucket}: {:?}", got.rules()));
    assert_eq!(
        rule.filter().and_then(|f| f.prefix()).unwrap_or_default(),
        prefix
    );
    let after = |class: TransitionStorageClass| {
        rule.transitions()
            .iter()
            .find(|t| t.storage_class() == Some(&class))
            .and_then(|t| t.days())
            .unwrap_or(0)
    };
    (
        after(TransitionStorageClass::StandardIa),
        after(TransitionStorageClass::Glacier),
        rule.expiration().and_then(|e| e.days()).unwrap_or(0),
    )
}
