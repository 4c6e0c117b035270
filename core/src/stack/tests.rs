use super::*;
use std::io::Write as _;

/// A stack file in a temporary directory.
fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    path
}

fn stage1_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage1.toml"
    ))
    .unwrap()
}

fn errors(result: Result<LoadedStack, StackErrors>) -> Vec<String> {
    match result {
        Ok(_) => panic!("the stack was accepted"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn shipped_stage1_is_valid() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage1.toml"
    ));
    let loaded = load(&path, &[]).unwrap();
    assert_eq!(loaded.stack.network.az_count, 2);
    assert_eq!(loaded.stack.tiers.len(), 2);
    assert!(loaded.stack.databases["main"].multi_az);
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = stage1_text().replacen("min_size = 2\n", "min_size = 2\nmin_szie = 3\n", 1);
    let path = write(&dir, "s.toml", &text);
    let line = text
        .lines()
        .position(|l| l.starts_with("min_szie"))
        .unwrap()
        + 1;
    let errs = errors(load(&path, &[]));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains(&format!("s.toml:{line}:")), "{}", errs[0]);
    assert!(errs[0].contains("min_szie"), "{}", errs[0]);
    assert!(errs[0].contains("unknown field"), "{}", errs[0]);
}

#[test]
fn wrong_type_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = stage1_text().replacen("max_size = 6", "max_size = \"six\"", 1);
    let path = write(&dir, "s.toml", &text);
    let errs = errors(load(&path, &[]));
    assert!(errs[0].contains("tiers.web.max_size"), "{}", errs[0]);
    assert!(errs[0].contains("invalid type"), "{}", errs[0]);
    let line = text.lines().position(|l| l.contains("\"six\"")).unwrap() + 1;
    assert!(errs[0].contains(&format!("s.toml:{line}:")), "{}", errs[0]);
}

#[test]
fn invalid_cidr_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let text = stage1_text().replace("cidr = \"10.0.0.0/16\"", "cidr = \"10.0.0.300/16\"");
    let path = write(&dir, "s.toml", &text);
    let errs = errors(load(&path, &[]));
    let line = text.lines().position(|l| l.contains("10.0.0.300")).unwrap() + 1;
    assert!(
        errs[0].starts_with(&format!("{}:{line}:", path.display())),
        "{}",
        errs[0]
    );
    assert!(errs[0].contains("network.cidr"), "{}", errs[0]);
}

#[test]
fn min_above_max_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "s.toml", &stage1_text());
    let errs = errors(load(&path, &["tiers.web.min_size=7".to_string()]));
    assert!(errs[0].contains("tiers.web.min_size"), "{}", errs[0]);
    assert!(errs[0].contains("greater than max_size (6)"), "{}", errs[0]);
    assert!(
        errs[0].starts_with("--var tiers.web.min_size=7"),
        "{}",
        errs[0]
    );
}

#[test]
fn one_availability_zone_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = stage1_text().replace("az_count = 2", "az_count = 1");
    let path = write(&dir, "s.toml", &text);
    let errs = errors(load(&path, &[]));
    assert!(
        errs.iter()
            .any(|e| e.contains("network.az_count") && e.contains("at least 2")),
        "{errs:?}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let text = stage1_text()
        .replace("az_count = 2", "az_count = 1")
        .replace(
            "load_balancer = \"internal\"",
            "load_balancer = \"nowhere\"",
        );
    let path = write(&dir, "s.toml", &text);
    let errs = errors(load(&path, &[]));
    assert!(errs.len() >= 2, "{errs:?}");
    assert!(errs
        .iter()
        .any(|e| e.contains("no load balancer named `nowhere`")));
}

#[test]
fn syntax_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "s.toml", "[stack]\nname = \n");
    let errs = errors(load(&path, &[]));
    assert!(errs[0].contains("s.toml:2:"), "{}", errs[0]);
}

#[test]
fn missing_file_is_an_error() {
    let errs = errors(load(Path::new("/nonexistent/stage9.toml"), &[]));
    assert!(errs[0].contains("cannot read stack file /nonexistent/stage9.toml"));
}

#[test]
fn extends_layers_files_and_vars_win() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "base.toml", &stage1_text());
    let top = write(
        &dir,
        "top.toml",
        "[stack]\nname = \"top\"\nextends = \"base.toml\"\n\n[tiers.web]\nmax_size = 9\n",
    );
    let loaded = load(&top, &["tiers.web.desired_capacity=3".to_string()]).unwrap();
    assert_eq!(loaded.stack.stack.name, "top");
    assert_eq!(loaded.stack.tiers["web"].max_size, 9);
    assert_eq!(loaded.stack.tiers["web"].desired_capacity, 3);
    assert_eq!(loaded.stack.tiers["app"].max_size, 6);
    assert_eq!(loaded.files.len(), 2);
}

#[test]
fn extends_cycles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir,
        "a.toml",
        "[stack]\nname = \"a\"\nextends = \"b.toml\"\n",
    );
    let b = write(
        &dir,
        "b.toml",
        "[stack]\nname = \"b\"\nextends = \"a.toml\"\n",
    );
    let errs = errors(load(&b, &[]));
    assert!(errs[0].contains("cycle"), "{}", errs[0]);
}

#[test]
fn stack_names_resolve_to_files() {
    assert_eq!(
        resolve_reference("stage1", Path::new("stacks")),
        PathBuf::from("stacks/stage1.toml")
    );
    assert_eq!(
        resolve_reference("./my.toml", Path::new("stacks")),
        PathBuf::from("./my.toml")
    );
}

#[test]
fn subnets_are_carved_per_zone() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage1.toml"
    ));
    let stack = load(&path, &["network.az_count=3".to_string()])
        .unwrap()
        .stack;
    let (public, private) = subnet_cidrs(&stack.network).unwrap();
    assert_eq!(public, vec!["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]);
    assert_eq!(private, vec!["10.0.3.0/24", "10.0.4.0/24", "10.0.5.0/24"]);
}

fn stage2_errors(vars: &[&str]) -> Vec<String> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage2.toml"
    ));
    let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
    errors(load(&path, &vars))
}

#[test]
fn shipped_stage2_extends_stage1() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage2.toml"
    ));
    let loaded = load(&path, &[]).unwrap();
    assert_eq!(loaded.stack.stack.name, "stage2");
    assert_eq!(loaded.files.len(), 2);
    assert_eq!(loaded.stack.tiers.len(), 2, "stage1's tiers come through");
    assert_eq!(loaded.stack.caches["session"].replicas_per_shard, 1);
    assert_eq!(
        loaded.stack.tables["orders"].replica_regions,
        vec!["us-west-2"]
    );
}

#[test]
fn stage2_parameters_that_break_failover_are_refused() {
    let cases: [(&[&str], &str, &str); 7] = [
        (
            &[
                "tables.orders.billing_mode=\"provisioned\"",
                "tables.orders.read_capacity=5",
                "tables.orders.write_capacity=5",
            ],
            "tables.orders.billing_mode",
            "a global table (replica_regions) needs billing_mode = \"on-demand\"",
        ),
        (
            &["caches.session.replicas_per_shard=0"],
            "caches.session.replicas_per_shard",
            "failover needs a replica",
        ),
        (
            &["caches.session.automatic_failover=false"],
            "caches.session.multi_az",
            "needs automatic_failover",
        ),
        (
            &["caches.session.autoscaling.max_replicas=9"],
            "caches.session.autoscaling.max_replicas",
            "<= 5",
        ),
        (
            &["caches.session.node_type=\"cache.t4g.small\""],
            "caches.session.autoscaling.enabled",
            "burstable",
        ),
        (
            &["stack.region=\"us-west-2\""],
            "tables.orders.replica_regions.0",
            "another region",
        ),
        (
            &["tables.orders.read_capacity=5"],
            "tables.orders.read_capacity",
            "only with billing_mode",
        ),
    ];
    for (vars, field, message) in cases {
        let errs = stage2_errors(vars);
        assert!(
            errs.iter()
                .any(|e| e.contains(field) && e.contains(message)),
            "{vars:?}: {errs:?}"
        );
    }
}

#[test]
fn the_configured_region_is_checked_against_replicas() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage2.toml"
    ));
    let loaded = load(&path, &[]).unwrap();
    assert!(check_region(&loaded.stack, "us-east-1").is_empty());
    let located = loaded.locate(check_region(&loaded.stack, "us-west-2"));
    let text = located.to_string();
    assert!(text.contains("stage2.toml:"), "{text}");
    assert!(text.contains("tables.orders.replica_regions.0"), "{text}");
}

#[test]
fn stage3_parameters_are_checked() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage3.toml"
    ));
    let loaded = load(&path, &[]).unwrap();
    assert_eq!(loaded.files.len(), 3, "stage3 → stage2 → stage1");
    assert_eq!(
        loaded.stack.services["api"].file_system.as_deref(),
        Some("shared")
    );
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["services.api.memory=3000"],
            "services.api.memory",
            "not a Fargate size",
        ),
        (
            &["services.api.file_system=\"nope\""],
            "services.api.file_system",
            "no file system named `nope`",
        ),
        (
            &["services.api.log_retention_days=10"],
            "services.api.log_retention_days",
            "CloudWatch Logs' periods",
        ),
        (
            &["services.api.desired_count=9"],
            "services.api.desired_count",
            "outside autoscaling's 2..6",
        ),
        (
            &["dns.load_balancer=\"internal\"", "dns.private=false"],
            "dns.private",
            "publish a private address",
        ),
        (
            &["clusters.analytics.release_label=\"7.1\""],
            "clusters.analytics.release_label",
            "not an EMR release",
        ),
        (
            &["clusters.analytics.core_instance_count=9"],
            "clusters.analytics.core_instance_count",
            "outside managed scaling's 2..8",
        ),
        (
            &["clusters.analytics.idle_timeout_seconds=3600"],
            "clusters.analytics.idle_timeout_seconds",
            "re-created by every later apply",
        ),
        // What only AWS would refuse, refused before any call.
        (
            &["dns.zone=\"shop.example.com\"", "dns.private=false"],
            "dns.zone",
            "reserved for documentation",
        ),
        (
            &["dns.zone=\"shop.test\""],
            "dns.zone",
            "refused by Route 53",
        ),
        (
            &["network.nat=\"none\""],
            "services.api.image",
            "has no VPC endpoint",
        ),
        (
            &[
                "network.nat=\"none\"",
                "services.api.image=\"123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1\"",
            ],
            "network.nat",
            "add \"ecr.api\", \"ecr.dkr\", \"logs\" to network.endpoints",
        ),
        (
            &["network.nat=\"none\"", "network.endpoints=[\"xray\"]"],
            "network.nat",
            "publish metrics to CloudWatch",
        ),
        (
            &["network.endpoints=[\"monitoring\", \"cloudwatch\"]"],
            "network.endpoints.1",
            "not an interface endpoint ftctl knows",
        ),
        (
            &["tiers.web.capacity_alarm.period_seconds=30"],
            "tiers.web.capacity_alarm.period_seconds",
            "must be a multiple of 60",
        ),
    ];
    for (vars, field, message) in cases {
        let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
        let errs = errors(load(&path, &vars));
        assert!(
            errs.iter()
                .any(|e| e.contains(field) && e.contains(message)),
            "{vars:?}: {errs:?}"
        );
    }
    // A service may not take a tier's name: their AWS names would collide.
    let dir = tempfile::tempdir().unwrap();
    for f in ["stage1.toml", "stage2.toml", "stage3.toml"] {
        let from = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../stacks")).join(f);
        std::fs::copy(from, dir.path().join(f)).unwrap();
    }
    let text = std::fs::read_to_string(dir.path().join("stage3.toml"))
        .unwrap()
        .replace("[services.api]", "[services.web]");
    let renamed = write(&dir, "stage3.toml", &text);
    let errs = errors(load(&renamed, &[]));
    assert!(
        errs.iter()
            .any(|e| e.contains("services.web") && e.contains("a tier is already named")),
        "{errs:?}"
    );
}

#[test]
fn tracing_names_tiers_that_exist_and_a_sane_rate() {
    let dir = tempfile::tempdir().unwrap();
    let text = stage1_text()
        .replace("tiers = [\"app\"]", "tiers = [\"app\", \"api\"]")
        .replace("sample_percent = 5.0", "sample_percent = 150.0");
    let path = write(&dir, "s.toml", &text);
    let errs = errors(load(&path, &[]));
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        errs.iter()
            .any(|e| e.contains(&format!("s.toml:{}:", line("\"api\"")))
                && e.contains("tracing.tiers.1")
                && e.contains("no tier named `api`")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains(&format!("s.toml:{}:", line("150.0")))
                && e.contains("tracing.sample_percent")),
        "{errs:?}"
    );
    // Turned off, the same section is not checked further.
    let off = load(&path, &["tracing.enabled=false".into()]);
    assert!(off.is_ok(), "{:?}", off.err().map(|e| e.to_string()));
}

// Regressions found by the property tests in fuzz.rs.

#[test]
fn a_file_that_is_not_utf8_is_located_at_its_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, b"[stack]\nname = \"a\xffb\"\n").unwrap();
    let errs = errors(load(&path, &[]));
    assert!(
        errs[0].starts_with(&format!("{}:2:10: ", path.display())),
        "{}",
        errs[0]
    );
    assert!(errs[0].contains("not UTF-8"), "{}", errs[0]);
}

#[test]
fn a_missing_field_is_named_and_located_at_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "empty.toml", "");
    let errs = errors(load(&path, &[]));
    assert!(
        errs[0].starts_with(&format!("{}:1:1: stack: missing field", path.display())),
        "{}",
        errs[0]
    );
    let text = stage1_text().replacen("instance_type = \"t3.micro\"\n", "", 1);
    let path = write(&dir, "s.toml", &text);
    let errs = errors(load(&path, &[]));
    let line = text.lines().position(|l| l == "[tiers.web]").unwrap() + 1;
    assert!(
        errs[0].contains(&format!("s.toml:{line}:"))
            && errs[0].contains("tiers.web.instance_type: missing field"),
        "{}",
        errs[0]
    );
}

#[test]
fn an_alarm_window_beyond_u32_is_refused_not_overflowed() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage1.toml"
    ));
    for var in [
        "tiers.web.capacity_alarm.evaluation_periods=71582789",
        "tiers.web.capacity_alarm={ period_seconds = 4294967280, evaluation_periods = 2 }",
    ] {
        let errs = errors(load(&path, &[var.to_string()]));
        assert!(
            errs.iter().any(
                |e| e.contains("tiers.web.capacity_alarm.evaluation_periods")
                    && e.contains("at most one day")
            ),
            "{var}: {errs:?}"
        );
    }
}

#[test]
fn the_largest_core_count_is_refused_not_overflowed() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage3.toml"
    ));
    let errs = errors(load(
        &path,
        &["clusters.analytics.core_instance_count=4294967295".to_string()],
    ));
    assert!(
        errs.iter()
            .any(|e| e.contains("clusters.analytics.core_instance_count")
                && e.contains("4294967295 core nodes")),
        "{errs:?}"
    );
}

#[test]
fn availability_zones_must_be_zone_names() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage1.toml"
    ));
    let long = "é".repeat(200);
    let errs = errors(load(
        &path,
        &[format!(
            "network.availability_zones=[\"us-east-1a\", \"{long}\"]"
        )],
    ));
    assert!(
        errs.iter()
            .any(|e| e.starts_with("--var network.availability_zones=")
                && e.contains("network.availability_zones.1: ")
                && e.contains("not an availability zone name")),
        "{errs:?}"
    );
    let ok = load(
        &path,
        &["network.availability_zones=[\"us-east-1a\", \"us-west-2-lax-1a\"]".to_string()],
    );
    assert!(ok.is_ok(), "{:?}", ok.err().map(|e| e.to_string()));
}

#[test]
fn objectives_are_checked_and_name_components_that_exist() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage3.toml"
    ));
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["objectives.rto_seconds=0"],
            "objectives.rto_seconds",
            "above 0 and at most 86400",
        ),
        (
            &["objectives.max_error_rate=5"],
            "objectives.max_error_rate",
            "a share from 0 to 1",
        ),
        (
            &["objectives.tiers.nope.rto_seconds=60"],
            "objectives.tiers.nope",
            "names no component (the stack's tiers: app, web)",
        ),
        (
            &["objectives.tables.orders.rpo_seconds=-1"],
            "objectives.tables.orders.rpo_seconds",
            "from 0 to 86400",
        ),
        (
            &["objectives.services.api.rto=60"],
            "objectives.services.api",
            "rto",
        ),
    ];
    for (vars, field, message) in cases {
        let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
        let errs = errors(load(&path, &vars));
        assert!(
            errs.iter()
                .any(|e| e.contains(field) && e.contains(message)),
            "{vars:?}: {errs:?}"
        );
    }
    // Valid ones resolve per component, the component's own over the deployment's.
    let vars: Vec<String> = [
        "objectives.rto_seconds=300",
        "objectives.max_error_rate=0.01",
        "objectives.databases.main.rto_seconds=120",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let stack = load(&path, &vars).unwrap().stack;
    let resolved = stack.objectives.resolve(&stack);
    assert_eq!(resolved["db.main"].rto_seconds, Some(120.0));
    assert_eq!(resolved["db.main"].max_error_rate, Some(0.01));
    assert_eq!(resolved["tier.web.asg"].rto_seconds, Some(300.0));
    assert_eq!(resolved["svc.api"].rto_seconds, Some(300.0));
}

#[test]
fn retention_is_checked_against_what_s3_refuses_and_located() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage1.toml"
    ));
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["retention.infrequent_access_after_days=10"],
            "retention.infrequent_access_after_days",
            "after 30 days at the earliest",
        ),
        (
            &["retention.glacier_after_days=45"],
            "retention.glacier_after_days",
            "at least 30 days after infrequent_access_after_days (60)",
        ),
        (
            &["retention.expire_after_days=120"],
            "retention.expire_after_days",
            "at least 90 days after glacier_after_days (180)",
        ),
        (
            &[
                "retention.glacier_after_days=0",
                "retention.expire_after_days=20",
            ],
            "retention.expire_after_days",
            "after the last transition (day 30)",
        ),
    ];
    for (vars, field, message) in cases {
        let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
        let errs = errors(load(&path, &vars));
        assert!(
            errs.iter()
                .any(|e| e.contains(field) && e.contains(message)),
            "{vars:?}: {errs:?}"
        );
    }
    // 0 turns a step off; the defaults pass; the evidence never goes to Glacier.
    for vars in [
        &[
            "retention.infrequent_access_after_days=0",
            "retention.glacier_after_days=0",
            "retention.expire_after_days=1",
        ][..],
        &[
            "retention.infrequent_access_after_days=0",
            "retention.glacier_after_days=1",
            "retention.expire_after_days=91",
        ],
        &["retention.expire_after_days=0"],
        &[],
    ] {
        let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
        assert!(load(&path, &vars).is_ok(), "{vars:?}");
    }
    let stack = load(&path, &[]).unwrap().stack;
    assert_eq!(stack.retention.expire_after_days, 365);
    assert_eq!(stack.retention.evidence_rules().glacier_after_days, 0);
    assert_eq!(stack.retention.evidence_rules().expire_after_days, 365);
}

#[test]
fn the_edge_is_checked_and_located() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/stage3.toml"
    ));
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["edge.load_balancer=\"internal\""],
            "edge.load_balancer",
            "CloudFront reaches only internet-facing balancers",
        ),
        (
            &["edge.load_balancer=\"nope\""],
            "edge.load_balancer",
            "no load balancer named `nope`",
        ),
        (
            &["edge.restrict_balancer=true"],
            "edge.restrict_balancer",
            "Route 53 cannot alias a CloudFront distribution in a private zone",
        ),
        (
            &["edge.maintenance_on=[404]"],
            "edge.maintenance_on.0",
            "404 is not a server error CloudFront can replace",
        ),
        (
            &["edge.maintenance_on=[503, 503]"],
            "edge.maintenance_on.1",
            "503 is listed twice",
        ),
        (
            &["edge.maintenance_on=[]"],
            "edge.maintenance_on",
            "name the codes",
        ),
        (
            &["edge.error_rate_alarm_percent=0.0"],
            "edge.error_rate_alarm_percent",
            "a percentage above 0",
        ),
        (
            &["load_balancers.public.allow_cidrs=[\"203.0.113.0/24\"]"],
            "load_balancers.public.allow_cidrs",
            "a network ACL cannot",
        ),
        (
            &["edge.price_class=\"PriceClass_50\""],
            "edge.price_class",
            "PriceClass_100",
        ),
    ];
    for (vars, field, message) in cases {
        let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
        let errs = errors(load(&path, &vars));
        assert!(
            errs.iter()
                .any(|e| e.contains(field) && e.contains(message)),
            "{vars:?}: {errs:?}"
        );
    }
    // A public zone may restrict the balancer to CloudFront.
    let vars: Vec<String> = [
        "dns.zone=\"shop.mycompany.com\"",
        "dns.private=false",
        "edge.restrict_balancer=true",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert!(load(&path, &vars).is_ok());
}
