use super::*;
use crate::resource::Kind;
use crate::stack::load;
use std::path::PathBuf;

fn stage1(vars: &[&str]) -> Stack {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/stage1.toml"));
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
    let specs = expand(&stage1(&[]), "dev", &zones()).unwrap();
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
    let specs = expand(&stage1(&[]), "dev", &zones()).unwrap();
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
    let specs = expand(&stage1(&["network.az_count=3"]), "dev", &zones()).unwrap();
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
    let specs = expand(&stage1(&[]), "dev", &zones()).unwrap();
    let order = crate::graph::creation_order(&specs).unwrap();
    let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
    assert!(pos("network.igw") < pos("lb.public"));
    assert!(pos("network.public.routes") < pos("lb.public"));
    assert!(pos("lb.public.listener") < pos("tier.web.asg"));
    assert!(pos("lb.internal.listener") < pos("tier.app.asg"));
}

#[test]
fn launch_templates_require_imdsv2_and_encrypt() {
    let specs = expand(&stage1(&[]), "dev", &zones()).unwrap();
    let lt = find(&specs, "tier.web.lt");
    assert_eq!(lt.props["http_tokens"], Val::str("required"));
    assert_eq!(lt.props["volume_encrypted"], Val::Bool(true));
    assert!(lt.props["user_data"].as_str().unwrap().contains("/health"));
}

#[test]
fn database_is_private_encrypted_multi_az() {
    let specs = expand(&stage1(&[]), "dev", &zones()).unwrap();
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
    let specs = expand(&stage1(&[]), "dev", &zones()).unwrap();
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
    let specs = expand(&stage1(&["network.nat=\"per-az\""]), "dev", &zones()).unwrap();
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
    let err = expand(&stage1(&[]), "dev", &zones()[..1]).unwrap_err();
    assert!(err.contains("offers 1 availability zones"), "{err}");
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
}

#[test]
fn deployment_names_are_checked() {
    assert!(validate_env("dev").is_ok());
    assert!(validate_env("team-a2").is_ok());
    assert!(validate_env("Dev").is_err());
    assert!(validate_env("-x").is_err());
    assert!(validate_env("").is_err());
    assert!(validate_env("a-very-long-name-indeed").is_err());
}
