use super::*;
use crate::expand::expand;
use crate::plan::diff;
use crate::schema::undeclared;
use crate::stack::load;
use std::path::PathBuf;

fn specs(stage: &str, vars: &[&str]) -> Vec<ResourceSpec> {
    let path = PathBuf::from(format!(
        "{}/../stacks/{stage}.toml",
        env!("CARGO_MANIFEST_DIR")
    ));
    let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
    let stack = load(&path, &vars).unwrap().stack;
    let zones = vec!["us-east-1a".to_string(), "us-east-1b".to_string()];
    expand(&stack, "dev", "us-east-1", &zones).unwrap()
}

/// The stack as AWS would hold it once applied: same props, the logical id as physical id
/// (references stay by logical id, which the estimate resolves either way).
fn applied(specs: &[ResourceSpec]) -> Vec<Observed> {
    specs
        .iter()
        .map(|s| {
            let mut o = Observed::new(&s.id, s.kind, &s.id);
            o.name = s.name.clone();
            o.props = s.props.clone();
            o
        })
        .collect()
}

fn book() -> PriceBook {
    PriceBook::shipped().expect("the shipped snapshot parses")
}

/// A price from the snapshot, so the hand computations below read the same figures.
fn price(item: &str) -> f64 {
    book()
        .get("us-east-1", item)
        .unwrap_or_else(|| panic!("no {item} in the snapshot"))
        .usd
}

fn count(specs: &[ResourceSpec], kind: Kind) -> f64 {
    specs.iter().filter(|s| s.kind == kind).count() as f64
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn new_deployment(specs: &[ResourceSpec]) -> CostReport {
    let plan = diff(specs, &[], &undeclared).unwrap();
    report(&plan, specs, &[], "us-east-1", &book(), 20_793)
}

/// Stage 1's resources, priced by hand from the snapshot.
fn stage1_by_hand(s: &[ResourceSpec]) -> f64 {
    let h = HOURS_PER_MONTH;
    // The public balancer's address in each of its 2 zones.
    let balancers = 2.0 * price("elb:application") * h + 2.0 * price("ec2:public-ipv4") * h;
    let web = 2.0 * price("ec2:instance:t3.micro") * h + 2.0 * 8.0 * price("ebs:volume:gp3");
    let app = 2.0 * price("ec2:instance:t3.small") * h + 2.0 * 8.0 * price("ebs:volume:gp3");
    let database = price("rds:instance:db.t3.medium:mysql:multi-az") * h
        + 20.0 * price("rds:storage:gp3:multi-az")
        + price("secretsmanager:secret");
    // Five interface endpoints (monitoring, xray, ssm, ssmmessages, ec2messages) in 2 zones.
    let endpoints = 5.0 * 2.0 * price("vpc:interface-endpoint") * h;
    let waf = price("wafv2:web-acl") + 2.0 * price("wafv2:rule-group");
    let monitoring = count(s, Kind::MetricAlarm) * price("cloudwatch:alarm")
        + count(s, Kind::Dashboard) * price("cloudwatch:dashboard")
        + count(s, Kind::KmsKey) * price("kms:key");
    balancers + web + app + database + endpoints + waf + monitoring
}

#[test]
fn the_shipped_snapshot_names_a_source_and_a_date_for_every_price() {
    let book = book();
    assert!(book.prices.len() > 30);
    for p in &book.prices {
        assert!(!p.source.is_empty(), "{} has no source", p.item);
        assert!(days_from_date(&p.read_on).is_some(), "{}", p.item);
        // Nothing was read from AWS's list on the machine that wrote it: it must say so.
        assert!(!p.confirmed, "{} claims to be confirmed", p.item);
    }
    // What update writes reads back the same.
    let again = PriceBook::parse("again", &book.to_toml()).unwrap();
    assert_eq!(again.prices, book.prices);
}

#[test]
fn stage1_costs_what_the_snapshot_adds_up_to() {
    let s = specs("stage1", &[]);
    let r = new_deployment(&s);
    let hand = stage1_by_hand(&s);
    assert!(close(r.after_usd, hand), "{} vs {hand}", r.after_usd);
    assert!(close(r.before_usd, 0.0));
    assert!(close(r.delta_usd, hand));
    // Each tier may triple (2 → 6 instances).
    let h = HOURS_PER_MONTH;
    let growth = 4.0 * (price("ec2:instance:t3.micro") + price("ec2:instance:t3.small")) * h
        + 8.0 * 8.0 * price("ebs:volume:gp3");
    assert!(close(r.after_at_max_usd, hand + growth));
    assert!(r.unpriced.is_empty(), "{:?}", r.unpriced);
    assert_eq!(r.unconfirmed_prices, r.prices_used);
    assert_eq!(r.prices_read_on.as_deref(), Some("2026-12-01"));
    assert_eq!(r.prices_age_days, Some(5));
    // Billed by use: shown as unit prices, not in the total.
    let text = r.text();
    assert!(
        text.contains("lb.public capacity units: $0.008 per LCU-hour"),
        "{text}"
    );
    assert!(text.contains("not confirmed"), "{text}");
}

#[test]
fn stage2_adds_the_cache_and_nothing_for_the_on_demand_table() {
    let s = specs("stage2", &[]);
    let r = new_deployment(&s);
    let h = HOURS_PER_MONTH;
    // One shard of a primary and one replica, r7g.large.
    let cache = 2.0 * price("elasticache:node:cache.r7g.large:redis") * h;
    let hand = stage1_by_hand(&s) + cache;
    assert!(close(r.after_usd, hand), "{} vs {hand}", r.after_usd);
    let table = r.lines.iter().find(|l| l.id == "table.orders").unwrap();
    let after = table.after.as_ref().unwrap();
    assert!(close(after.monthly_usd, 0.0));
    assert_eq!(after.usage.len(), 3, "{:?}", after.usage);
}

#[test]
fn stage3_adds_nat_fargate_emr_and_the_zone() {
    let s = specs("stage3", &[]);
    let r = new_deployment(&s);
    let h = HOURS_PER_MONTH;
    let cache = 2.0 * price("elasticache:node:cache.r7g.large:redis") * h;
    let nat = 2.0 * (price("vpc:nat-gateway") + price("ec2:public-ipv4")) * h;
    let fargate = 2.0 * (0.25 * price("ecs:fargate:vcpu") + 0.5 * price("ecs:fargate:memory")) * h;
    let emr = 3.0 * (price("ec2:instance:m5.xlarge") + price("emr:fee:m5.xlarge")) * h;
    let zone = price("route53:hosted-zone");
    let hand = stage1_by_hand(&s) + cache + nat + fargate + emr + zone;
    assert!(close(r.after_usd, hand), "{} vs {hand}", r.after_usd);
    assert!(r.unpriced.is_empty(), "{:?}", r.unpriced);
}

#[test]
fn a_changed_instance_type_changes_exactly_its_line() {
    let before = specs("stage1", &[]);
    let after = specs("stage1", &["tiers.web.instance_type=t3.small"]);
    let observed = applied(&before);
    let plan = diff(&after, &observed, &undeclared).unwrap();
    let r = report(&plan, &after, &observed, "us-east-1", &book(), 20_793);
    let moved: Vec<&CostLine> = r.lines.iter().filter(|l| l.delta_usd != 0.0).collect();
    assert_eq!(moved.len(), 1, "{moved:#?}");
    assert_eq!(moved[0].id, "tier.web.asg");
    let step =
        2.0 * (price("ec2:instance:t3.small") - price("ec2:instance:t3.micro")) * HOURS_PER_MONTH;
    assert!(close(moved[0].delta_usd, step));
    assert!(close(r.delta_usd, step));
    assert!(r.text().contains("[follows tier.web.lt]"), "{}", r.text());
}

#[test]
fn a_removed_deployment_costs_nothing_after() {
    let before = specs("stage1", &[]);
    let observed = applied(&before);
    let plan = diff(&[], &observed, &undeclared).unwrap();
    let r = report(&plan, &[], &observed, "us-east-1", &book(), 20_793);
    assert!(close(r.after_usd, 0.0));
    assert!(close(r.before_usd, stage1_by_hand(&before)));
    assert!(r.lines.iter().all(|l| l.after.is_none()));
}

#[test]
fn a_missing_price_is_named_not_guessed() {
    let s = specs("stage1", &["tiers.web.instance_type=c7i.large"]);
    let r = new_deployment(&s);
    let missing = &r.unpriced["tier.web.asg"];
    assert!(missing[0].contains("ec2:instance:c7i.large"), "{missing:?}");
    assert!(r.text().contains("Not priced"), "{}", r.text());
}

#[test]
fn a_bad_price_file_names_the_line_and_field() {
    let text = "[[price]]\nitem = \"kms:key\"\nregion = \"us-east-1\"\nusd = \"one\"\nper = \"month\"\nsource = \"x\"\nread_on = \"2026-12-01\"\nconfirmed = false\n";
    let err = PriceBook::parse("p.toml", text).unwrap_err();
    assert!(err.starts_with("p.toml:4: field `usd`"), "{err}");
    let err = PriceBook::parse(
        "p.toml",
        &text.replace("\"one\"", "1.0").replace("month", "fortnight"),
    )
    .unwrap_err();
    assert!(err.starts_with("p.toml:5: field `per`"), "{err}");
    let err = PriceBook::parse(
        "p.toml",
        &text.replace("\"one\"", "1.0").replace("2026-12-01", "soon"),
    )
    .unwrap_err();
    assert!(err.contains("field `read_on`"), "{err}");
    let twice = format!("{0}\n{0}", text.replace("\"one\"", "1.0"));
    let err = PriceBook::parse("p.toml", &twice).unwrap_err();
    assert!(err.contains("priced twice"), "{err}");
    let err = PriceBook::parse("p.toml", "[[price]\n").unwrap_err();
    assert!(err.starts_with("p.toml:1: invalid TOML"), "{err}");
}

#[test]
fn dates_count_days_from_1970() {
    assert_eq!(days_from_date("1970-01-01"), Some(0));
    assert_eq!(days_from_date("2026-12-01"), Some(20_788));
    assert_eq!(days_from_date("2026-13-01"), None);
    assert_eq!(days_from_date("2026-1-01"), None);
    assert_eq!(days_from_date("2026-02-29"), None);
    assert_eq!(
        days_from_date("2028-02-29").map(|d| d + 1),
        days_from_date("2028-03-01")
    );
}

/// What the readers return: create-only settings are not read back (an EMR cluster's instance
/// types and counts), and a service's count is whatever autoscaling made it. A plan that
/// changes nothing must not show a cost change for them.
#[test]
fn what_aws_does_not_read_back_costs_the_same_before_and_after() {
    let s = specs("stage3", &[]);
    let mut observed = applied(&s);
    for o in &mut observed {
        match o.kind {
            Kind::EmrCluster => {
                for k in [
                    "master_instance_type",
                    "core_instance_type",
                    "core_instance_count",
                ] {
                    o.props.remove(k);
                }
            }
            Kind::EcsService => {
                o.props.insert("desired_count".into(), Val::Int(5));
            }
            _ => {}
        }
    }
    let plan = diff(&s, &observed, &undeclared).unwrap();
    let r = report(&plan, &s, &observed, "us-east-1", &book(), 20_793);
    let moved: Vec<&CostLine> = r.lines.iter().filter(|l| l.delta_usd != 0.0).collect();
    assert!(moved.is_empty(), "{moved:#?}");
    assert!(close(r.before_usd, r.after_usd));
}

#[test]
fn global_services_must_be_priced_as_global() {
    let text = "[[price]]\nitem = \"route53:hosted-zone\"\nregion = \"us-east-1\"\nusd = 0.5\nper = \"month\"\nsource = \"x\"\nread_on = \"2026-12-01\"\nconfirmed = false\n";
    let err = PriceBook::parse("p.toml", text).unwrap_err();
    assert!(err.starts_with("p.toml:3: field `region`"), "{err}");
}
