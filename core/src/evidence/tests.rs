use super::*;
use crate::resource::{Kind, Val};

fn specs() -> Vec<ResourceSpec> {
    vec![
        ResourceSpec::new("vpc", Kind::Vpc, "t-vpc").with("cidr", Val::str("10.0.0.0/16")),
        ResourceSpec::new("subnet.a", Kind::Subnet, "t-a")
            .with("vpc_id", Val::reference("vpc", "id"))
            .with("cidr", Val::str("10.0.1.0/24")),
        ResourceSpec::new("tier.web.asg", Kind::AutoScalingGroup, "t-web")
            .with("subnet_ids", Val::list([Val::reference("subnet.a", "id")]))
            .with("max_size", Val::Int(4)),
        ResourceSpec::new("db.main", Kind::DbInstance, "t-main")
            .with("instance_class", Val::str("db.t4g.micro")),
    ]
}

fn applied(specs: &[ResourceSpec]) -> Applied {
    Applied::from_specs("t", "stage1", specs, "2026-12-01T00:00:00Z")
}

fn web() -> BTreeSet<String> {
    ["tier.web.asg".to_string()].into()
}

fn web_fingerprint(specs: &[ResourceSpec]) -> String {
    let a = applied(specs);
    fingerprint(&a.proven_on(&a.radius(&web())))
}

#[test]
fn the_radius_is_what_was_touched_and_what_it_depends_on() {
    let r = applied(&specs()).radius(&web());
    assert_eq!(
        r.into_iter().collect::<Vec<_>>(),
        vec!["subnet.a", "tier.web.asg", "vpc"]
    );
}

#[test]
fn the_fingerprint_is_stable_and_follows_only_the_radius() {
    let f = web_fingerprint(&specs());
    assert!(f.starts_with("sha256:") && f.len() == 7 + 64, "{f}");
    assert_eq!(web_fingerprint(&specs()), f, "the same specs twice");
    // Stable: the same specs in another order, properties inserted in another order.
    let mut shuffled = specs();
    shuffled.reverse();
    assert_eq!(shuffled[2].id, "subnet.a");
    shuffled[2] = ResourceSpec::new("subnet.a", Kind::Subnet, "t-a")
        .with("cidr", Val::str("10.0.1.0/24"))
        .with("vpc_id", Val::reference("vpc", "id"));
    assert_eq!(web_fingerprint(&shuffled), f);
    // Any attribute in the radius, even a dependency's, changes it.
    let mut changed = specs();
    changed[0] = changed[0].clone().with("cidr", Val::str("10.1.0.0/16"));
    assert_ne!(web_fingerprint(&changed), f);
    let mut bigger = specs();
    bigger[2] = bigger[2].clone().with("max_size", Val::Int(5));
    assert_ne!(web_fingerprint(&bigger), f);
    let mut renamed = specs();
    renamed[1].name = "t-a2".into();
    assert_ne!(web_fingerprint(&renamed), f);
    // Outside the radius: the database's class does not touch the web tier's proof.
    let mut db = specs();
    db[3] = db[3]
        .clone()
        .with("instance_class", Val::str("db.r7g.large"));
    assert_eq!(web_fingerprint(&db), f);
}

#[test]
fn actions_and_faults_name_the_resources_they_touch() {
    let observed = vec![
        Observed::new("tier.web.asg", Kind::AutoScalingGroup, "t-web"),
        Observed::new("subnet.a", Kind::Subnet, "subnet-1"),
        Observed::new("db.main", Kind::DbInstance, "t-main"),
    ];
    let actions = vec![
        Action::RemoveZone {
            group: "t-web".into(),
            zone: "az-a".into(),
            from: vec!["subnet-1".into(), "subnet-2".into()],
            to: vec!["subnet-2".into()],
        },
        Action::TerminateInstances {
            instances: vec!["i-1".into()],
        },
    ];
    assert_eq!(
        resolve_handles(action_handles(&actions), &observed)
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["subnet.a", "tier.web.asg"]
    );
    let inv = crate::chaos::fixtures::inventory();
    let group = inv.groups[0].clone();
    let fault = Fault::KillInstance {
        tiers: vec![group.tier.clone()],
        count: None,
        percent: None,
        instances: Vec::new(),
        seed: None,
    };
    // The group's launch template and role share its name: only the group is touched.
    let named_alike = vec![
        Observed::new(
            &format!("tier.{}.asg", group.tier),
            Kind::AutoScalingGroup,
            &group.name,
        ),
        Observed::new(
            &format!("tier.{}.lt", group.tier),
            Kind::LaunchTemplate,
            "lt-1",
        ),
    ];
    assert_eq!(
        fault_touches(&fault, &inv, &named_alike),
        [format!("tier.{}.asg", group.tier)].into()
    );
    assert_eq!(
        failure_mode(&fault, &inv, None),
        format!("kill-instance {}", group.tier)
    );
    let az = Fault::KillAz {
        zone: None,
        mode: crate::chaos::design::AzMode::Terminate,
    };
    assert_eq!(failure_mode(&az, &inv, Some("az-b")), "kill-az az-b");
}

fn proof(mode: &str, radius: &[&str], at: &str, on: &[ResourceSpec]) -> Evidence {
    let a = applied(on);
    let touched: BTreeSet<String> = radius.iter().map(|s| s.to_string()).collect();
    let proven_on = a.proven_on(&touched);
    Evidence {
        failure_mode: mode.into(),
        experiment: mode.split(' ').next().unwrap_or_default().into(),
        targets: String::new(),
        source: "ftctl".into(),
        fingerprint: fingerprint(&proven_on),
        radius: proven_on,
        outcome: "recovered".into(),
        passed: true,
        reason: String::new(),
        detected_after: Some(1.0),
        recovered_after: Some(48.0),
        budget_seconds: 300.0,
        budget_source: "alarms".into(),
        rpo_seconds: None,
        error_rate: None,
        p99_ms: None,
        objective: Objective::default(),
        ftctl_version: "0.1.0".into(),
        at: at.into(),
    }
}

const WEB_RADIUS: [&str; 3] = ["subnet.a", "tier.web.asg", "vpc"];

#[test]
fn a_change_in_a_proven_radius_names_the_stale_proof_and_one_outside_does_not() {
    let base = specs();
    let old = proof("kill-az a", &WEB_RADIUS, "2026-11-29T10:00:00Z", &base);
    let new = proof("kill-az a", &WEB_RADIUS, "2026-11-30T10:00:00Z", &base);
    let db = proof(
        "rds-failover main",
        &["db.main"],
        "2026-11-30T11:00:00Z",
        &base,
    );
    let all = vec![old, new.clone(), db];
    // A plan that changes the group: only the newest proof of its mode is named.
    let changed: BTreeSet<String> = ["tier.web.asg".to_string()].into();
    let stale = invalidated_by(&changed, None, &all);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].evidence, &new);
    assert_eq!(stale[0].changed, vec!["tier.web.asg"]);
    assert_eq!(
        new.describe(),
        "passed 2026-11-30, recovered in 48 s of 300 s"
    );
    let elsewhere: BTreeSet<String> = ["alarm.x".to_string()].into();
    assert!(invalidated_by(&elsewhere, Some(&applied(&base)), &all).is_empty());
    // The planned configuration says the same without a change list: the VPC's CIDR.
    let mut moved = specs();
    moved[0] = moved[0].clone().with("cidr", Val::str("10.9.0.0/16"));
    let stale = invalidated_by(&BTreeSet::new(), Some(&applied(&moved)), &all);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].changed, vec!["vpc"]);
    // A failed proof is not invalidated: there was nothing to lose.
    let mut failed = all.clone();
    failed[1].passed = false;
    assert!(invalidated_by(&changed, None, &failed).is_empty());
}

#[test]
fn standings_follow_the_applied_configuration_and_the_score_weights_by_radius() {
    let base = specs();
    let modes = vec![
        ("kill-instance web".to_string(), "c1".to_string(), web()),
        (
            "rds-failover main".to_string(),
            "c2".to_string(),
            ["db.main".to_string()].into(),
        ),
    ];
    let web_proof = proof(
        "kill-instance web",
        &WEB_RADIUS,
        "2026-11-30T10:00:00Z",
        &base,
    );
    let now = applied(&base);
    let s = standings(&modes, Some(&now), std::slice::from_ref(&web_proof));
    assert_eq!(s[0].standing, Standing::Proven);
    assert_eq!(s[0].radius.len(), 3);
    assert_eq!(s[1].standing, Standing::Missing);
    // 3 of 4 resources' worth of radius proven.
    assert_eq!(score(&s), 0.75);
    // The group's size changed since: stale, and the score drops to 0.
    let mut bigger = specs();
    bigger[2] = bigger[2].clone().with("max_size", Val::Int(8));
    let s = standings(
        &modes,
        Some(&applied(&bigger)),
        std::slice::from_ref(&web_proof),
    );
    assert_eq!(
        s[0].standing,
        Standing::Stale {
            changed: vec!["tier.web.asg".into()]
        }
    );
    assert_eq!(score(&s), 0.0);
    // An apply under way: nobody knows the configuration.
    let mut unfinished = applied(&base);
    unfinished.complete = false;
    let s = standings(&modes, Some(&unfinished), std::slice::from_ref(&web_proof));
    assert_eq!(s[0].standing, Standing::Untied);
    // A failing newest run counts as failed whatever the older ones said.
    let mut failing = proof(
        "kill-instance web",
        &WEB_RADIUS,
        "2026-12-01T10:00:00Z",
        &base,
    );
    failing.passed = false;
    let s = standings(&modes, Some(&now), &[web_proof, failing]);
    assert_eq!(s[0].standing, Standing::Failed);
    assert_eq!(score(&[]), 0.0);
}

#[test]
fn objectives_resolve_per_component_and_the_tightest_applies() {
    let mut a = applied(&specs());
    a.objectives = Objective {
        rto_seconds: Some(300.0),
        rpo_seconds: None,
        max_error_rate: Some(0.05),
    };
    a.component_objectives.insert(
        "db.main".into(),
        Objective {
            rto_seconds: Some(120.0),
            ..Objective::default()
        },
    );
    a.component_objectives.insert(
        "tier.web.asg".into(),
        Objective {
            rto_seconds: Some(200.0),
            max_error_rate: Some(0.01),
            ..Objective::default()
        },
    );
    let both: BTreeSet<String> = ["db.main".to_string(), "tier.web.asg".to_string()].into();
    let o = a.objective_for(&both);
    assert_eq!(o.rto_seconds, Some(120.0));
    assert_eq!(o.max_error_rate, Some(0.01));
    let none = a.objective_for(&["vpc".to_string()].into());
    assert_eq!(none.rto_seconds, Some(300.0));
    assert_eq!(none.max_error_rate, Some(0.05));
}

#[test]
fn a_fis_experiment_is_tied_only_to_a_configuration_applied_before_it_started() {
    let a = applied(&specs());
    let run = FisRun {
        id: "EXP1".into(),
        failure_mode: "kill-instance web".into(),
        description: "ftctl kill-instance".into(),
        status: "completed".into(),
        reason: "Experiment completed.".into(),
        started: "2026-12-02T00:00:00Z".into(),
        seconds: 300.0,
    };
    let e = Evidence::from_fis(&run, Some(&a), &web());
    assert!(e.passed && e.source == "fis");
    assert_eq!(e.radius.len(), 3);
    let s = standings(
        &[("kill-instance web".into(), "c".into(), web())],
        Some(&a),
        &[e],
    );
    assert_eq!(s[0].standing, Standing::Proven);
    // Applied after it started: which configuration it ran on is not known.
    let earlier = FisRun {
        started: "2026-11-30T00:00:00Z".into(),
        ..run.clone()
    };
    assert!(Evidence::from_fis(&earlier, Some(&a), &web())
        .radius
        .is_empty());
    let stopped = FisRun {
        status: "stopped".into(),
        ..run
    };
    assert!(!Evidence::from_fis(&stopped, Some(&a), &web()).passed);
}
