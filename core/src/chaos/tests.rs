use super::design::{self, Action, AzMode, Fault, Undo};
use super::fixtures::*;
use super::journal::{Journal, Outcome};
use super::verdict::{assess, Point, Status};
use super::*;
use crate::resource::Val;

// ---------- verdict ----------

fn timeline(steps: &[(f64, bool)]) -> Vec<Point> {
    steps
        .iter()
        .map(|&(at, steady)| Point { at, steady })
        .collect()
}

#[test]
fn recovery_well_inside_the_budget_passes() {
    let p = timeline(&[
        (0.0, true),
        (1.0, false),
        (2.0, false),
        (5.0, true),
        (20.0, true),
    ]);
    let v = assess(&p, 0.5, 300.0, 10.0);
    assert_eq!(v.status, Status::Recovered);
    assert_eq!(v.detected_after, Some(0.5));
    assert_eq!(v.recovered_after, Some(4.5));
    assert_eq!(v.relapses, 0);
}

#[test]
fn recovery_exactly_at_the_budget_passes_and_one_later_fails() {
    let p = timeline(&[(0.0, true), (1.0, false), (10.0, true), (15.0, true)]);
    assert_eq!(assess(&p, 0.5, 9.5, 5.0).status, Status::Recovered);
    assert_eq!(assess(&p, 0.5, 9.4, 5.0).status, Status::NotRecovered);
}

#[test]
fn recovery_waits_for_the_settle_time() {
    let p = timeline(&[(0.0, true), (1.0, false), (3.0, true), (4.0, true)]);
    let v = assess(&p, 0.5, 60.0, 5.0);
    assert_eq!(
        v.status,
        Status::Pending,
        "steady for 1 s of the 5 s settle"
    );
    assert_eq!(v.recovered_after, Some(2.5));
}

#[test]
fn never_recovering_fails_once_the_budget_is_spent() {
    let p = timeline(&[(0.0, true), (1.0, false), (5.0, false)]);
    assert_eq!(assess(&p, 0.5, 10.0, 1.0).status, Status::Pending);
    let p = timeline(&[(0.0, true), (1.0, false), (5.0, false), (11.0, false)]);
    let v = assess(&p, 0.5, 10.0, 1.0);
    assert_eq!(v.status, Status::NotRecovered);
    assert_eq!(v.recovered_after, None);
}

#[test]
fn flapping_counts_the_last_recovery_and_the_relapses() {
    let p = timeline(&[
        (0.0, true),
        (1.0, false),
        (3.0, true),
        (4.0, false),
        (6.0, true),
        (7.0, false),
        (9.0, true),
        (20.0, true),
    ]);
    let v = assess(&p, 0.5, 30.0, 5.0);
    assert_eq!(v.status, Status::Recovered);
    assert_eq!(v.recovered_after, Some(8.5));
    assert_eq!(v.relapses, 2);
    // The same flapping, with a budget that only the first recovery met, fails.
    let v = assess(&p, 0.5, 5.0, 5.0);
    assert_eq!(v.status, Status::NotRecovered);
}

#[test]
fn relapse_after_the_budget_fails() {
    let p = timeline(&[
        (0.0, true),
        (1.0, false),
        (2.0, true),
        (3.0, true),
        (12.0, false),
    ]);
    assert_eq!(assess(&p, 0.5, 10.0, 30.0).status, Status::NotRecovered);
}

#[test]
fn not_steady_before_the_fault_is_refused() {
    let p = timeline(&[(0.0, false), (1.0, true), (2.0, true)]);
    assert_eq!(assess(&p, 0.5, 10.0, 0.0).status, Status::NotSteadyBefore);
    assert_eq!(assess(&[], 0.5, 10.0, 0.0).status, Status::NotSteadyBefore);
}

#[test]
fn a_fault_no_probe_saw_is_reported_as_undetected() {
    let p = timeline(&[(0.0, true), (1.0, true), (3.0, true)]);
    let v = assess(&p, 0.5, 10.0, 1.0);
    assert_eq!(v.status, Status::Recovered);
    assert_eq!(v.detected_after, None);
    assert_eq!(v.recovered_after, Some(0.5));
}

// ---------- inventory and design ----------

fn kill_instance(tiers: &[&str], count: Option<u32>, percent: Option<u32>, ids: &[&str]) -> Fault {
    Fault::KillInstance {
        tiers: tiers.iter().map(|s| s.to_string()).collect(),
        count,
        percent,
        instances: ids.iter().map(|s| s.to_string()).collect(),
        seed: Some("fixed".into()),
    }
}

#[test]
fn inventory_is_read_from_observed_resources() {
    let mut asg = Observed::new("tier.web.asg", Kind::AutoScalingGroup, "t-web")
        .prop("subnet_ids", Val::list([Val::str("s-a"), Val::str("s-b")]))
        .prop("target_group_arns", Val::list([Val::str("tg-web")]));
    asg.stack = "stage1".into();
    let subnet =
        Observed::new("network.private.0", Kind::Subnet, "s-a").output("availability_zone", "az-a");
    let db = Observed::new("db.main", Kind::DbInstance, "t-main").prop("multi_az", Val::Bool(true));
    let alarm = Observed::new(
        "alarm.tier.web.capacity",
        Kind::MetricAlarm,
        "t-web-in-service",
    )
    .prop("period", Val::Int(60))
    .prop("evaluation_periods", Val::Int(5))
    .output("arn", "arn:alarm");
    let inv = Inventory::from_observed("t", &[asg, subnet, db, alarm]);
    assert_eq!(inv.stack, "stage1");
    assert_eq!(inv.groups[0].tier, "web");
    assert_eq!(inv.groups[0].subnets, vec!["s-a", "s-b"]);
    assert_eq!(inv.zones(), vec!["az-a"]);
    assert!(inv.databases[0].multi_az);
    assert_eq!(inv.alarms[0].window_seconds, 300);
    assert_eq!(
        inv.alarm("alarm.tier.web.capacity").unwrap().name,
        "t-web-in-service"
    );
}

#[test]
fn serving_needs_every_view_to_agree() {
    let mut i = instance("i-1", "web", "az-a", "running");
    assert!(i.serving(1));
    i.state = "stopped".into();
    assert!(
        !i.serving(1),
        "a stopped instance the group still lists InService is not serving"
    );
    let mut i = instance("i-1", "web", "az-a", "running");
    i.target_health.clear();
    assert!(!i.serving(1), "not registered behind the balancer");
    let mut i = instance("i-1", "web", "az-a", "running");
    i.lifecycle = "Pending".into();
    assert!(!i.serving(1));
}

#[test]
fn budget_is_the_tightest_guarding_alarm() {
    let inv = inventory();
    let b = design::derive_budget(&inv, &["web".into()], &[], &[], &[]).unwrap();
    assert_eq!(b.seconds, 180.0);
    assert!(
        b.source.contains("t-alarm-tier-web-healthy-hosts"),
        "{}",
        b.source
    );
    let b = design::derive_budget(
        &inv,
        &["web".into(), "app".into()],
        &["t-main".into()],
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(b.seconds, 180.0);
    let b = design::derive_budget(&inv, &[], &["t-main".into()], &[], &[]).unwrap();
    assert_eq!(b.seconds, 600.0);
    let mut bare = inv.clone();
    bare.alarms.clear();
    let err = design::derive_budget(&bare, &["web".into()], &[], &[], &[]).unwrap_err();
    assert!(err.0.contains("--budget"), "{err}");
}

#[test]
fn kill_instance_takes_one_per_tier_and_never_a_whole_group_by_accident() {
    let inv = inventory();
    let base = observation(healthy_fleet(), "az-a", &[]);
    let d = design::design(&kill_instance(&["web"], None, None, &[]), &inv, &base, None).unwrap();
    let Action::TerminateInstances { instances } = &d.actions[0] else {
        panic!("{:?}", d.actions)
    };
    assert_eq!(instances.len(), 1);
    assert!(instances[0].starts_with("i-w"));
    assert_eq!(d.tiers, vec!["web"]);
    assert_eq!(d.budget.seconds, 180.0);

    let all = design::design(
        &kill_instance(&["app"], Some(2), None, &[]),
        &inv,
        &base,
        None,
    );
    assert!(all.unwrap_err().0.contains("--percent 100"));
    let d = design::design(
        &kill_instance(&["app"], None, Some(100), &[]),
        &inv,
        &base,
        None,
    )
    .unwrap();
    assert_eq!(
        d.actions[0],
        Action::TerminateInstances {
            instances: vec!["i-a1".into(), "i-a2".into()]
        }
    );
    // 34 % of 3 rounds up to 2.
    let d = design::design(
        &kill_instance(&["web"], None, Some(34), &[]),
        &inv,
        &base,
        None,
    )
    .unwrap();
    let Action::TerminateInstances { instances } = &d.actions[0] else {
        panic!()
    };
    assert_eq!(instances.len(), 2);
    // No --group: one from every tier.
    let d = design::design(
        &kill_instance(&[], None, None, &[]),
        &inv,
        &base,
        Some(30.0),
    )
    .unwrap();
    let Action::TerminateInstances { instances } = &d.actions[0] else {
        panic!()
    };
    assert_eq!(instances.len(), 2);
    assert_eq!(d.budget.source, "--budget");
}

#[test]
fn the_seed_makes_the_choice_repeatable() {
    let inv = inventory();
    let base = observation(healthy_fleet(), "az-a", &[]);
    let a = design::design(&kill_instance(&["web"], None, None, &[]), &inv, &base, None).unwrap();
    let b = design::design(&kill_instance(&["web"], None, None, &[]), &inv, &base, None).unwrap();
    assert_eq!(a.actions, b.actions);
    let picks: std::collections::BTreeSet<String> = (0..20)
        .map(|n| {
            let fault = Fault::KillInstance {
                tiers: vec!["web".into()],
                count: None,
                percent: None,
                instances: vec![],
                seed: Some(n.to_string()),
            };
            let d = design::design(&fault, &inv, &base, None).unwrap();
            format!("{:?}", d.actions)
        })
        .collect();
    assert!(
        picks.len() > 1,
        "the seed never changed the choice: {picks:?}"
    );
}

#[test]
fn without_a_seed_the_dry_run_and_the_run_choose_the_same_and_say_how_to_repeat_it() {
    let inv = inventory();
    let base = observation(healthy_fleet(), "az-a", &[]);
    let unseeded = Fault::KillInstance {
        tiers: vec!["web".into()],
        count: None,
        percent: None,
        instances: vec![],
        seed: None,
    };
    // Two designs from the same probe stand for the dry run and the run that follows it.
    let dry = design::design(&unseeded, &inv, &base, None).unwrap();
    let run = design::design(&unseeded, &inv, &base, None).unwrap();
    assert_eq!(dry.actions, run.actions);
    let seed = dry.seed.clone().expect("the design names the seed it used");
    let repeated = Fault::KillInstance {
        tiers: vec!["web".into()],
        count: None,
        percent: None,
        instances: vec![],
        seed: Some(seed.clone()),
    };
    let again = design::design(&repeated, &inv, &base, None).unwrap();
    assert_eq!(
        again.actions, dry.actions,
        "--seed {seed} repeats the choice"
    );
    assert_eq!(again.seed.as_deref(), Some(seed.as_str()));
    // Instances named one by one involve no choice, so no seed.
    let named = design::design(
        &kill_instance(&[], None, None, &[&base.instances[0].id]),
        &inv,
        &base,
        None,
    )
    .unwrap();
    assert_eq!(named.seed, None);
}

#[test]
fn kill_instance_refuses_instances_outside_the_deployment() {
    let inv = inventory();
    let base = observation(healthy_fleet(), "az-a", &[]);
    let err = design::design(
        &kill_instance(&[], None, None, &["i-stranger"]),
        &inv,
        &base,
        None,
    )
    .unwrap_err();
    assert!(err.0.contains("not an instance of deployment t"), "{err}");
    let d = design::design(
        &kill_instance(&[], None, None, &["i-a2"]),
        &inv,
        &base,
        None,
    )
    .unwrap();
    assert_eq!(d.tiers, vec!["app"]);
    let err =
        design::design(&kill_instance(&["db"], None, None, &[]), &inv, &base, None).unwrap_err();
    assert!(err.0.contains("no such tier"), "{err}");
}

#[test]
fn kill_az_picks_the_busiest_zone_and_keeps_groups_out_of_it() {
    let inv = inventory();
    let base = observation(healthy_fleet(), "az-a", &[]);
    let fault = Fault::KillAz {
        zone: None,
        mode: AzMode::Terminate,
    };
    let d = design::design(&fault, &inv, &base, None).unwrap();
    assert_eq!(d.zone.as_deref(), Some("az-a"));
    assert_eq!(
        d.actions,
        vec![
            // Every subnet of the deployment in the zone, not only the groups' ones.
            Action::IsolateSubnets {
                vpc: "vpc-1".into(),
                zone: "az-a".into(),
                subnets: [("s-a", "acl-app"), ("s-db-a", "acl-data")]
                    .iter()
                    .map(|(s, a)| (s.to_string(), a.to_string()))
                    .collect(),
            },
            Action::RemoveZone {
                group: "t-app".into(),
                zone: "az-a".into(),
                from: vec!["s-a".into(), "s-b".into()],
                to: vec!["s-b".into()]
            },
            Action::RemoveZone {
                group: "t-web".into(),
                zone: "az-a".into(),
                from: vec!["s-a".into(), "s-b".into()],
                to: vec!["s-b".into()]
            },
            Action::TerminateInstances {
                instances: vec!["i-a1".into(), "i-w1".into(), "i-w2".into()]
            },
            Action::FailoverDatabase {
                identifier: "t-main".into(),
                zone: "az-a".into()
            },
        ]
    );
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    // The database is failed over only when its primary is in the lost zone.
    let base_b = observation(healthy_fleet(), "az-b", &[]);
    let d = design::design(&fault, &inv, &base_b, None).unwrap();
    assert!(!d
        .actions
        .iter()
        .any(|a| matches!(a, Action::FailoverDatabase { .. })));
    assert_eq!(d.budget.seconds, 180.0);
}

#[test]
fn kill_az_stop_mode_is_undone_by_starting_and_restoring() {
    let inv = inventory();
    let base = observation(healthy_fleet(), "az-b", &[]);
    let fault = Fault::KillAz {
        zone: Some("az-b".into()),
        mode: AzMode::Stop,
    };
    let d = design::design(&fault, &inv, &base, None).unwrap();
    let undos: Vec<Undo> = d.actions.iter().filter_map(|a| a.undo()).collect();
    assert_eq!(
        undos,
        vec![
            Undo::RestoreNetworkAcls {
                vpc: "vpc-1".into(),
                subnets: [("s-b".to_string(), "acl-app".to_string())].into(),
            },
            Undo::RestoreZones {
                group: "t-app".into(),
                subnets: vec!["s-a".into(), "s-b".into()]
            },
            Undo::RestoreZones {
                group: "t-web".into(),
                subnets: vec!["s-a".into(), "s-b".into()]
            },
            Undo::StartInstances {
                instances: vec!["i-a2".into(), "i-w3".into()]
            },
        ]
    );
    let err = design::design(
        &Fault::KillAz {
            zone: Some("az-z".into()),
            mode: AzMode::Stop,
        },
        &inv,
        &base,
        None,
    )
    .unwrap_err();
    assert!(err.0.contains("does not use that zone"), "{err}");
}

#[test]
fn kill_az_stops_the_zones_tasks_and_says_what_serves_outside_it() {
    let mut inv = inventory();
    inv.services.push(api_service());
    let mut base = observation(healthy_fleet(), "az-b", &[]);
    base.tasks = api_tasks();
    let d = design::design(
        &Fault::KillAz {
            zone: Some("az-a".into()),
            mode: AzMode::Terminate,
        },
        &inv,
        &base,
        Some(60.0),
    )
    .unwrap();
    assert!(
        d.actions.contains(&Action::StopTasks {
            cluster: "t-cluster".into(),
            service: "t-api".into(),
            tasks: vec!["arn:task/1".into(), "arn:task/3".into()],
        }),
        "{:?}",
        d.actions
    );
    assert!(d.summary.contains("stop its 2 tasks"), "{}", d.summary);
    assert!(d.summary.contains("cut its 2 subnets off"), "{}", d.summary);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    // Every task in the lost zone: said before it starts.
    base.tasks.retain(|t| t.zone == "az-a");
    let d = design::design(
        &Fault::KillAz {
            zone: Some("az-a".into()),
            mode: AzMode::Terminate,
        },
        &inv,
        &base,
        Some(60.0),
    )
    .unwrap();
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("service api is not spread")),
        "{:?}",
        d.warnings
    );
    // What serves outside the lost zone, from a probe.
    let lines = base.snapshot.outside_zone("az-a");
    assert!(
        lines.contains(&"tier web: 1 of 3 serving (1 in az-b), and 2 still in az-a".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"database main: available, primary in az-b".to_string()),
        "{lines:?}"
    );
}

#[test]
fn kill_az_without_a_known_network_acl_says_the_subnet_stays_connected() {
    let mut inv = inventory();
    inv.subnet_acls.remove("s-db-a");
    let d = design::design(
        &Fault::KillAz {
            zone: Some("az-a".into()),
            mode: AzMode::Terminate,
        },
        &inv,
        &steady(),
        Some(60.0),
    )
    .unwrap();
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("s-db-a") && w.contains("not cut off")),
        "{:?}",
        d.warnings
    );
    assert!(
        matches!(&d.actions[0], Action::IsolateSubnets { subnets, .. } if subnets.len() == 1),
        "{:?}",
        d.actions
    );
}

#[test]
fn kill_az_flags_a_tier_that_lives_in_one_zone() {
    let inv = inventory();
    let fleet = vec![
        instance("i-w1", "web", "az-a", "running"),
        instance("i-w2", "web", "az-a", "running"),
        instance("i-a1", "app", "az-b", "running"),
    ];
    let base = observation(fleet, "az-b", &[]);
    let d = design::design(
        &Fault::KillAz {
            zone: None,
            mode: AzMode::Terminate,
        },
        &inv,
        &base,
        None,
    )
    .unwrap();
    assert_eq!(d.zone.as_deref(), Some("az-a"));
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("tier web is not spread")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn rds_failover_needs_multi_az() {
    let mut inv = inventory();
    let base = observation(healthy_fleet(), "az-a", &[]);
    let d = design::design(&Fault::RdsFailover { databases: vec![] }, &inv, &base, None).unwrap();
    assert_eq!(
        d.actions,
        vec![Action::FailoverDatabase {
            identifier: "t-main".into(),
            zone: "az-a".into()
        }]
    );
    assert_eq!(d.budget.seconds, 600.0);
    inv.databases[0].multi_az = false;
    let err =
        design::design(&Fault::RdsFailover { databases: vec![] }, &inv, &base, None).unwrap_err();
    assert!(err.0.contains("not Multi-AZ"), "{err}");
}

fn with_cache(mut inv: Inventory, failover: bool) -> Inventory {
    inv.caches.push(Cache {
        name: "session".into(),
        group: "t-session".into(),
        automatic_failover: failover,
        shards: vec!["0001".into(), "0002".into()],
    });
    for (id, window) in [
        ("alarm.cache.session.0001-001.cpu", 420),
        ("alarm.cache.session.0001-002.replication-lag", 120),
    ] {
        inv.alarms.push(Alarm {
            logical_id: id.into(),
            name: format!("t-{}", id.replace('.', "-")),
            arn: String::new(),
            window_seconds: window,
        });
    }
    inv
}

fn cache_state(primary_zone: Option<&str>, status: &str) -> CacheState {
    CacheState {
        name: "session".into(),
        group: "t-session".into(),
        status: status.into(),
        shards: ["0001", "0002"]
            .iter()
            .map(|id| ShardState {
                id: id.to_string(),
                status: status.into(),
                members: 2,
                primary: primary_zone.map(|_| format!("t-session-{id}-001")),
                primary_zone: primary_zone.map(str::to_string),
            })
            .collect(),
    }
}

#[test]
fn cache_failover_targets_shards_and_takes_the_cache_alarm_budget() {
    let inv = with_cache(inventory(), true);
    let mut base = observation(healthy_fleet(), "az-a", &[]);
    base.snapshot.caches.push(cache_state(None, "available"));
    let every = Fault::CacheFailover {
        caches: vec![],
        shard: None,
    };
    let d = design::design(&every, &inv, &base, None).unwrap();
    assert_eq!(d.failover_caches(), vec!["t-session".to_string()]);
    assert_eq!(d.actions.len(), 2, "{:?}", d.actions);
    // The cache's own alarms set the budget, not the tiers' or the database's.
    assert_eq!(d.budget.seconds, 120.0);
    assert!(
        d.budget.source.contains("replication-lag"),
        "{}",
        d.budget.source
    );
    let one = Fault::CacheFailover {
        caches: vec!["session".into()],
        shard: Some("0002".into()),
    };
    let d = design::design(&one, &inv, &base, None).unwrap();
    assert_eq!(
        d.actions,
        vec![Action::FailoverCache {
            group: "t-session".into(),
            shard: "0002".into(),
            zone: None
        }]
    );
    for (fault, says) in [
        (
            Fault::CacheFailover {
                caches: vec!["nope".into()],
                shard: None,
            },
            "no such cache",
        ),
        (
            Fault::CacheFailover {
                caches: vec![],
                shard: Some("0009".into()),
            },
            "has shards 0001, 0002",
        ),
    ] {
        let err = design::design(&fault, &inv, &base, None).unwrap_err();
        assert!(err.0.contains(says), "{err}");
    }
    let off = with_cache(inventory(), false);
    let err = design::design(&every, &off, &base, None).unwrap_err();
    assert!(err.0.contains("automatic failover off"), "{err}");
    let err = design::design(&every, &inventory(), &base, None).unwrap_err();
    assert!(err.0.contains("no ElastiCache replication group"), "{err}");
}

#[test]
fn a_cache_shard_not_available_is_not_steady() {
    let mut snap = observation(healthy_fleet(), "az-a", &[]).snapshot;
    snap.caches.push(cache_state(None, "available"));
    assert!(snap.problems(&[]).is_empty(), "{:?}", snap.problems(&[]));
    snap.caches[0].shards[1].status = "modifying".into();
    assert_eq!(
        snap.problems(&[]),
        vec!["cache session shard 0002: modifying".to_string()]
    );
}

#[test]
fn kill_az_fails_over_cache_primaries_known_to_be_there() {
    let inv = with_cache(inventory(), true);
    let kill_a = Fault::KillAz {
        zone: Some("az-a".into()),
        mode: AzMode::Terminate,
    };
    let mut base = observation(healthy_fleet(), "az-b", &[]);
    base.snapshot
        .caches
        .push(cache_state(Some("az-a"), "available"));
    let d = design::design(&kill_a, &inv, &base, None).unwrap();
    assert_eq!(d.failover_caches(), vec!["t-session".to_string()]);
    // Roles unknown (cluster mode): no blind failover, a warning instead.
    base.snapshot.caches[0] = cache_state(None, "available");
    let d = design::design(&kill_a, &inv, &base, None).unwrap();
    assert!(d.failover_caches().is_empty());
    assert!(
        d.warnings.iter().any(|w| w.contains("cache-failover")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn kill_task_stops_some_tasks_never_all() {
    let mut inv = inventory();
    inv.services.push(api_service());
    inv.alarms.push(Alarm {
        logical_id: "alarm.svc.api.running".into(),
        name: "t-api-svc-running".into(),
        arn: String::new(),
        window_seconds: 180,
    });
    let mut base = steady();
    for arn in ["arn:task/b", "arn:task/a", "arn:task/c"] {
        base.tasks.push(Task {
            service: "t-api".into(),
            arn: arn.into(),
            zone: "az-a".into(),
        });
    }
    let one = Fault::KillTask {
        services: vec![],
        count: None,
        percent: None,
        seed: Some("fixed".into()),
    };
    let d = design::design(&one, &inv, &base, None).unwrap();
    let [Action::StopTasks {
        cluster,
        service,
        tasks,
    }] = d.actions.as_slice()
    else {
        panic!("one StopTasks action: {:?}", d.actions);
    };
    assert_eq!((cluster.as_str(), service.as_str()), ("t-cluster", "t-api"));
    assert_eq!(tasks.len(), 1);
    assert_eq!(d.seed.as_deref(), Some("fixed"));
    assert_eq!(d.budget.seconds, 180.0);
    // A share: 50% of 3 rounds up to 2, and never all of them.
    let half = Fault::KillTask {
        services: vec![],
        count: None,
        percent: Some(50),
        seed: None,
    };
    let d = design::design(&half, &inv, &base, None).unwrap();
    assert!(
        matches!(d.actions.as_slice(), [Action::StopTasks { tasks, .. }] if tasks.len() == 2),
        "{:?}",
        d.actions
    );
    let whole = Fault::KillTask {
        services: vec![],
        count: None,
        percent: Some(100),
        seed: None,
    };
    let err = design::design(&whole, &inv, &base, None).unwrap_err();
    assert!(err.0.contains("would leave none"), "{err}");
    let all = Fault::KillTask {
        services: vec!["api".into()],
        count: Some(3),
        percent: None,
        seed: None,
    };
    let err = design::design(&all, &inv, &base, None).unwrap_err();
    assert!(err.0.contains("would leave none"), "{err}");
    let unknown = Fault::KillTask {
        services: vec!["nope".into()],
        count: None,
        percent: None,
        seed: None,
    };
    assert!(design::design(&unknown, &inv, &base, None).is_err());
    // A service short of tasks is not steady.
    let mut snap = base.snapshot.clone();
    snap.services.push(ServiceState {
        name: "api".into(),
        service: "t-api".into(),
        desired: 3,
        running: 2,
        pending: 1,
    });
    assert_eq!(
        snap.problems(&[]),
        vec!["service api: 2 of 3 tasks running".to_string()]
    );
}

#[test]
fn applicable_experiments_follow_what_exists() {
    let inv = inventory();
    let names: Vec<String> = design::applicable(&inv)
        .iter()
        .map(|a| format!("{} {}", a.experiment, a.targets))
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("kill-instance"))
            .count(),
        2
    );
    assert_eq!(names.iter().filter(|n| n.starts_with("kill-az")).count(), 2);
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("rds-failover"))
            .count(),
        1
    );
    let mut no_db = inv.clone();
    no_db.databases.clear();
    assert!(!design::applicable(&no_db)
        .iter()
        .any(|a| a.experiment == "rds-failover"));
}

#[test]
fn fis_template_targets_by_tag_and_stops_on_the_guarding_alarms() {
    let inv = inventory();
    let base = observation(healthy_fleet(), "az-a", &[]);
    let fault = Fault::KillAz {
        zone: Some("az-a".into()),
        mode: AzMode::Stop,
    };
    let d = design::design(&fault, &inv, &base, None).unwrap();
    let t = fis::template(&fault, &d, &inv, "arn:aws:iam::1:role/fis", 120.0, &[]);
    assert_eq!(fis::model::check(&t), Vec::<String>::new());
    // One target per group, selecting only that group's members in the zone (never EMR nodes
    // or other instances that merely carry the deployment's tag).
    let instances = &t["targets"]["web-zone-instances"];
    assert_eq!(instances["resourceTags"]["ftctl:deployment"], "t");
    assert_eq!(
        instances["resourceTags"]["aws:autoscaling:groupName"],
        inv.groups
            .iter()
            .find(|g| g.tier == "web")
            .unwrap()
            .name
            .as_str()
    );
    assert_eq!(instances["filters"][1]["values"][0], "az-a");
    assert!(t["targets"]["app-zone-instances"].is_object(), "{t}");
    assert!(t["targets"]["zone-instances"].is_null(), "{t}");
    assert_eq!(
        t["actions"]["lose-web-instances"]["actionId"],
        "aws:ec2:stop-instances"
    );
    assert_eq!(
        t["actions"]["lose-web-instances"]["parameters"]["startInstancesAfterDuration"],
        "PT120S"
    );
    assert_eq!(
        t["actions"]["isolate-zone"]["actionId"],
        "aws:network:disrupt-connectivity"
    );
    assert_eq!(
        t["actions"]["failover-databases"]["parameters"]["forceFailover"],
        "true"
    );
    let stops = t["stopConditions"].as_array().unwrap();
    assert_eq!(
        stops.len(),
        3,
        "web capacity + healthy hosts + app capacity: {stops:?}"
    );
    assert!(stops.iter().all(|s| s["source"] == "aws:cloudwatch:alarm"));
    assert_eq!(t["roleArn"], "arn:aws:iam::1:role/fis");
}

// ---------- the run loop, with a scripted lab ----------
#[test]
fn the_report_and_timeline_render_a_run() {
    let inv = inventory();
    let base = steady();
    let design = design::design(
        &Fault::KillAz {
            zone: Some("az-a".into()),
            mode: AzMode::Terminate,
        },
        &inv,
        &base,
        Some(5.0),
    )
    .unwrap();
    let mut j = Journal::new(
        &inv,
        "region x",
        "2026-11-22T00:00:00Z".into(),
        design,
        settings(),
    );
    for (at, obs) in [
        (0.0, steady()),
        (0.5, degraded()),
        (1.0, degraded()),
        (2.0, steady()),
    ] {
        let problems = obs.snapshot.problems(&[]);
        let mut snapshot = obs.snapshot;
        snapshot.at = at;
        j.probes.push(super::journal::JournalProbe {
            steady: problems.is_empty(),
            problems,
            snapshot,
        });
    }
    j.injected_at = Some(0.2);
    j.verdict = Some(assess(
        &[
            Point {
                at: 0.0,
                steady: true,
            },
            Point {
                at: 0.5,
                steady: false,
            },
            Point {
                at: 2.0,
                steady: true,
            },
        ],
        0.2,
        5.0,
        0.0,
    ));
    j.outcome = Some(Outcome::Recovered);
    let md = report::markdown(&j, "timeline.svg");
    assert!(md.contains("**RECOVERED**"), "{md}");
    assert!(md.contains("| Time to recover (MTTR) | 1.8 s |"), "{md}");
    assert!(md.contains("![timeline](timeline.svg)"));
    assert!(md.contains("web: 1 of 3 serving"), "{md}");
    let svg = report::timeline_svg(&j).unwrap();
    assert!(svg.starts_with("<svg"));
    for label in [
        "web serving",
        "app serving",
        "fault",
        "recovered (+1.8 s)",
        "budget 5 s",
    ] {
        assert!(svg.contains(label), "missing {label}");
    }

    // With load, the users' view is drawn below and reported.
    let samples: Vec<crate::chaos::load::Sample> = (0..30)
        .map(|i| crate::chaos::load::Sample {
            at: i as f64 * 0.1,
            ok: i % 10 != 5,
            latency_ms: 20.0 + i as f64,
        })
        .collect();
    j.load = Some(crate::chaos::load::assess(
        "http://shop/",
        10.0,
        &samples,
        0.2,
        Some(0.01),
        None,
    ));
    let svg = report::timeline_svg(&j).unwrap();
    assert!(
        svg.contains("p99 latency (ms)") && svg.contains("answered %"),
        "{svg}"
    );
    let md = report::markdown(&j, "timeline.svg");
    assert!(
        md.contains("| Users (load) | 28 requests to http://shop/"),
        "{md}"
    );
}

#[test]
fn kill_az_loses_only_group_members_and_names_what_it_leaves_alone() {
    let inv = inventory();
    let mut fleet = healthy_fleet();
    // An EMR node: the deployment's tag (EMR propagates it), but in no Auto Scaling group.
    fleet.push(instance("i-emr1", "", "az-a", "running"));
    let base = observation(fleet, "az-b", &[]);
    let fault = Fault::KillAz {
        zone: Some("az-a".into()),
        mode: AzMode::Terminate,
    };
    let d = design::design(&fault, &inv, &base, None).unwrap();
    let lost: Vec<&String> = d
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::TerminateInstances { instances } => Some(instances),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(lost, ["i-a1", "i-w1", "i-w2"]);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("left alone in az-a: i-emr1")),
        "{:?}",
        d.warnings
    );
}

// ---------- gray failures ----------

fn share(tiers: &[&str], count: Option<u32>, percent: Option<u32>) -> design::gray::Share {
    design::gray::Share {
        tiers: tiers.iter().map(|s| s.to_string()).collect(),
        count,
        percent,
        seed: Some("fixed".into()),
        duration: 120,
    }
}

fn latency(on: design::gray::Share) -> Fault {
    Fault::Latency {
        on,
        delay_ms: 200,
        jitter_ms: 20,
    }
}

#[test]
fn latency_sends_the_fis_document_with_its_parameters_to_a_share_of_the_tier() {
    let inv = inventory();
    let d = design::design(&latency(share(&["web"], None, None)), &inv, &steady(), None).unwrap();
    assert_eq!(d.experiment, "latency");
    assert!(!d.expects_healing(), "a gray failure is judged by hold");
    assert_eq!(d.tiers, vec!["web"]);
    assert_eq!(d.actions.len(), 1);
    let Action::SendCommand {
        document,
        instances,
        parameters,
        comment,
    } = &d.actions[0]
    else {
        panic!("{:?}", d.actions)
    };
    assert_eq!(document, "AWSFIS-Run-Network-Latency-Sources");
    assert_eq!(instances.len(), 1, "one instance of web's three by default");
    assert!(instances[0].starts_with("i-w"));
    let p = |k: &str| parameters.get(k).map(|v| v.join(",")).unwrap_or_default();
    assert_eq!(p("DelayMilliseconds"), "200");
    assert_eq!(p("JitterMilliseconds"), "20");
    assert_eq!(p("DurationSeconds"), "120");
    assert_eq!(p("Sources"), "ALL");
    assert_eq!(p("TrafficType"), "egress");
    assert_eq!(p("Interface"), "DEFAULT");
    assert_eq!(p("InstallDependencies"), "True");
    assert_eq!(parameters.len(), 7, "{parameters:?}");
    assert!(comment.starts_with("ftctl chaos latency t ") && comment.len() <= 100);
    // Undone by cancelling that very command, recorded before it is sent.
    assert_eq!(
        d.actions[0].undo(),
        Some(Undo::CancelCommand {
            document: document.clone(),
            instances: instances.clone(),
            comment: comment.clone(),
        })
    );
    // The budget is the fault's duration, not an alarm window; the seed is in the design.
    assert_eq!(d.budget.seconds, 120.0);
    assert_eq!(d.seed.as_deref(), Some("fixed"), "{}", d.summary);
}

#[test]
fn packet_loss_and_cpu_stress_use_their_documents() {
    let inv = inventory();
    let loss = Fault::PacketLoss {
        on: share(&["app"], None, None),
        loss_percent: 15,
    };
    let d = design::design(&loss, &inv, &steady(), None).unwrap();
    let Action::SendCommand {
        document,
        parameters,
        ..
    } = &d.actions[0]
    else {
        panic!()
    };
    assert_eq!(document, "AWSFIS-Run-Network-Packet-Loss-Sources");
    assert_eq!(parameters["LossPercent"], vec!["15"]);
    assert_eq!(parameters["Sources"], vec!["ALL"]);
    let cpu = Fault::CpuStress {
        on: share(&["web"], Some(2), None),
        load_percent: 90,
    };
    let d = design::design(&cpu, &inv, &steady(), None).unwrap();
    let Action::SendCommand {
        document,
        instances,
        parameters,
        ..
    } = &d.actions[0]
    else {
        panic!()
    };
    assert_eq!(document, "AWSFIS-Run-CPU-Stress");
    assert_eq!(instances.len(), 2);
    assert_eq!(parameters["LoadPercent"], vec!["90"]);
    assert_eq!(parameters["CPU"], vec!["0"]);
    assert_eq!(parameters["DurationSeconds"], vec!["120"]);
    assert!(!parameters.contains_key("Sources"));
}

#[test]
fn gray_victims_follow_the_seed_and_never_take_a_whole_tier_by_accident() {
    let inv = inventory();
    let pick = |seed: &str| {
        let mut on = share(&["web"], None, None);
        on.seed = Some(seed.into());
        let d = design::design(&latency(on), &inv, &steady(), None).unwrap();
        match &d.actions[0] {
            Action::SendCommand { instances, .. } => instances.clone(),
            a => panic!("{a:?}"),
        }
    };
    assert_eq!(
        pick("a"),
        pick("a"),
        "the same seed picks the same instance"
    );
    let picks: std::collections::BTreeSet<Vec<String>> =
        (0..20).map(|n| pick(&n.to_string())).collect();
    assert!(picks.len() > 1, "different seeds spread the choice");
    let err = design::design(
        &latency(share(&["web"], Some(3), None)),
        &inv,
        &steady(),
        None,
    )
    .unwrap_err();
    assert!(err.0.contains("--percent 100"), "{}", err.0);
    let all = design::design(
        &latency(share(&["web"], None, Some(100))),
        &inv,
        &steady(),
        None,
    )
    .unwrap();
    assert_eq!(
        all.summary.split(" 3 instances").count(),
        2,
        "{}",
        all.summary
    );
}

#[test]
fn gray_input_out_of_range_is_refused_before_anything_is_read() {
    let bad = [
        latency(share(&[], None, Some(0))),
        latency(share(&[], None, Some(150))),
        latency(share(&[], Some(0), None)),
        Fault::Latency {
            on: share(&[], None, None),
            delay_ms: 0,
            jitter_ms: 0,
        },
        Fault::Latency {
            on: share(&[], None, None),
            delay_ms: 10,
            jitter_ms: 11,
        },
        Fault::PacketLoss {
            on: share(&[], None, None),
            loss_percent: 101,
        },
        Fault::CpuStress {
            on: share(&[], None, None),
            load_percent: 0,
        },
        Fault::CpuStress {
            on: design::gray::Share {
                duration: 30,
                ..share(&[], None, None)
            },
            load_percent: 50,
        },
    ];
    for f in &bad {
        assert!(design::gray::check(f).is_err(), "{f:?}");
    }
    assert!(design::gray::check(&latency(share(&[], None, Some(100)))).is_ok());
}

#[test]
fn gray_experiments_apply_only_to_tiers_systems_manager_reaches() {
    let mut inv = inventory();
    let gray: Vec<String> = design::applicable(&inv)
        .iter()
        .filter(|a| design::gray::EXPERIMENTS.contains(&a.experiment.as_str()))
        .map(|a| a.command.clone())
        .collect();
    assert_eq!(gray.len(), 6, "three per tier: {gray:?}");
    assert!(gray
        .iter()
        .any(|c| c.starts_with("ftctl chaos latency --env t --group web")));
    inv.ssm_tiers = vec!["web".into()];
    assert_eq!(
        design::applicable(&inv)
            .iter()
            .filter(|a| a.experiment == "cpu-stress")
            .count(),
        1
    );
    let err =
        design::design(&latency(share(&["app"], None, None)), &inv, &steady(), None).unwrap_err();
    assert!(err.0.contains("AmazonSSMManagedInstanceCore"), "{}", err.0);
    inv.ssm_tiers.clear();
    assert!(design::design(&latency(share(&[], None, None)), &inv, &steady(), None).is_err());
}

#[test]
fn ssm_managed_tiers_are_read_from_the_instance_roles() {
    let mut web = Observed::new("tier.web.role", Kind::IamRole, "t-web-instance");
    web.props.insert(
        "managed_policies".into(),
        Val::list([Val::str(
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        )]),
    );
    let mut app = Observed::new("tier.app.role", Kind::IamRole, "t-app-instance");
    app.props
        .insert("managed_policies".into(), Val::List(Vec::new()));
    let inv = Inventory::from_observed("t", &[web, app]);
    assert_eq!(inv.ssm_tiers, vec!["web"]);
}

#[test]
fn gray_fis_template_uses_send_command_with_the_same_document_and_parameters() {
    let inv = inventory();
    let fault = Fault::PacketLoss {
        on: share(&["web"], None, Some(50)),
        loss_percent: 10,
    };
    let d = design::design(&fault, &inv, &steady(), None).unwrap();
    let t = fis::template(&fault, &d, &inv, "arn:aws:iam::1:role/fis", 120.0, &[]);
    assert_eq!(fis::model::check(&t), Vec::<String>::new());
    // FIS model: action aws:ssm:send-command with documentArn, documentParameters (a JSON
    // object as a string) and duration (ISO 8601); its target is aws:ec2:instance.
    let action = &t["actions"]["packet-loss-web"];
    assert_eq!(action["actionId"], "aws:ssm:send-command");
    assert_eq!(
        action["parameters"]["documentArn"],
        "arn:aws:ssm:us-east-1::document/AWSFIS-Run-Network-Packet-Loss-Sources"
    );
    assert_eq!(action["parameters"]["duration"], "PT120S");
    let params: std::collections::BTreeMap<String, String> = serde_json::from_str(
        action["parameters"]["documentParameters"]
            .as_str()
            .expect("documentParameters is a string"),
    )
    .unwrap();
    assert_eq!(params["LossPercent"], "10");
    assert_eq!(params["DurationSeconds"], "120");
    assert_eq!(params["Sources"], "ALL");
    let keys: Vec<&str> = action["parameters"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, vec!["documentArn", "documentParameters", "duration"]);
    assert_eq!(action["targets"]["Instances"], "web-instances");
    let target = &t["targets"]["web-instances"];
    assert_eq!(target["resourceType"], "aws:ec2:instance");
    assert_eq!(target["selectionMode"], "PERCENT(50)");
    assert_eq!(target["resourceTags"]["aws:autoscaling:groupName"], "t-web");
    let stops = t["stopConditions"].as_array().unwrap();
    assert_eq!(
        stops.len(),
        2,
        "web's capacity and healthy-hosts alarms: {stops:?}"
    );
}

// ---------- the gray-failure verdict ----------

#[test]
fn a_gray_failure_holds_when_every_probe_during_it_is_steady() {
    use super::verdict::{hold, Reading};
    let none: Vec<String> = Vec::new();
    let bad = vec!["web: 2 of 3 serving".to_string()];
    let alarms = vec!["t-web-healthy".to_string()];
    let r = |at: f64, problems: &'static str| Reading {
        at,
        problems: if problems.is_empty() { &none } else { &bad },
        alarms: if problems.is_empty() { &none } else { &alarms },
    };
    let steady_run = [r(0.0, ""), r(1.0, ""), r(5.0, ""), r(10.0, "")];
    assert_eq!(hold(&steady_run, 0.5, None, 9.0).status, Status::Pending);
    let v = hold(&steady_run, 0.5, Some(9.5), 9.0);
    assert_eq!(v.status, Status::Held);
    assert_eq!(v.detected_after, None);
    // A probe after the fault ended (the rollback's) does not count against it.
    let late = [r(0.0, ""), r(1.0, ""), r(10.0, "x")];
    assert_eq!(hold(&late, 0.5, Some(9.5), 9.0).status, Status::Held);
    // The first unsteady probe while it ran: which problem, which alarms, when.
    let degraded = [r(0.0, ""), r(1.0, ""), r(3.0, "x"), r(4.0, "")];
    let v = hold(&degraded, 0.5, None, 9.0);
    assert_eq!(v.status, Status::Degraded);
    let d = v.degraded.unwrap();
    assert_eq!(d.after, 2.5);
    assert_eq!(d.problems, bad);
    assert_eq!(d.alarms, alarms);
    let not_before = [r(0.0, "x"), r(1.0, "")];
    assert_eq!(
        hold(&not_before, 0.5, Some(1.0), 9.0).status,
        Status::NotSteadyBefore
    );
}

#[test]
fn docdb_failover_promotes_a_replica_within_its_alarms_and_needs_one() {
    let mut inv = inventory();
    inv.documents.push(DocumentDb {
        name: "catalog".into(),
        identifier: "t-catalog".into(),
        instances: 2,
    });
    inv.alarms.push(Alarm {
        logical_id: "alarm.docdb.catalog.cpu".into(),
        name: "t-catalog-docdb-cpu".into(),
        arn: String::new(),
        window_seconds: 240,
    });
    let mut base = observation(healthy_fleet(), "az-a", &[]);
    base.snapshot.documents.push(DocumentsState {
        name: "catalog".into(),
        identifier: "t-catalog".into(),
        status: "available".into(),
        writer: "t-catalog-0".into(),
    });
    let fault = Fault::DocdbFailover { documents: vec![] };
    let d = design::design(&fault, &inv, &base, None).unwrap();
    assert_eq!(
        d.actions,
        vec![Action::FailoverDocuments {
            identifier: "t-catalog".into(),
            writer: "t-catalog-0".into()
        }]
    );
    // Held to its own alarms' window, the tightest guard of what it touches.
    assert_eq!(d.budget.seconds, 240.0);
    assert!(design::applicable(&inv)
        .iter()
        .any(|a| a.command == "ftctl chaos docdb-failover --env t --docs catalog"));
    // A cluster in failover is not steady; one without a writer neither.
    let mut snap = base.snapshot.clone();
    snap.documents[0].status = "failing-over".into();
    assert!(snap
        .problems(&[])
        .iter()
        .any(|p| p.contains("failing-over")));
    snap.documents[0].status = "available".into();
    snap.documents[0].writer.clear();
    assert!(snap.problems(&[]).iter().any(|p| p.contains("no writer")));
    // A lone writer has nothing to promote: named, it is refused; unnamed, it is not chosen.
    inv.documents[0].instances = 1;
    let named = Fault::DocdbFailover {
        documents: vec!["catalog".into()],
    };
    let err = design::design(&named, &inv, &base, None).unwrap_err();
    assert!(err.0.contains("no replica to promote"), "{err}");
    assert!(design::design(&fault, &inv, &base, None).is_err());
    assert!(!design::applicable(&inv)
        .iter()
        .any(|a| a.experiment == "docdb-failover"));
}
