//! Operations commands against the local emulators: `ftctl check` on stacks as planned (no AWS
//! call) and on a live deployment, including drift made outside ftctl.

use crate::support::*;
use serde_json::Value;

/// The controls issue 15 named, which the shipped stacks meet by default.
const SECURE_DEFAULTS: [&str; 12] = [
    "SNS.1",
    "KMS.4",
    "RDS.26",
    "EC2.2",
    "EC2.21",
    "ELB.4",
    "ELB.5",
    "ELB.6",
    "RDS.10",
    "RDS.39",
    "SSM.1",
    "AutoScaling.6",
];

/// (severity, control, resource) of the findings that count (not opted out by the stack).
fn findings(run: &Run) -> Vec<(String, String, String)> {
    let doc: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("check --json: {e}\n{}\n{}", run.stdout, run.stderr));
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("opted_out").is_none())
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["control"].as_str().unwrap().to_string(),
                f["resource"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The outcome `check --json` gives a control.
fn outcome(run: &Run, control: &str) -> String {
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    doc["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == control)
        .map(|c| c["outcome"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("{control} not reported: {}", run.stdout))
}

#[test]
fn check_judges_stacks_as_planned_without_calling_aws() {
    let no_aws = NoAws::new();
    let env = no_aws.env();
    for stage in ["stage1", "stage2", "stage3"] {
        let run = ftctl_with(&["check", stage, "--json"], &env);
        assert_eq!(run.code, 0, "{stage}: {}\n{}", run.stdout, run.stderr);
        assert!(findings(&run).is_empty(), "{stage}: {}", run.stdout);
        // Every control the issue names, judged on what the stage plans to build.
        for control in SECURE_DEFAULTS {
            assert_eq!(outcome(&run, control), "passed", "{stage} {control}");
        }
        // What the shipped stack opts out of is shown with its reason, not as a failure.
        assert_eq!(outcome(&run, "ELB.1"), "opted_out", "{stage}");
        assert_eq!(outcome(&run, "RDS.9"), "opted_out", "{stage}");
        assert_eq!(outcome(&run, "ELB.16"), "opted_out", "{stage}");
    }
    // Each control weakened in the stack file is reported with its id.
    let weakened: [(&str, &str, &str); 9] = [
        ("load_balancers.public.waf=false", "ELB.16", "lb.public"),
        ("databases.main.aws_backup=false", "RDS.26", "db.main"),
        (
            "load_balancers.public.deletion_protection=false",
            "ELB.6",
            "lb.public",
        ),
        (
            "load_balancers.public.access_logs=false",
            "ELB.5",
            "lb.public",
        ),
        ("databases.main.iam_auth=false", "RDS.10", "db.main"),
        ("tiers.web.ssm=false", "SSM.1", "tier.web.role"),
        (
            "tiers.web.fallback_instance_types=[]",
            "AutoScaling.6",
            "tier.web.asg",
        ),
        (
            "load_balancers.public.port=22",
            "EC2.21",
            "network.acl.public",
        ),
        ("opt_out=[]", "ELB.1", "lb.public.listener"),
    ];
    for (var, control, resource) in weakened {
        let run = ftctl_with(&["check", "stage1", "--json", "--var", var], &env);
        assert_eq!(run.code, 2, "{var}: {}\n{}", run.stdout, run.stderr);
        let found = findings(&run);
        assert!(
            found.iter().any(|(_, c, r)| c == control && r == resource),
            "{var}: no {control} on {resource} in {found:?}"
        );
        assert_eq!(outcome(&run, control), "failed", "{var}");
    }
    // An opt-out must name a control ftctl checks, say why, and cover resources the stack has.
    let refused = [
        (
            "opt_out=[{control=\"ELB.99\", reason=\"no such control here\"}]",
            "opt_out.0.control: `ELB.99` is not a control ftctl checks",
        ),
        (
            "opt_out=[{control=\"ELB.6\", reason=\"x\"}]",
            "opt_out.0.reason: say why the stack does not meet the control",
        ),
        (
            "opt_out=[{control=\"RDS.5\", reason=\"a dev database\", resources=[\"db.nope\"]}]",
            "opt_out.0.resources.0: `db.nope` names no resource of this stack",
        ),
    ];
    for (var, message) in refused {
        let run = ftctl_with(&["check", "stage1", "--var", var], &env);
        assert_eq!(run.code, 1, "{var}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{var}: {}", run.stderr);
    }
    // Weakened: the worst finding decides the exit code (3 high or critical, 2 medium or low).
    let run = ftctl_with(
        &[
            "check",
            "stage2",
            "--json",
            "--var",
            "databases.main.multi_az=false",
            "--var",
            "tiers.web.min_size=1",
            "--var",
            "tiers.web.desired_capacity=1",
            "--var",
            "caches.session.transit_encryption=false",
        ],
        &env,
    );
    // (transit_encryption is not a stack setting: ftctl always encrypts; the stack refuses it.)
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("caches.session.transit_encryption"),
        "{}",
        run.stderr
    );
    let run = ftctl_with(
        &[
            "check",
            "stage2",
            "--json",
            "--var",
            "databases.main.multi_az=false",
            "--var",
            "tiers.web.min_size=1",
            "--var",
            "tiers.web.desired_capacity=1",
        ],
        &env,
    )
    .failure(2);
    let found = findings(&run);
    assert_eq!(found[0].0, "medium");
    assert!(found.contains(&("medium".into(), "RDS.5".into(), "db.main".into())));
    assert!(found.contains(&(
        "medium".into(),
        "ftctl.min-capacity".into(),
        "tier.web.asg".into()
    )));
    ftctl_with(
        &[
            "check",
            "stage1",
            "--var",
            "tiers.app.min_size=1",
            "--var",
            "tiers.app.desired_capacity=1",
        ],
        &env,
    )
    .failure(2)
    .stdout_has("fewer than 2 instances");
    no_aws.assert_untouched();
}

/// What check --live judged, read straight from the emulators: the VPC's default security group
/// and ACL empty, the subnets on ACLs admitting neither 22 nor 3389 from anywhere, the
/// balancers' attributes, the database's parameter group and settings, the instances' role and
/// the groups' instance types.
async fn secure_defaults_are_what_aws_holds(aws: &Aws, env: &str) {
    // The alarm topic is encrypted with the deployment's key, which rotates (SNS.1, KMS.4).
    let topic = format!("arn:aws:sns:us-east-1:000000000000:{env}-alerts");
    let attributes = aws
        .sns
        .get_topic_attributes()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    let key = attributes.attributes().unwrap()["KmsMasterKeyId"].clone();
    let alias = aws.kms.list_aliases().send().await.unwrap();
    let target = alias
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some(format!("alias/{env}-alerts").as_str()))
        .and_then(|a| a.target_key_id())
        .expect("the key's alias");
    assert!(
        key.ends_with(&format!(":key/{target}")),
        "{key} is not {target}"
    );
    let rotation = aws
        .kms
        .get_key_rotation_status()
        .key_id(target)
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled());
    let policy = aws
        .kms
        .get_key_policy()
        .key_id(target)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert!(
        policy
            .policy()
            .unwrap()
            .contains("cloudwatch.amazonaws.com"),
        "CloudWatch may not use the key: alarms would be dropped"
    );
    // The public balancer is behind the deployment's web ACL (ELB.16).
    let lbs = aws
        .elb
        .describe_load_balancers()
        .names(format!("{env}-public"))
        .send()
        .await
        .unwrap();
    let lb_arn = lbs.load_balancers()[0].load_balancer_arn().unwrap();
    let acl = aws
        .wafv2
        .get_web_acl_for_resource()
        .resource_arn(lb_arn)
        .send()
        .await
        .unwrap();
    let acl = acl.web_acl().expect("a web ACL on the public balancer");
    assert_eq!(acl.name(), format!("{env}-public-lb"));
    let groups: Vec<&str> = acl
        .rules()
        .iter()
        .filter_map(|r| r.statement()?.managed_rule_group_statement())
        .map(|g| g.name())
        .collect();
    assert_eq!(
        groups,
        [
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet"
        ]
    );
    // The database is in the deployment's backup plan, by ARN (RDS.26).
    let plans = aws.backup.list_backup_plans().send().await.unwrap();
    let plan = plans
        .backup_plans_list()
        .iter()
        .find(|p| p.backup_plan_name() == Some(format!("{env}-databases").as_str()))
        .expect("the backup plan");
    let selections = aws
        .backup
        .list_backup_selections()
        .backup_plan_id(plan.backup_plan_id().unwrap())
        .send()
        .await
        .unwrap();
    let selection = aws
        .backup
        .get_backup_selection()
        .backup_plan_id(plan.backup_plan_id().unwrap())
        .selection_id(
            selections.backup_selections_list()[0]
                .selection_id()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let resources = selection.backup_selection().unwrap().resources();
    assert!(
        resources
            .iter()
            .any(|r| r.ends_with(&format!(":db:{env}-main"))),
        "{resources:?}"
    );
    let vpc = aws
        .ec2
        .describe_vpcs()
        .filters(tag_filter(env))
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", &vpc))
        .filters(filter("group-name", "default"))
        .send()
        .await
        .unwrap();
    let default = &groups.security_groups()[0];
    assert!(default.ip_permissions().is_empty() && default.ip_permissions_egress().is_empty());
    let acls = aws
        .ec2
        .describe_network_acls()
        .filters(filter("vpc-id", &vpc))
        .send()
        .await
        .unwrap();
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(filter("vpc-id", &vpc))
        .send()
        .await
        .unwrap()
        .subnets()
        .len();
    let mut associated = 0;
    for acl in acls.network_acls() {
        let allows: Vec<_> = acl
            .entries()
            .iter()
            .filter(|e| e.rule_action() == Some(&aws_sdk_ec2::types::RuleAction::Allow))
            .collect();
        if acl.is_default() == Some(true) {
            assert!(acl.associations().is_empty(), "a subnet on the default ACL");
            assert!(allows.is_empty(), "the default ACL admits {allows:?}");
            continue;
        }
        associated += acl.associations().len();
        for e in allows.iter().filter(|e| e.egress() == Some(false)) {
            let anywhere =
                e.cidr_block() == Some("0.0.0.0/0") || e.ipv6_cidr_block() == Some("::/0");
            if !anywhere {
                continue;
            }
            let r = e.port_range().expect("no all-ports rule from anywhere");
            for port in [22, 3389] {
                assert!(
                    !(r.from().unwrap()..=r.to().unwrap()).contains(&port),
                    "{e:?} admits {port}"
                );
            }
        }
    }
    assert_eq!(associated, subnets, "every subnet on an ACL of ftctl's");
    let lbs = aws.elb.describe_load_balancers().send().await.unwrap();
    let mine: Vec<_> = lbs
        .load_balancers()
        .iter()
        .filter(|l| {
            l.load_balancer_name()
                .unwrap()
                .starts_with(&format!("{env}-"))
        })
        .collect();
    assert_eq!(
        mine.len(),
        2,
        "the public and the internal balancer: {mine:?}"
    );
    for lb in mine {
        let attrs = aws
            .elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(lb.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        let get = |k: &str| {
            attrs
                .attributes()
                .iter()
                .find(|a| a.key() == Some(k))
                .and_then(|a| a.value())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(
            get("routing.http.drop_invalid_header_fields.enabled"),
            "true"
        );
        assert_eq!(get("deletion_protection.enabled"), "true");
        assert_eq!(get("access_logs.s3.enabled"), "true");
        let bucket = get("access_logs.s3.bucket");
        let policy = aws
            .s3
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        assert!(
            policy
                .policy()
                .unwrap()
                .contains("logdelivery.elasticloadbalancing.amazonaws.com"),
            "{bucket}"
        );
        // us-east-1 opened before August 2022: ELB's own account there may write too.
        assert!(
            policy
                .policy()
                .unwrap()
                .contains("arn:aws:iam::127311923021:root"),
            "{bucket}"
        );
    }
    let db = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("{env}-main"))
        .send()
        .await
        .unwrap();
    let db = &db.db_instances()[0];
    assert_eq!(db.iam_database_authentication_enabled(), Some(true));
    let mut exports = db.enabled_cloudwatch_logs_exports().to_vec();
    exports.sort();
    assert_eq!(exports, ["error", "slowquery"]);
    let group = db.db_parameter_groups()[0]
        .db_parameter_group_name()
        .unwrap();
    let params = aws
        .rds
        .describe_db_parameters()
        .db_parameter_group_name(group)
        .source("user")
        .send()
        .await
        .unwrap();
    assert!(
        params
            .parameters()
            .iter()
            .any(|p| p.parameter_name() == Some("require_secure_transport")
                && p.parameter_value() == Some("1")),
        "{group}: {:?}",
        params.parameters()
    );
    for tier in ["web", "app"] {
        let role = aws
            .iam
            .list_attached_role_policies()
            .role_name(format!("{env}-{tier}-instance-us-east-1"))
            .send()
            .await
            .unwrap();
        assert!(role.attached_policies().iter().any(
            |p| p.policy_arn() == Some("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
        ));
        let groups = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(format!("{env}-{tier}"))
            .send()
            .await
            .unwrap();
        let types: Vec<&str> = groups.auto_scaling_groups()[0]
            .mixed_instances_policy()
            .and_then(|p| p.launch_template())
            .map(|t| {
                t.overrides()
                    .iter()
                    .filter_map(|o| o.instance_type())
                    .collect()
            })
            .unwrap_or_default();
        // The stack's order of preference: instance_type, then its fallbacks.
        let want: &[&str] = match tier {
            "web" => &["t3.micro", "t3a.micro", "t2.micro"],
            _ => &["t3.small", "t3a.small", "t2.small"],
        };
        assert_eq!(types, want, "{tier}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reads_the_live_deployment_and_finds_drift() {
    let _emulators = emulators().await;
    // Destroyed when the test fails part-way too (the end destroys and checks it left nothing).
    let mut deployment = TestDeployment::new("ck");
    let env = deployment.created().to_string();
    let aws = aws().await;
    // The deployment's own trail is opt-in (audit.trail): this test opts in.
    let trail_on = ["--var", "audit.trail=true"];
    let mut args = vec![
        "apply",
        "stage1",
        "--env",
        &env,
        "--yes",
        "--publish-metrics",
    ];
    args.extend(trail_on);
    ftctl(&args).ok();
    // The apply published its own metrics.
    let metrics = aws
        .cloudwatch
        .list_metrics()
        .namespace("ftctl/Deploy")
        .send()
        .await
        .unwrap();
    let published: Vec<&str> = metrics
        .metrics()
        .iter()
        .filter(|m| {
            m.dimensions()
                .iter()
                .any(|d| d.name() == Some("Deployment") && d.value() == Some(env.as_str()))
        })
        .filter_map(|m| m.metric_name())
        .collect();
    for name in ["ApplySeconds", "ResourcesChanged", "ApplySucceeded"] {
        assert!(published.contains(&name), "{name} not in {published:?}");
    }
    let check = [
        "check",
        "stage1",
        "--live",
        "--env",
        &env,
        "--json",
        "--var",
        "audit.trail=true",
    ];
    let run = ftctl(&check).success();
    assert!(findings(&run).is_empty(), "{}", run.stdout);
    for control in SECURE_DEFAULTS {
        assert_eq!(outcome(&run, control), "passed", "live {control}");
    }
    secure_defaults_are_what_aws_holds(&aws, &env).await;
    // A second alias someone gives the key is not a second key (deleting it as a duplicate
    // would schedule the deletion of the key the topic uses).
    let key_id = aws
        .kms
        .describe_key()
        .key_id(format!("alias/{env}-alerts"))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    let extra = format!("alias/{env}-zz-by-hand");
    aws.kms
        .create_alias()
        .alias_name(&extra)
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();
    // ftctl plan stage1 --env ck… --var audit.trail=true
    let plan = ftctl(&["plan", "stage1", "--env", &env, "--var", "audit.trail=true"]).ok();
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    aws.kms
        .delete_alias()
        .alias_name(&extra)
        .send()
        .await
        .unwrap();

    // The dashboard has a row for every component and the state of every alarm.
    let dashboard = aws
        .cloudwatch
        .get_dashboard()
        .dashboard_name(format!("{env}-overview"))
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(dashboard.dashboard_body().unwrap()).unwrap();
    let widgets = body["widgets"].as_array().unwrap();
    let rows: Vec<&str> = widgets
        .iter()
        .filter_map(|w| w["properties"]["markdown"].as_str())
        .collect();
    for row in [
        "## Load balancer public",
        "## Load balancer internal",
        "## Tier web",
        "## Tier app",
        "## Database main",
    ] {
        assert!(rows.contains(&row), "no {row} in {rows:?}");
    }
    let web_in_service = widgets.iter().any(|w| {
        w["properties"]["metrics"].as_array().is_some_and(|m| {
            m.iter().any(|line| {
                line[1] == "GroupInServiceInstances" && line[3] == format!("{env}-web").as_str()
            })
        })
    });
    assert!(
        web_in_service,
        "the web tier's in-service metric is not charted"
    );
    let alarm_widget = widgets.iter().find(|w| w["type"] == "alarm").unwrap();
    assert_eq!(
        alarm_widget["properties"]["alarms"]
            .as_array()
            .unwrap()
            .len(),
        8,
        "every alarm of stage1"
    );

    // The audit trail: every region, log-file validation, logging, into the deployment's
    // encrypted bucket, which only CloudTrail may write to.
    let trails = aws
        .cloudtrail
        .describe_trails()
        .trail_name_list(format!("{env}-us-east-1-trail"))
        .send()
        .await
        .unwrap();
    let trail = &trails.trail_list()[0];
    assert_eq!(trail.is_multi_region_trail(), Some(true));
    assert_eq!(trail.log_file_validation_enabled(), Some(true));
    let status = aws
        .cloudtrail
        .get_trail_status()
        .name(format!("{env}-us-east-1-trail"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.is_logging(), Some(true));
    let bucket = trail.s3_bucket_name().unwrap();
    let policy = aws
        .s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let policy = policy.policy().unwrap();
    assert!(policy.contains("cloudtrail.amazonaws.com"), "{policy}");
    // Only this trail of this account may write (CloudTrail's documented bucket policy).
    assert!(
        policy.contains(&format!(":trail/{env}-us-east-1-trail"))
            && policy.contains("aws:SourceAccount"),
        "{policy}"
    );
    let block = aws
        .s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        block
            .public_access_block_configuration()
            .and_then(|c| c.block_public_policy()),
        Some(true)
    );
    // ministack records no management events, so `trail` can only be shown to run and say so.
    let run = ftctl(&["trail", "--env", &env, "--since", "1h", "--json"]).ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["since_seconds"], 3600);
    ftctl(&["trail", "--env", &env, "--since", "1w"])
        .failure(1)
        .stderr_has("the unit is s, m, h or d");

    // Someone changes a group by hand, outside ftctl.
    aws.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(format!("{env}-web"))
        .max_size(9)
        .send()
        .await
        .unwrap();
    let run = ftctl(&check).failure(2);
    assert_eq!(
        findings(&run),
        vec![("medium".into(), "ftctl.drift".into(), "tier.web.asg".into())]
    );
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(doc["findings"][0]["finding"]
        .as_str()
        .unwrap()
        .contains("max_size"));
    // Someone turns the key's rotation off: reported as KMS.4, not only as drift.
    // (Rotation calls take a key id, not an alias: DescribeKey resolves it.)
    let key = aws
        .kms
        .describe_key()
        .key_id(format!("alias/{env}-alerts"))
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    aws.kms
        .disable_key_rotation()
        .key_id(key_id)
        .send()
        .await
        .unwrap();
    let run = ftctl(&check).failure(2);
    assert!(
        findings(&run).contains(&("medium".into(), "KMS.4".into(), "notifications.key".into())),
        "{}",
        run.stdout
    );

    destroy_leaving_nothing(&aws, &env).await;
    deployment.destroyed();
}

/// ministack evaluates alarms when metric data arrives: breaching data drives the web tier's
/// in-service alarm to ALARM, and `status` must show exactly the alarms CloudWatch reports in
/// ALARM, with their reasons, and call the deployment not steady.
#[tokio::test(flavor = "multi_thread")]
async fn status_shows_capacity_and_the_alarms_cloudwatch_reports() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("st");
    let env = deployment.created().to_string();
    let aws = aws().await;
    ftctl(&["apply", "stage1", "--env", &env, "--yes"]).ok();
    let run = ftctl(&["status", "--env", &env, "--json"]).ok();
    let doc: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    // (No steadiness claim here: ministack matches alarm metrics by name only, so data other
    // deployments put on the same emulator can already fire this one's alarms.)
    let tiers = doc["snapshot"]["tiers"].as_array().unwrap();
    assert_eq!(tiers.len(), 2);
    assert!(
        tiers.iter().all(|t| t["serving"] == 2 && t["desired"] == 2),
        "{tiers:?}"
    );

    let now = aws_smithy_types::DateTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    for _ in 0..5 {
        aws.cloudwatch
            .put_metric_data()
            .namespace("AWS/AutoScaling")
            .metric_data(
                aws_sdk_cloudwatch::types::MetricDatum::builder()
                    .metric_name("GroupInServiceInstances")
                    .dimensions(
                        aws_sdk_cloudwatch::types::Dimension::builder()
                            .name("AutoScalingGroupName")
                            .value(format!("{env}-web"))
                            .build(),
                    )
                    .value(0.0)
                    .timestamp(now)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let reported = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{env}-"))
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .send()
        .await
        .unwrap();
    let mut want: Vec<(String, String)> = reported
        .metric_alarms()
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap().to_string(),
                a.state_reason().unwrap_or_default().to_string(),
            )
        })
        .collect();
    want.sort();
    assert!(
        want.iter()
            .any(|(n, _)| n == &format!("{env}-web-in-service")),
        "the emulator did not evaluate the alarm: {want:?}"
    );

    let run = ftctl(&["status", "--env", &env, "--json"]).ok();
    let doc: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(doc["steady"], false, "{doc}");
    let mut shown: Vec<(String, String)> = doc["alarms_in_alarm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    shown.sort();
    assert_eq!(shown, want);
    assert!(doc["recent_alarm_changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["name"] == format!("{env}-web-in-service").as_str()
            && h["summary"].as_str().unwrap().contains("to ALARM")));
    let human = ftctl(&["status", "--env", &env]).ok();
    assert!(
        human
            .stdout
            .contains(&format!("{env}-web-in-service since")),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("steady: NO"), "{}", human.stdout);

    ftctl(&[
        "destroy",
        "--env",
        &env,
        "--yes",
        "--disable-deletion-protection",
        "--skip-final-snapshot",
        "--delete-evidence",
    ])
    .ok();
    deployment.destroyed();
}

async fn group_states(aws: &Aws, group: &str) -> (i32, Vec<(String, String)>) {
    let out = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    let g = &out.auto_scaling_groups()[0];
    let mut states: Vec<(String, String)> = g
        .instances()
        .iter()
        .map(|i| {
            (
                i.instance_id().unwrap().to_string(),
                i.lifecycle_state().unwrap().as_str().to_string(),
            )
        })
        .collect();
    states.sort();
    (g.desired_capacity().unwrap(), states)
}

#[tokio::test(flavor = "multi_thread")]
async fn isolate_moves_an_instance_to_standby_and_back_and_suggests_outliers() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("is");
    let env = deployment.created().to_string();
    let aws = aws().await;
    ftctl(&["apply", "stage1", "--env", &env, "--yes"]).ok();
    let group = format!("{env}-web");
    let (_, before) = group_states(&aws, &group).await;
    let victim = before[0].0.clone();

    let run = ftctl(&["isolate", &victim, "--env", &env]).ok();
    assert!(run.stdout.contains("is isolated"), "{}", run.stdout);
    let (desired, during) = group_states(&aws, &group).await;
    assert_eq!(desired, 2, "capacity is kept, not reduced");
    assert!(
        during.contains(&(victim.clone(), "Standby".into())),
        "{during:?}"
    );
    let in_service = during.iter().filter(|(_, s)| s == "InService").count();
    assert_eq!(
        in_service, 2,
        "a replacement serves while the instance is examined"
    );
    // An instance that is not the deployment's is refused.
    ftctl(&["isolate", "i-0123456789abcdef0", "--env", &env])
        .failure(1)
        .stderr_has("no Auto Scaling group");

    let run = ftctl(&["isolate", "--release", &victim, "--env", &env]).ok();
    assert!(run.stdout.contains("back in service"), "{}", run.stdout);
    let (_, after) = group_states(&aws, &group).await;
    assert!(
        after.contains(&(victim.clone(), "InService".into())),
        "{after:?}"
    );

    // One instance runs hot: --suggest names it (CPU data put where the emulator keeps it).
    let hot = after[0].0.clone();
    let now = aws_smithy_types::DateTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            - 60,
    );
    for (id, _) in &after {
        let cpu = if *id == hot { 95.0 } else { 20.0 };
        aws.cloudwatch
            .put_metric_data()
            .namespace("AWS/EC2")
            .metric_data(
                aws_sdk_cloudwatch::types::MetricDatum::builder()
                    .metric_name("CPUUtilization")
                    .dimensions(
                        aws_sdk_cloudwatch::types::Dimension::builder()
                            .name("InstanceId")
                            .value(id)
                            .build(),
                    )
                    .value(cpu)
                    .timestamp(now)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let run = ftctl(&["isolate", "--suggest", "--env", &env]).ok();
    assert!(
        run.stdout
            .contains(&format!("tier web: {hot} averages 95% CPU")),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("averages").count(), 1, "{}", run.stdout);

    ftctl(&[
        "destroy",
        "--env",
        &env,
        "--yes",
        "--disable-deletion-protection",
        "--skip-final-snapshot",
        "--delete-evidence",
    ])
    .ok();
    deployment.destroyed();
}

/// X-Ray for the app tier: `ftctl apply stage1` makes the group of the tier's traces and the
/// sampling rule (the emulator layer serves X-Ray as its API reference describes), a second
/// plan has nothing to do, and destroy removes both.
#[tokio::test(flavor = "multi_thread")]
async fn tracing_makes_the_app_tiers_group_and_sampling_rule() {
    let _emulators = emulators().await;
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("xr");
    let env = deployment.created().to_string();
    let aws = aws().await;
    let run = ftctl(&["plan", "stage1", "--env", &env, "--json"]).ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let planned: Vec<&str> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    for id in ["tier.app.xray-group", "tier.app.xray-sampling"] {
        assert!(planned.contains(&id), "{id} not planned: {planned:?}");
    }
    assert!(!planned.iter().any(|id| id.starts_with("tier.web.xray")));

    ftctl(&["apply", "stage1", "--env", &env, "--yes"]).ok();
    let groups = aws.xray.get_groups().send().await.unwrap();
    let group = groups
        .groups()
        .iter()
        .find(|g| g.group_name() == Some(format!("{env}-app").as_str()))
        .unwrap_or_else(|| panic!("no X-Ray group {env}-app: {groups:?}"));
    assert!(
        group
            .filter_expression()
            .unwrap_or_default()
            .contains(&format!("{env}-app")),
        "{group:?}"
    );
    let rules = aws.xray.get_sampling_rules().send().await.unwrap();
    let rule = rules
        .sampling_rule_records()
        .iter()
        .filter_map(|r| r.sampling_rule())
        .find(|r| r.rule_name().is_some_and(|n| n.starts_with(&env)))
        .unwrap_or_else(|| panic!("no sampling rule for {env}: {rules:?}"));
    assert_eq!(rule.fixed_rate(), 0.05);
    assert_eq!(rule.reservoir_size(), 1);

    let again = ftctl(&["plan", "stage1", "--env", &env, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    destroy_leaving_nothing(&aws, &env).await;
    deployment.destroyed();
}

/// Route 53 publishes health-check metrics in us-east-1 only, and an alarm notifies only a topic
/// of its own region: a deployment in eu-west-1 with a public zone gets its health-check alarm,
/// and a topic with the same subscriptions, in us-east-1; everything else stays home. The same
/// deployment name living in us-east-1 is another deployment: neither counts the other's
/// resources as its own, and destroying one leaves the other whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_public_zone_outside_us_east_1_is_watched_from_us_east_1() {
    let _emulators = emulators().await;
    // Both deployments go whatever happens (destroying one that does not exist is a no-op).
    let mut abroad = TestDeployment::new("r5").in_region("eu-west-1");
    let env = abroad.created().to_string();
    let mut at_home = TestDeployment::named(&env);
    at_home.created();
    let home = aws_in(Some("eu-west-1")).await;
    let virginia = aws_in(Some("us-east-1")).await;
    let public = [
        "--var",
        "dns.private=false",
        "--var",
        "dns.zone=\"shop.mycompany.net\"",
    ];
    let in_region = |region: &'static str| {
        let mut args: Vec<String> = public.iter().map(|s| s.to_string()).collect();
        args.extend(["--var".into(), format!("stack.region=\"{region}\"")]);
        args
    };
    let run_in = |verb: &str, region: &'static str| {
        let mut args = vec![
            verb.to_string(),
            "stage3".into(),
            "--env".into(),
            env.clone(),
        ];
        if verb == "apply" {
            args.push("--yes".into());
        }
        args.extend(in_region(region));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ftctl(&args)
    };
    // ftctl apply stage3 --env r5… --var stack.region="eu-west-1" --var dns.private=false ...
    let run = run_in("apply", "eu-west-1").ok();
    assert!(
        run.stdout
            .contains("add these NS records for shop.mycompany.net"),
        "{}",
        run.stdout
    );
    // HTTPS with an ACM certificate for the record, and HTTP redirecting to it (ELB.1).
    let lbs = home
        .elb
        .describe_load_balancers()
        .names(format!("{env}-public"))
        .send()
        .await
        .unwrap();
    let lb_arn = lbs.load_balancers()[0].load_balancer_arn().unwrap();
    let listeners = home
        .elb
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .unwrap();
    let https = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .expect("an HTTPS listener on 443");
    assert_eq!(https.protocol().map(|p| p.as_str()), Some("HTTPS"));
    assert_eq!(
        https.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-Res-2021-06")
    );
    let cert_arn = https.certificates()[0].certificate_arn().unwrap();
    let cert = home
        .acm
        .describe_certificate()
        .certificate_arn(cert_arn)
        .send()
        .await
        .unwrap();
    let cert = cert.certificate().unwrap();
    assert_eq!(cert.domain_name(), Some("www.shop.mycompany.net"));
    assert_eq!(
        cert.status(),
        Some(&aws_sdk_acm::types::CertificateStatus::Issued)
    );
    let validation = cert.domain_validation_options()[0]
        .resource_record()
        .expect("a validation record")
        .clone();
    let http = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(80))
        .expect("the HTTP listener");
    let redirect = http.default_actions()[0]
        .redirect_config()
        .expect("HTTP redirects");
    assert_eq!(
        (redirect.protocol(), redirect.port()),
        (Some("HTTPS"), Some("443"))
    );
    // The validation record is in the zone, where ACM renews through it.
    let zones = home.route53.list_hosted_zones().send().await.unwrap();
    let zone = zones
        .hosted_zones()
        .iter()
        .find(|z| {
            z.config()
                .and_then(|c| c.comment())
                .is_some_and(|c| c.contains(&format!("deployment={env} ")))
        })
        .expect("the deployment's zone");
    let records = home
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone.id())
        .send()
        .await
        .unwrap();
    assert!(
        records.resource_record_sets().iter().any(|r| {
            r.r#type() == &aws_sdk_route53::types::RrType::Cname
                && r.name().trim_end_matches('.') == validation.name().trim_end_matches('.')
        }),
        "the validation CNAME {} in the zone",
        validation.name()
    );
    // Behind CloudFront (stage 3's [edge]): the record names the distribution, for IPv4 and
    // IPv6; the distribution answers for the name with a certificate made in us-east-1.
    for record_type in [
        aws_sdk_route53::types::RrType::A,
        aws_sdk_route53::types::RrType::Aaaa,
    ] {
        let record = records
            .resource_record_sets()
            .iter()
            .find(|r| r.r#type() == &record_type && r.name().starts_with("www."))
            .unwrap_or_else(|| panic!("no {record_type:?} record for www"));
        let alias = record.alias_target().expect("an alias");
        assert_eq!(alias.hosted_zone_id(), "Z2FDTNDATAQYW2");
        assert!(
            alias
                .dns_name()
                .trim_end_matches('.')
                .ends_with(".cloudfront.net"),
            "{alias:?}"
        );
        assert!(!alias.evaluate_target_health());
    }
    let distributions = virginia
        .cloudfront
        .list_distributions()
        .send()
        .await
        .unwrap();
    let edge = distributions
        .distribution_list()
        .map(|l| l.items())
        .unwrap_or_default()
        .iter()
        .find(|d| d.comment() == format!("{env}-edge-eu-west-1"))
        .expect("the deployment's distribution");
    assert_eq!(
        edge.aliases().map(|a| a.items().to_vec()),
        Some(vec!["www.shop.mycompany.net".to_string()])
    );
    let edge_cert = edge
        .viewer_certificate()
        .and_then(|c| c.acm_certificate_arn())
        .expect("an ACM certificate");
    assert!(
        edge_cert.starts_with("arn:aws:acm:us-east-1:"),
        "{edge_cert}"
    );
    let described = virginia
        .acm
        .describe_certificate()
        .certificate_arn(edge_cert)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.certificate().and_then(|c| c.domain_name()),
        Some("www.shop.mycompany.net")
    );
    // HTTPS to the balancer, whose certificate is for the name CloudFront forwards.
    let balancer = edge.origins().unwrap().items()[0]
        .custom_origin_config()
        .unwrap();
    assert_eq!(balancer.origin_protocol_policy().as_str(), "https-only");
    assert_eq!(balancer.https_port(), 443);
    let edge_alarm = virginia
        .cloudwatch
        .describe_alarms()
        .alarm_names(format!("{env}-eu-west-1-edge-5xx"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        edge_alarm.metric_alarms()[0].namespace(),
        Some("AWS/CloudFront")
    );
    let alarm_name = format!("{env}-eu-west-1-www-health-check");
    let alarms = virginia
        .cloudwatch
        .describe_alarms()
        .alarm_names(&alarm_name)
        .send()
        .await
        .unwrap();
    let alarm = alarms
        .metric_alarms()
        .first()
        .expect("the alarm in us-east-1");
    let action = alarm.alarm_actions().first().expect("an alarm action");
    assert!(
        action.starts_with("arn:aws:sns:us-east-1:")
            && action.ends_with(&format!(":{env}-eu-west-1-alerts")),
        "{action}"
    );
    // That topic is encrypted with a rotated key of its own region (SNS.1, KMS.4).
    let attributes = virginia
        .sns
        .get_topic_attributes()
        .topic_arn(action)
        .send()
        .await
        .unwrap();
    let key = attributes.attributes().unwrap()["KmsMasterKeyId"].clone();
    assert!(key.starts_with("arn:aws:kms:us-east-1:"), "{key}");
    let rotation = virginia
        .kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled());
    let at_home = home
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{env}-"))
        .send()
        .await
        .unwrap();
    assert!(
        !at_home
            .metric_alarms()
            .iter()
            .any(|a| matches!(a.metric_name(), Some("HealthCheckStatus" | "5xxErrorRate"))),
        "a health-check alarm at home"
    );
    assert!(!at_home.metric_alarms().is_empty());
    let again = run_in("plan", "eu-west-1");
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);

    // The same name in us-east-1, beside it: its own resources only.
    let run = ftctl(&["plan", "stage1", "--env", &env, "--json"]).ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let actions: Vec<&str> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["action"].as_str())
        .collect();
    assert!(
        actions.iter().all(|a| *a == "create"),
        "us-east-1 sees eu-west-1's resources as its own: {actions:?}"
    );

    // Destroyed from eu-west-1: nothing left in either region.
    drop(abroad);
    drop(at_home);
    assert_eq!(leftovers(&home, &env).await, Vec::<String>::new());
    assert_eq!(leftovers(&virginia, &env).await, Vec::<String>::new());
}
