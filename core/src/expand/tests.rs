use super::*;
use crate::deployment::{physical_name, validate_env};
use crate::resource::{Kind, Val};
use crate::stack::load;
use std::path::PathBuf;

fn stage1(vars: &[&str]) -> Stack {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage1.toml"
    ));
    let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
    load(&path, &vars).unwrap().stack
}

fn zones() -> Vec<String> {
    vec![
        "us-east-1a".into(),
        "us-east-1b".into(),
        "us-east-1c".into(),
    ]
}

fn find<'a>(specs: &'a [ResourceSpec], id: &str) -> &'a ResourceSpec {
    specs
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

#[test]
fn stage1_has_the_seed_architecture() {
    let specs = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    let count = |k: Kind| specs.iter().filter(|s| s.kind == k).count();
    assert_eq!(count(Kind::Vpc), 1);
    assert_eq!(count(Kind::Subnet), 4);
    assert_eq!(count(Kind::LoadBalancer), 2);
    assert_eq!(count(Kind::AutoScalingGroup), 2);
    assert_eq!(count(Kind::DbInstance), 1);
    assert_eq!(count(Kind::SnsTopic), 1);
    assert_eq!(count(Kind::NatGateway), 0);
    // web and app: in-service + healthy hosts; 2 balancers: 5xx; database: cpu + storage.
    assert_eq!(count(Kind::MetricAlarm), 8);
    crate::graph::creation_order(&specs).unwrap();
}

#[test]
fn security_groups_form_a_chain() {
    let specs = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    let sources = |id: &str| -> Vec<String> {
        find(&specs, id).props["ingress"]
            .as_list()
            .iter()
            .map(|r| r.as_map().unwrap()["source"].render())
            .collect()
    };
    assert_eq!(sources("lb.public.sg"), vec!["\"0.0.0.0/0\""]);
    assert_eq!(sources("tier.web.sg"), vec!["${lb.public.sg.id}"]);
    assert_eq!(sources("lb.internal.sg"), vec!["${tier.web.sg.id}"]);
    assert_eq!(sources("tier.app.sg"), vec!["${lb.internal.sg.id}"]);
    assert_eq!(sources("db.main.sg"), vec!["${tier.app.sg.id}"]);
}

#[test]
fn groups_span_every_private_subnet_with_elb_checks() {
    let specs = expand(
        &stage1(&["network.az_count=3"]),
        "dev",
        "us-east-1",
        &zones(),
    )
    .unwrap();
    for tier in ["web", "app"] {
        let asg = find(&specs, &format!("tier.{tier}.asg"));
        assert_eq!(asg.props["subnet_ids"].as_list().len(), 3);
        assert_eq!(asg.props["health_check_type"], Val::str("ELB"));
        let subnets: Vec<String> = asg.props["subnet_ids"]
            .as_list()
            .iter()
            .map(Val::render)
            .collect();
        assert!(
            subnets.iter().all(|s| s.contains("network.private.")),
            "{subnets:?}"
        );
    }
}

#[test]
fn creation_waits_for_what_aws_requires() {
    let specs = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    let order = crate::graph::creation_order(&specs).unwrap();
    let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
    assert!(pos("network.igw") < pos("lb.public"));
    assert!(pos("network.public.routes") < pos("lb.public"));
    assert!(pos("lb.public.listener") < pos("tier.web.asg"));
    assert!(pos("lb.internal.listener") < pos("tier.app.asg"));
}

#[test]
fn launch_templates_require_imdsv2_and_encrypt() {
    let specs = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    let lt = find(&specs, "tier.web.lt");
    assert_eq!(lt.props["http_tokens"], Val::str("required"));
    assert_eq!(lt.props["volume_encrypted"], Val::Bool(true));
    assert!(lt.props["user_data"].as_str().unwrap().contains("/health"));
}

#[test]
fn database_is_private_encrypted_multi_az() {
    let specs = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    let db = find(&specs, "db.main");
    assert_eq!(db.props["multi_az"], Val::Bool(true));
    assert_eq!(db.props["storage_encrypted"], Val::Bool(true));
    assert_eq!(db.props["publicly_accessible"], Val::Bool(false));
    assert_eq!(db.props["manage_master_user_password"], Val::Bool(true));
    assert!(db.props["backup_retention_days"].as_i64().unwrap() >= 7);
    assert!(!db.props.contains_key("master_password"));
}

#[test]
fn every_alarm_notifies_the_topic() {
    let specs = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    for alarm in specs.iter().filter(|s| s.kind == Kind::MetricAlarm) {
        assert_eq!(
            alarm.props["alarm_actions"],
            Val::list([Val::reference("notifications.topic", "arn")]),
            "{}",
            alarm.id
        );
    }
    let capacity = find(&specs, "alarm.tier.web.capacity");
    assert_eq!(capacity.props["period"], Val::Int(60));
    assert_eq!(capacity.props["evaluation_periods"], Val::Int(5));
}

#[test]
fn nat_per_az_adds_a_gateway_and_route_per_zone() {
    let specs = expand(
        &stage1(&["network.nat=\"per-az\""]),
        "dev",
        "us-east-1",
        &zones(),
    )
    .unwrap();
    assert_eq!(
        specs.iter().filter(|s| s.kind == Kind::NatGateway).count(),
        2
    );
    let routes = &find(&specs, "network.private.1.routes").props["routes"];
    assert!(
        routes.render().contains("network.nat.1.id"),
        "{}",
        routes.render()
    );
}

#[test]
fn too_few_zones_is_an_error() {
    let err = expand(&stage1(&[]), "dev", "us-east-1", &zones()[..1]).unwrap_err();
    assert_eq!(err.field, "network.az_count");
    assert!(err.message.contains("offers 1 availability zones"), "{err}");
}

#[test]
fn names_fit_aws_limits_and_stay_stable() {
    let long = physical_name("a-very-long-deployment", "internal-balancer", 32);
    assert!(long.len() <= 32, "{long}");
    assert_eq!(
        long,
        physical_name("a-very-long-deployment", "internal-balancer", 32)
    );
    assert_ne!(
        long,
        physical_name("a-very-long-deployment", "internal-balancer2", 32)
    );
    assert_eq!(physical_name("dev", "web", 32), "dev-web");
    // Shortened between characters, never inside one (a fuzzing find: it panicked).
    for n in 0..4 {
        let suffix = format!("{}{}", "x".repeat(n), "é".repeat(40));
        let name = physical_name("dev", &suffix, 32);
        assert!(name.len() <= 32, "{name}");
    }
}

#[test]
fn deployment_names_are_checked() {
    assert!(validate_env("dev").is_ok());
    assert!(validate_env("team-a2").is_ok());
    assert!(validate_env("Dev").is_err());
    assert!(validate_env("-x").is_err());
    assert!(validate_env("").is_err());
    assert!(validate_env("a-very-long-name-indeed").is_err());
    // Starts AWS reserves for load balancer, security group and bucket names.
    for reserved in ["internal", "sg", "sthree", "sg-blue", "amzn-s3-demo"] {
        let err = validate_env(reserved).unwrap_err();
        assert!(err.contains("which AWS reserves"), "{err}");
    }
    assert!(validate_env("internals").is_ok());
    assert!(validate_env("sgx").is_ok());
}

fn stage2(vars: &[&str]) -> Stack {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage2.toml"
    ));
    let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
    load(&path, &vars).unwrap().stack
}

#[test]
fn stage2_is_stage1_plus_cache_and_global_table() {
    let one = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    let two = expand(&stage2(&[]), "dev", "us-east-1", &zones()).unwrap();
    // Every stage1 resource is there unchanged (the dashboard grows with the stage).
    for spec in one.iter().filter(|s| s.kind != Kind::Dashboard) {
        let same = find(&two, &spec.id);
        assert_eq!(same.props, spec.props, "{}", spec.id);
    }
    let added: Vec<&str> = two
        .iter()
        .filter(|s| !one.iter().any(|o| o.id == s.id))
        .map(|s| s.id.as_str())
        .collect();
    assert!(added.iter().all(|id| id.starts_with("cache.")
        || id.starts_with("table.")
        || id.starts_with("alarm.cache.")
        || id.starts_with("alarm.table.")));
    crate::graph::creation_order(&two).unwrap();

    let cache = find(&two, "cache.session");
    assert_eq!(cache.props["automatic_failover"], Val::Bool(true));
    assert_eq!(cache.props["multi_az"], Val::Bool(true));
    assert_eq!(cache.props["at_rest_encryption"], Val::Bool(true));
    assert_eq!(cache.props["transit_encryption"], Val::Bool(true));
    // Auto scaling on: the stack gives the range, creation starts at the configured count.
    assert_eq!(
        cache.props["replicas_per_shard"],
        Val::map([("min", Val::Int(1)), ("max", Val::Int(3))])
    );
    assert_eq!(cache.props["initial_replicas"], Val::Int(1));
    assert_eq!(
        find(&two, "cache.session.scaling").props["max_capacity"],
        Val::Int(3)
    );
    // Only the app tier reaches the cache.
    let sg = find(&two, "cache.session.sg");
    let rules = sg.props["ingress"].as_list();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].as_map().unwrap()["source"],
        Val::reference("tier.app.sg", "id")
    );
    // One cpu / evictions / lag alarm per node.
    let cache_alarms = two
        .iter()
        .filter(|s| s.id.starts_with("alarm.cache.session."))
        .count();
    assert_eq!(cache_alarms, 6);

    let replica = find(&two, "table.orders.replica.us-west-2");
    assert_eq!(replica.props["region"], Val::str("us-west-2"));
    assert!(replica.deps().contains("table.orders"));
    let latency = find(&two, "alarm.table.orders.replication-latency.us-west-2");
    assert!(latency.deps().contains("table.orders.replica.us-west-2"));
}

#[test]
fn every_cache_primary_has_a_replica_in_another_zone() {
    let three = zones();
    for available in [&three[..2], &three[..]] {
        for shards in 1..=4usize {
            for replicas in 1..=3usize {
                for shard in 0..shards {
                    let placed = cache_node_zones(available, shard, replicas);
                    assert_eq!(placed.len(), replicas + 1);
                    assert!(placed[1..].iter().any(|z| *z != placed[0]), "{placed:?}");
                }
            }
        }
    }
    assert_eq!(
        cache_member_suffixes(true, 2, 1),
        vec!["0001-001", "0001-002", "0002-001", "0002-002"]
    );
    assert_eq!(
        cache_member_suffixes(false, 1, 2),
        vec!["001", "002", "003"]
    );
    // Without auto scaling the replica count is exact.
    let fixed = expand(
        &stage2(&["caches.session.autoscaling.enabled=false"]),
        "dev",
        "us-east-1",
        &zones(),
    )
    .unwrap();
    assert_eq!(
        find(&fixed, "cache.session").props["replicas_per_shard"],
        Val::Int(1)
    );
    assert!(!fixed.iter().any(|s| s.id == "cache.session.scaling"));
}

#[test]
fn stage3_physical_names_never_collide() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage3.toml"
    ));
    let stack = load(&path, &[]).unwrap().stack;
    let specs = expand(&stack, "dev", "us-east-1", &zones()).unwrap();
    // Deletions are ordered by physical id: two resources may not share a name unless AWS
    // gives them distinct identifiers (ids, ARNs) instead.
    let named_by_name = [
        Kind::IamRole,
        Kind::InstanceProfile,
        Kind::LogGroup,
        Kind::EcsCluster,
        Kind::DynamoTable,
        Kind::CacheReplicationGroup,
        Kind::DbInstance,
        Kind::AutoScalingGroup,
        Kind::MetricAlarm,
    ];
    let mut seen = std::collections::BTreeMap::new();
    for s in specs.iter().filter(|s| named_by_name.contains(&s.kind)) {
        if let Some(other) = seen.insert(s.name.clone(), s.id.clone()) {
            panic!("{} and {} are both named {}", other, s.id, s.name);
        }
    }
    crate::graph::creation_order(&specs).unwrap();
}

#[test]
fn user_data_is_valid_bash_and_publishes_the_tier_metric() {
    let specs = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    let lt = find(&specs, "tier.web.lt");
    let script = lt.props["user_data"].as_str().unwrap();
    assert!(script.contains("put-metric-data"), "{script}");
    assert!(
        script.contains("--dimensions Deployment=dev,Tier=web"),
        "{script}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user-data.sh");
    std::fs::write(&path, script).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // The instances' role may publish metrics and nothing else.
    let role = find(&specs, "tier.web.role");
    assert_eq!(role.props["trust_service"], Val::str("ec2.amazonaws.com"));
    assert_eq!(
        role.props["statements"].render(),
        r#"[{ actions = ["cloudwatch:PutMetricData"], resources = ["*"] }]"#
    );
    assert_eq!(
        lt.props["instance_profile"],
        Val::reference("tier.web.profile", "name")
    );
}

#[test]
fn the_traced_tier_gets_an_xray_group_a_sampling_rule_and_write_access() {
    let specs = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    let group = find(&specs, "tier.app.xray-group");
    assert_eq!(group.kind, Kind::TracingGroup);
    assert_eq!(
        group.props["filter_expression"].as_str(),
        Some("service(\"dev-app\")")
    );
    assert_eq!(group.props["asg_name"].render(), "${tier.app.asg.name}");
    let rule = find(&specs, "tier.app.xray-sampling");
    assert_eq!(rule.props["service_name"].as_str(), Some("dev-app"));
    assert_eq!(rule.props["fixed_rate"], Val::Float(0.05));
    assert_eq!(rule.props["reservoir_size"], Val::Int(1));
    let actions =
        |tier: &str| find(&specs, &format!("tier.{tier}.role")).props["statements"].render();
    assert!(actions("app").contains("xray:PutTraceSegments"));
    // Only the traced tier.
    assert!(!actions("web").contains("xray:"));
    assert!(!specs.iter().any(|s| s.id.starts_with("tier.web.xray")));
    crate::graph::creation_order(&specs).unwrap();

    let off = expand(
        &stage1(&["tracing.enabled=false"]),
        "dev",
        "us-east-1",
        &zones(),
    )
    .unwrap();
    assert!(!off
        .iter()
        .any(|s| matches!(s.kind, Kind::TracingGroup | Kind::SamplingRule)));
    assert!(!off
        .iter()
        .any(|s| s.id == "tier.app.role" && s.props["statements"].render().contains("xray:")));
}

#[test]
fn every_dashboard_metric_widget_names_the_deployment_region() {
    let specs = expand(&stage1(&[]), "dev", "eu-west-1", &zones()).unwrap();
    let Val::Map(body) = &find(&specs, "monitoring.dashboard").props["body"] else {
        panic!("the dashboard body is a map");
    };
    let Val::List(widgets) = &body["widgets"] else {
        panic!("widgets is a list");
    };
    let mut metric_widgets = 0;
    for widget in widgets {
        let Val::Map(w) = widget else {
            panic!("a widget is a map")
        };
        if w["type"] == Val::str("metric") {
            metric_widgets += 1;
            let Val::Map(p) = &w["properties"] else {
                panic!("properties")
            };
            assert_eq!(p.get("region"), Some(&Val::str("eu-west-1")), "{widget:?}");
        }
    }
    assert!(metric_widgets > 5, "only {metric_widgets} metric widgets");
}

/// AWS's documented name limits, per kind (API references: CreateLoadBalancer and
/// CreateTargetGroup 32, CreateDBInstance 63, CreateReplicationGroup 40, CreateRole 64,
/// CreateInstanceProfile 128, CreateGroup/CreateSamplingRule (X-Ray) 32, CreateTrail 128,
/// CreateBucket 63 (with the account and region ftctl appends), the rest 255 or more).
fn name_limit(kind: Kind) -> usize {
    match kind {
        Kind::LoadBalancer | Kind::TargetGroup => 32,
        Kind::DbInstance => 63,
        Kind::CacheReplicationGroup => 40,
        Kind::IamRole => 64,
        Kind::InstanceProfile | Kind::Trail => 128,
        Kind::TracingGroup | Kind::SamplingRule => 32,
        Kind::S3Bucket => BUCKET_NAME_MAX,
        Kind::SnsTopic => 256,
        // CreateAlias: 256 with the `alias/` ftctl puts before the name.
        Kind::KmsKey => 250,
        _ => 255,
    }
}

#[test]
fn the_longest_names_fit_aws_limits_in_the_longest_region() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage3.toml"
    ));
    let stack = load(&path, &[]).unwrap().stack;
    // The longest deployment name validate_env allows, and a region name of the longest kind.
    let env = "a234567890123456";
    assert!(validate_env(env).is_ok());
    let region = "ap-southeast-2";
    let zones: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|z| format!("{region}{z}"))
        .collect();
    let specs = expand(&stack, env, region, &zones).unwrap();
    for s in &specs {
        assert!(
            s.name.len() <= name_limit(s.kind),
            "{} ({}) is named {} ({} characters, AWS allows {})",
            s.id,
            s.kind,
            s.name,
            s.name.len(),
            name_limit(s.kind)
        );
    }
    // S3: the provider appends "-<12-digit account>-<region>".
    for s in specs.iter().filter(|s| s.kind == Kind::S3Bucket) {
        let full = format!("{}-123456789012-{region}", s.name);
        assert!(full.len() <= 63, "{full}");
    }
    // Route 53 health checks are found by a caller reference of at most 64 characters.
    let with_health = load(
        &path,
        &[
            "dns.private=false".to_string(),
            "dns.zone=\"shop.mycompany.net\"".to_string(),
        ],
    )
    .unwrap()
    .stack;
    let specs = expand(&with_health, env, region, &zones).unwrap();
    let check = specs.iter().find(|s| s.kind == Kind::HealthCheck).unwrap();
    let reference = format!("ftctl/{env}/{region}/{}/{}", check.id, u32::MAX);
    assert!(reference.len() <= 64, "{reference}");
}

#[test]
fn the_health_check_alarm_lives_in_us_east_1_with_a_topic_there() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage3.toml"
    ));
    let vars = [
        "dns.private=false".to_string(),
        "dns.zone=\"shop.mycompany.net\"".to_string(),
        "notifications.emails=[\"oncall@mycompany.net\"]".to_string(),
    ];
    let stack = load(&path, &vars).unwrap().stack;
    let zones: Vec<String> = ["a", "b"].iter().map(|z| format!("eu-west-1{z}")).collect();
    let specs = expand(&stack, "dev", "eu-west-1", &zones).unwrap();
    let alarm = find(&specs, "alarm.dns.health");
    assert_eq!(alarm.props["region"], Val::str("us-east-1"));
    assert_eq!(alarm.name, "dev-eu-west-1-www-health-check");
    assert_eq!(
        alarm.props["alarm_actions"],
        Val::list([Val::reference("notifications.topic.us-east-1", "arn")])
    );
    let far = find(&specs, "notifications.topic.us-east-1");
    let home = find(&specs, "notifications.topic");
    assert_eq!(far.props["region"], Val::str("us-east-1"));
    assert_eq!(far.props["subscriptions"], home.props["subscriptions"]);
    assert!(!home.props.contains_key("region"));
    // So does CloudFront's.
    let edge = find(&specs, "alarm.edge.5xx");
    assert_eq!(edge.props["region"], Val::str("us-east-1"));
    assert_eq!(edge.props["alarm_actions"], alarm.props["alarm_actions"]);
    // Every other alarm stays home and notifies the deployment's topic.
    for a in specs.iter().filter(|s| {
        s.kind == Kind::MetricAlarm && s.id != "alarm.dns.health" && s.id != "alarm.edge.5xx"
    }) {
        assert!(!a.props.contains_key("region"), "{}", a.id);
    }
    // The dashboard charts the health check where its metric is.
    let body = find(&specs, "monitoring.dashboard").props["body"].render();
    assert!(body.contains("alarm.db.main.cpu"), "{body}");
    assert!(
        !body.contains("alarm.dns.health"),
        "a far alarm in the alarm widget: {body}"
    );
    assert!(
        body.contains("us-east-1") && body.contains("eu-west-1"),
        "{body}"
    );

    // In us-east-1 itself: one topic, the alarm at home.
    let zones: Vec<String> = ["a", "b"].iter().map(|z| format!("us-east-1{z}")).collect();
    let specs = expand(&stack, "dev", "us-east-1", &zones).unwrap();
    assert!(!specs
        .iter()
        .any(|s| s.id == "notifications.topic.us-east-1"));
    assert!(!find(&specs, "alarm.dns.health")
        .props
        .contains_key("region"));
}

#[test]
fn cloudfront_fronts_the_public_balancer_and_the_record_names_it() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage3.toml"
    ));
    let vars = [
        "dns.private=false".to_string(),
        "dns.zone=\"shop.mycompany.net\"".to_string(),
        "edge.restrict_balancer=true".to_string(),
    ];
    let stack = load(&path, &vars).unwrap().stack;
    let zones: Vec<String> = ["a", "b"].iter().map(|z| format!("eu-west-1{z}")).collect();
    let specs = expand(&stack, "dev", "eu-west-1", &zones).unwrap();
    let d = find(&specs, "edge.distribution");
    assert_eq!(
        d.props["origin_domain"],
        Val::reference("lb.public", "dns_name")
    );
    // The balancer has the public record's certificate: HTTPS to it, on 443.
    assert_eq!(d.props["origin_protocol"], Val::str("https-only"));
    assert_eq!(d.props["origin_port"], Val::Int(443));
    assert_eq!(d.props["viewer_protocol"], Val::str("redirect-to-https"));
    assert_eq!(
        d.props["maintenance_on"],
        Val::list([Val::Int(502), Val::Int(503), Val::Int(504)])
    );
    assert_eq!(
        d.props["aliases"],
        Val::list([Val::str("www.shop.mycompany.net")])
    );
    // Away from us-east-1 the distribution's certificate is a second one, made there.
    assert_eq!(
        d.props["certificate_arn"],
        Val::reference("edge.certificate", "arn")
    );
    assert_eq!(
        find(&specs, "edge.certificate").props["region"],
        Val::str("us-east-1")
    );
    let policy = find(&specs, "edge.maintenance.policy");
    assert_eq!(
        policy.props["reader_distribution"],
        Val::reference("edge.distribution", "arn")
    );
    let bucket = find(&specs, "edge.maintenance");
    assert!(bucket.props["page"].as_str().unwrap().contains("stage3"));
    assert_eq!(bucket.props["public_access_blocked"], Val::Bool(true));
    // The balancer admits CloudFront's prefix list on 443 and nothing from the internet.
    let sg = find(&specs, "lb.public.sg");
    let rules = sg.props["ingress"].as_list();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let rule = rules[0].as_map().unwrap();
    assert_eq!(
        rule["source"],
        Val::str("com.amazonaws.global.cloudfront.origin-facing")
    );
    assert_eq!(rule["from_port"], Val::Int(443));
    // The record names the distribution, for IPv4 and IPv6, and the health check the name.
    for id in ["dns.record.www", "dns.record.www.ipv6"] {
        let r = find(&specs, id);
        assert_eq!(
            r.props["alias_dns_name"],
            Val::reference("edge.distribution", "domain_name")
        );
        assert_eq!(r.props["alias_zone_id"], Val::str("Z2FDTNDATAQYW2"));
        assert_eq!(r.props["evaluate_target_health"], Val::Bool(false));
    }
    assert_eq!(
        find(&specs, "dns.record.www.ipv6").props["record_type"],
        Val::str("AAAA")
    );
    assert_eq!(
        find(&specs, "dns.health").props["fqdn"],
        Val::str("www.shop.mycompany.net")
    );
    // In us-east-1 the balancer's own certificate serves the distribution too.
    let zones: Vec<String> = ["a", "b"].iter().map(|z| format!("us-east-1{z}")).collect();
    let specs = expand(&stack, "dev", "us-east-1", &zones).unwrap();
    assert!(!specs.iter().any(|s| s.id == "edge.certificate"));
    assert_eq!(
        find(&specs, "edge.distribution").props["certificate_arn"],
        Val::reference("dns.certificate", "arn")
    );

    // The shipped stage 3 (a private zone): HTTP to the balancer, which stays open, and the
    // record keeps naming the balancer.
    let stack = load(&path, &[]).unwrap().stack;
    let specs = expand(&stack, "dev", "us-east-1", &zones).unwrap();
    let d = find(&specs, "edge.distribution");
    assert_eq!(d.props["origin_protocol"], Val::str("http-only"));
    assert_eq!(d.props["origin_port"], Val::Int(80));
    assert!(!d.props.contains_key("aliases"));
    assert_eq!(
        find(&specs, "dns.record.www").props["alias_dns_name"],
        Val::reference("lb.public", "dns_name")
    );
    assert!(find(&specs, "lb.public.sg").props["ingress"]
        .render()
        .contains("0.0.0.0/0"));
}

#[test]
fn a_dashboard_too_large_for_one_is_split_into_pages_within_cloudwatch_limits() {
    // Stage 1 has one dashboard with one alarm widget.
    let specs = expand(&stage1(&[]), "dev", "us-east-1", &zones()).unwrap();
    let pages: Vec<&ResourceSpec> = specs.iter().filter(|s| s.kind == Kind::Dashboard).collect();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].id, "monitoring.dashboard");

    // 200 more app tiers: 1,200 chart and heading widgets, 400 more alarms.
    let mut stack = stage1(&[]);
    let app = stack.tiers["app"].clone();
    for n in 0..200 {
        stack.tiers.insert(format!("t{n:03}"), app.clone());
    }
    let specs = expand(&stack, "dev", "us-east-1", &zones()).unwrap();
    let pages: Vec<&ResourceSpec> = specs.iter().filter(|s| s.kind == Kind::Dashboard).collect();
    assert!(pages.len() >= 3, "{} pages", pages.len());
    assert_eq!(pages[0].name, "dev-overview");
    assert_eq!(pages[1].id, "monitoring.dashboard.2");
    assert_eq!(pages[1].name, "dev-overview-2");
    let mut alarms_shown = Vec::new();
    for page in &pages {
        let Val::Map(body) = &page.props["body"] else {
            panic!("the dashboard body is a map");
        };
        let Val::List(widgets) = &body["widgets"] else {
            panic!("widgets is a list");
        };
        assert!(
            widgets.len() <= 500,
            "{}: {} widgets",
            page.id,
            widgets.len()
        );
        for w in widgets {
            let Val::Map(w) = w else { panic!() };
            if w["type"] == Val::str("alarm") {
                let Val::Map(p) = &w["properties"] else {
                    panic!()
                };
                let Val::List(arns) = &p["alarms"] else {
                    panic!()
                };
                assert!((1..=100).contains(&arns.len()), "{} alarms", arns.len());
                alarms_shown.extend(arns.iter().map(Val::render));
            }
        }
    }
    let alarms = specs
        .iter()
        .filter(|s| s.kind == Kind::MetricAlarm && !s.props.contains_key("region"))
        .count();
    alarms_shown.sort();
    alarms_shown.dedup();
    assert_eq!(alarms_shown.len(), alarms, "every alarm shown once");
}
