//! Every experiment ftctl exports, written as an FIS template from the shared test deployment
//! and read back against the FIS model: no action, parameter, target key or resource type FIS
//! does not have. And the model itself refuses what FIS would.

use super::model::{check, duration_seconds};
use super::*;
use crate::chaos::design::{self, gray};
use crate::chaos::fixtures::{
    api_service, api_tasks, healthy_fleet, inventory, observation, orders_table, ORDERS_REPLICA,
};
use crate::chaos::scenario::{Header, Scenario};
use crate::chaos::{Cache, CacheState, Observation, ShardState};

const ROLE: &str = "arn:aws:iam::1:role/fis";

/// The fixture deployment with an ECS service (tasks in both zones) and a cache whose
/// primaries are in `primaries` (one zone per shard), the database's primary in az-a.
fn deployment(primaries: [&str; 2]) -> (Inventory, Observation) {
    let mut inv = inventory();
    inv.services.push(api_service());
    inv.caches.push(Cache {
        name: "session".into(),
        group: "t-session".into(),
        automatic_failover: true,
        shards: vec!["0001".into(), "0002".into()],
    });
    inv.tables.push(orders_table());
    let mut base = observation(healthy_fleet(), "az-a", &[]);
    base.tasks = api_tasks();
    base.snapshot.caches.push(CacheState {
        name: "session".into(),
        group: "t-session".into(),
        status: "available".into(),
        shards: ["0001", "0002"]
            .iter()
            .zip(primaries)
            .map(|(id, zone)| ShardState {
                id: id.to_string(),
                status: "available".into(),
                members: 2,
                primary: Some(format!("t-session-{id}-001")),
                primary_zone: Some(zone.to_string()),
            })
            .collect(),
    });
    (inv, base)
}

fn share() -> gray::Share {
    gray::Share {
        tiers: vec!["web".into()],
        count: Some(1),
        percent: None,
        seed: Some("fixed".into()),
        duration: 120,
    }
}

/// Every experiment ftctl has, with the options its command would take.
fn every_fault() -> Vec<Fault> {
    vec![
        Fault::PauseReplication {
            tables: vec![],
            regions: vec![],
            duration: 120,
        },
        Fault::KillInstance {
            tiers: vec![],
            count: None,
            percent: None,
            instances: vec![],
            seed: Some("fixed".into()),
        },
        Fault::KillAz {
            zone: Some("az-a".into()),
            mode: AzMode::Terminate,
        },
        Fault::KillAz {
            zone: Some("az-a".into()),
            mode: AzMode::Stop,
        },
        Fault::RdsFailover { databases: vec![] },
        Fault::CacheFailover {
            caches: vec![],
            shard: None,
        },
        Fault::KillTask {
            services: vec![],
            count: Some(1),
            percent: None,
            seed: Some("fixed".into()),
        },
        Fault::Latency {
            on: share(),
            delay_ms: 100,
            jitter_ms: 10,
        },
        Fault::PacketLoss {
            on: share(),
            loss_percent: 7,
        },
        Fault::CpuStress {
            on: share(),
            load_percent: 80,
        },
    ]
}

fn export(fault: &Fault, inv: &Inventory, base: &Observation) -> Value {
    let d = design::design(fault, inv, base, Some(300.0)).unwrap();
    template(fault, &d, inv, ROLE, 120.0, &[])
}

fn sound(t: &Value) {
    let problems = check(t);
    assert!(problems.is_empty(), "{problems:#?}\n{t:#}");
}

/// The action ids of a template, sorted.
fn action_ids(t: &Value) -> Vec<String> {
    let mut ids: Vec<String> = t["actions"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| a["actionId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn every_experiment_exports_a_template_fis_accepts() {
    let (inv, base) = deployment(["az-a", "az-b"]);
    for fault in every_fault() {
        let t = export(&fault, &inv, &base);
        sound(&t);
    }
}

#[test]
fn kill_task_stops_the_designed_count_of_the_services_tasks() {
    let (inv, base) = deployment(["az-a", "az-b"]);
    let fault = Fault::KillTask {
        services: vec!["api".into()],
        count: Some(2),
        percent: None,
        seed: Some("fixed".into()),
    };
    let t = export(&fault, &inv, &base);
    sound(&t);
    let target = &t["targets"]["api-tasks"];
    assert_eq!(target["resourceType"], "aws:ecs:task");
    assert_eq!(target["parameters"]["cluster"], "t-cluster");
    assert_eq!(target["parameters"]["service"], "t-api");
    assert_eq!(target["selectionMode"], "COUNT(2)");
    let action = &t["actions"]["stop-api-tasks"];
    assert_eq!(action["actionId"], "aws:ecs:stop-task");
    assert_eq!(action["targets"]["Tasks"], "api-tasks");
    assert!(action.get("parameters").is_none(), "{action}");
}

#[test]
fn kill_az_stops_only_the_zones_tasks_and_powers_off_the_zones_cache_nodes() {
    let (inv, base) = deployment(["az-a", "az-b"]);
    for mode in [AzMode::Terminate, AzMode::Stop] {
        let fault = Fault::KillAz {
            zone: Some("az-a".into()),
            mode,
        };
        let t = export(&fault, &inv, &base);
        sound(&t);
        let tasks = &t["targets"]["api-zone-tasks"];
        assert_eq!(tasks["resourceType"], "aws:ecs:task");
        assert_eq!(tasks["parameters"]["service"], "t-api");
        assert_eq!(tasks["filters"][0]["path"], "AvailabilityZone");
        assert_eq!(tasks["filters"][0]["values"][0], "az-a");
        assert_eq!(tasks["selectionMode"], "ALL");
        assert_eq!(
            t["actions"]["lose-api-tasks"]["targets"]["Tasks"],
            "api-zone-tasks"
        );
        // Only shard 0001's primary is in az-a: the cache loses az-a, and only az-a.
        let cache = &t["targets"]["session-az-a"];
        assert_eq!(cache["resourceType"], "aws:elasticache:replicationgroup");
        assert_eq!(cache["parameters"]["availabilityZoneIdentifier"], "az-a");
        assert_eq!(cache["filters"][0]["values"][0], "t-session");
        assert!(t["targets"]["session-az-b"].is_null(), "{t:#}");
        let power = &t["actions"]["interrupt-session-az-a"];
        assert_eq!(
            power["actionId"],
            "aws:elasticache:replicationgroup-interrupt-az-power"
        );
        assert_eq!(power["parameters"]["duration"], "PT120S");
        assert_eq!(power["targets"]["ReplicationGroups"], "session-az-a");
    }
    let stop = export(
        &Fault::KillAz {
            zone: Some("az-a".into()),
            mode: AzMode::Stop,
        },
        &inv,
        &base,
    );
    assert_eq!(
        stop["actions"]["lose-web-instances"]["parameters"]["completeIfInstancesTerminated"],
        "true"
    );
}

#[test]
fn cache_failover_loses_each_primary_zone_in_turn_and_says_what_it_cannot_place() {
    let (inv, base) = deployment(["az-b", "az-a"]);
    let fault = Fault::CacheFailover {
        caches: vec!["session".into()],
        shard: None,
    };
    let t = export(&fault, &inv, &base);
    sound(&t);
    assert_eq!(
        action_ids(&t),
        vec![
            "aws:elasticache:replicationgroup-interrupt-az-power",
            "aws:elasticache:replicationgroup-interrupt-az-power"
        ]
    );
    // One zone of a group at a time: az-b's follows az-a's.
    assert!(t["actions"]["interrupt-session-az-a"]
        .get("startAfter")
        .is_none());
    assert_eq!(
        t["actions"]["interrupt-session-az-b"]["startAfter"],
        json!(["interrupt-session-az-a"])
    );
    // One shard: only its primary's zone.
    let one = Fault::CacheFailover {
        caches: vec![],
        shard: Some("0002".into()),
    };
    let t = export(&one, &inv, &base);
    sound(&t);
    assert!(t["targets"]["session-az-a"].is_object(), "{t:#}");
    assert!(t["targets"]["session-az-b"].is_null(), "{t:#}");
    // Primaries ElastiCache does not place (cluster mode): nothing FIS can power off, said so.
    let mut blind = base.clone();
    for s in &mut blind.snapshot.caches[0].shards {
        s.primary_zone = None;
    }
    let t = export(&fault, &inv, &blind);
    assert!(t["actions"].as_object().unwrap().is_empty(), "{t:#}");
    let description = t["description"].as_str().unwrap();
    assert!(
        description.contains("shard 0001 is not failed over"),
        "{description}"
    );
    assert!(
        check(&t).iter().any(|p| p.contains("no action")),
        "{:?}",
        check(&t)
    );
}

fn scenario_of(steps: Vec<(f64, Fault)>) -> Scenario {
    Scenario {
        header: Header {
            name: "zone-then-tasks".into(),
            description: String::new(),
            budget: None,
            duration: None,
            stop_on: Vec::new(),
            max_error_rate: None,
            max_p99_ms: None,
        },
        steps,
    }
}

#[test]
fn a_scenarios_later_step_waits_its_turn_from_the_start() {
    let (inv, base) = deployment(["az-a", "az-b"]);
    let s = scenario_of(vec![
        (
            0.0,
            Fault::KillAz {
                zone: Some("az-a".into()),
                mode: AzMode::Stop,
            },
        ),
        (
            90.0,
            Fault::Latency {
                on: gray::Share {
                    tiers: vec!["app".into()],
                    ..share()
                },
                delay_ms: 100,
                jitter_ms: 10,
            },
        ),
    ]);
    // ftctl itself would run it (no instance taken twice).
    assert!(scenario::design(&s, &inv, &base, Some(300.0)).is_ok());
    let steps = scenario::step_designs(&s, &inv, &base, Some(300.0)).unwrap();
    let t = scenario_template(&s, &steps, &inv, ROLE, 300.0, &[]);
    sound(&t);
    let actions = t["actions"].as_object().unwrap();
    // Step 1 starts with the experiment, every action of it.
    for (name, a) in actions.iter().filter(|(n, _)| n.starts_with("step1-")) {
        assert!(a.get("startAfter").is_none(), "{name}: {a}");
    }
    assert!(actions.contains_key("step1-isolate-zone"), "{t:#}");
    assert!(actions.contains_key("step1-lose-api-tasks"), "{t:#}");
    // Step 2 after its own wait of 90 s, not after step 1's actions (which last their duration).
    let wait = &actions["step2-wait"];
    assert_eq!(wait["actionId"], "aws:fis:wait");
    assert_eq!(wait["parameters"]["duration"], "PT90S");
    assert!(wait.get("startAfter").is_none(), "{wait}");
    let latency = &actions["step2-latency-app"];
    assert_eq!(latency["startAfter"], json!(["step2-wait"]));
    assert_eq!(latency["targets"]["Instances"], "step2-app-instances");
    assert!(t["targets"]["step2-app-instances"].is_object(), "{t:#}");
    // What is put back is put back 300 s after the start: step 1's zone is lost for all of it.
    assert_eq!(
        actions["step1-isolate-zone"]["parameters"]["duration"],
        "PT300S"
    );
    let description = t["description"].as_str().unwrap();
    assert!(description.starts_with("ftctl scenario zone-then-tasks on t: lose zone az-a"));
    assert!(
        description.contains("; then at +90 s add 100 ms"),
        "{description}"
    );
    // Both steps pick instances, each on its own in FIS.
    assert!(
        description.contains("steps 1, 2 choose their aws:ec2:instance targets"),
        "{description}"
    );
}

#[test]
fn a_step_under_a_minute_or_after_the_end_is_said_in_the_description() {
    let (inv, base) = deployment(["az-a", "az-b"]);
    let s = scenario_of(vec![
        (0.0, Fault::RdsFailover { databases: vec![] }),
        (
            30.0,
            Fault::KillTask {
                services: vec![],
                count: Some(1),
                percent: None,
                seed: Some("fixed".into()),
            },
        ),
        (
            400.0,
            Fault::KillInstance {
                tiers: vec!["web".into()],
                count: None,
                percent: None,
                instances: vec![],
                seed: Some("fixed".into()),
            },
        ),
    ]);
    let steps = scenario::step_designs(&s, &inv, &base, Some(300.0)).unwrap();
    let t = scenario_template(&s, &steps, &inv, ROLE, 300.0, &[]);
    sound(&t);
    let actions = t["actions"].as_object().unwrap();
    // FIS waits a minute at least.
    assert_eq!(actions["step2-wait"]["parameters"]["duration"], "PT60S");
    assert_eq!(
        actions["step2-stop-api-tasks"]["startAfter"],
        json!(["step2-wait"])
    );
    assert!(!actions.keys().any(|k| k.starts_with("step3-")), "{t:#}");
    let description = t["description"].as_str().unwrap();
    assert!(description.contains("step 2: the wait before step 2 lasts 60 s, not 30 s"));
    assert!(description.contains("step 3 is left out"), "{description}");
    assert!(description.chars().count() <= model::MAX_DESCRIPTION);
}

#[test]
fn check_catches_what_fis_would_refuse() {
    let (inv, base) = deployment(["az-a", "az-b"]);
    let fault = Fault::KillAz {
        zone: Some("az-a".into()),
        mode: AzMode::Stop,
    };
    let good = export(&fault, &inv, &base);
    sound(&good);
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut t = good.clone();
        change(&mut t);
        check(&t)
    };
    let says = |problems: Vec<String>, what: &str| {
        assert!(
            problems.iter().any(|p| p.contains(what)),
            "wanted {what:?} in {problems:#?}"
        );
    };
    // A parameter name FIS does not have (one letter off).
    says(
        broken(&|t| {
            let p = t["actions"]["lose-web-instances"]["parameters"]
                .as_object_mut()
                .unwrap();
            let v = p.remove("startInstancesAfterDuration").unwrap();
            p.insert("startInstanceAfterDuration".into(), v);
        }),
        "unknown parameter startInstanceAfterDuration",
    );
    says(
        broken(&|t| {
            t["actions"]["isolate-zone"]["parameters"]
                .as_object_mut()
                .unwrap()
                .remove("scope");
        }),
        "missing parameter scope",
    );
    says(
        broken(&|t| t["actions"]["isolate-zone"]["actionId"] = json!("aws:network:cut-subnets")),
        "unknown action id aws:network:cut-subnets",
    );
    says(
        broken(&|t| {
            t["actions"]["lose-api-tasks"]["targets"] = json!({ "Task": "api-zone-tasks" })
        }),
        "wrong target key Task",
    );
    says(
        broken(&|t| {
            t["actions"]["lose-api-tasks"]["targets"] = json!({ "Tasks": "web-zone-instances" })
        }),
        "is of resource type aws:ec2:instance",
    );
    says(
        broken(&|t| t["actions"]["isolate-zone"]["startAfter"] = json!(["step9-wait"])),
        "starts after step9-wait, which is no action",
    );
    says(
        broken(&|t| {
            t["actions"]["interrupt-session-az-a"]["parameters"]["duration"] = json!("PT30S")
        }),
        "outside the one minute to 12 hours",
    );
    says(
        broken(&|t| {
            t["targets"]["session-az-a"]["parameters"]
                .as_object_mut()
                .unwrap()
                .remove("availabilityZoneIdentifier");
        }),
        "target session-az-a: missing parameter availabilityZoneIdentifier",
    );
    says(
        broken(&|t| t["targets"]["api-zone-tasks"]["selectionMode"] = json!("SOME")),
        "selection mode SOME",
    );
    says(
        broken(&|t| t["description"] = json!("x".repeat(513))),
        "at most 512",
    );
}

#[test]
fn durations_read_as_fis_writes_them() {
    assert_eq!(duration_seconds("PT90S"), Some(90));
    assert_eq!(duration_seconds("PT1M"), Some(60));
    assert_eq!(duration_seconds("PT1H30M"), Some(5400));
    for bad in ["", "PT", "P1D", "PT1M1H", "PT5", "90", "PTXS"] {
        assert_eq!(duration_seconds(bad), None, "{bad}");
    }
}

#[test]
fn durations_fis_cannot_take_are_brought_within_and_the_notes_survive_a_long_summary() {
    let (inv, base) = deployment(["az-a", "az-b"]);
    let fault = Fault::KillAz {
        zone: Some("az-a".into()),
        mode: AzMode::Stop,
    };
    let mut d = design::design(&fault, &inv, &base, Some(300.0)).unwrap();
    d.summary = "x".repeat(600);
    let t = template(&fault, &d, &inv, ROLE, 30.0, &[]);
    sound(&t);
    assert_eq!(
        t["actions"]["isolate-zone"]["parameters"]["duration"],
        "PT60S"
    );
    let description = t["description"].as_str().unwrap();
    assert_eq!(description.chars().count(), model::MAX_DESCRIPTION);
    assert!(
        description.ends_with("losing the zone lasts 60 s, not 30 s: FIS takes one minute to 12 hours; the cache's lost zone lasts 60 s, not 30 s: FIS takes one minute to 12 hours"),
        "{description}"
    );
}

#[test]
fn pause_replication_uses_fis_own_action_on_the_replica() {
    let (inv, base) = deployment(["az-a", "az-b"]);
    let fault = Fault::PauseReplication {
        tables: vec!["orders".into()],
        regions: vec![],
        duration: 120,
    };
    let t = export(&fault, &inv, &base);
    sound(&t);
    let target = &t["targets"]["replica-tables"];
    assert_eq!(target["resourceType"], "aws:dynamodb:global-table");
    assert_eq!(target["resourceArns"][0], ORDERS_REPLICA);
    let action = &t["actions"]["pause-replication"];
    assert_eq!(
        action["actionId"],
        "aws:dynamodb:global-table-pause-replication"
    );
    assert_eq!(action["parameters"]["duration"], "PT120S");
    assert_eq!(action["targets"]["Tables"], "replica-tables");

    // The table's throttle alarm stops it; its replication-latency alarm, which the pause is
    // meant to fire, does not.
    let mut inv = inv;
    for (id, name) in [
        ("alarm.table.orders.write-throttles", "t-orders-throttles"),
        (
            "alarm.table.orders.replication-latency.us-west-2",
            "t-orders-latency",
        ),
    ] {
        inv.alarms.push(crate::chaos::Alarm {
            logical_id: id.into(),
            name: name.into(),
            arn: format!("arn:aws:cloudwatch:us-east-1:1:alarm:{name}"),
            window_seconds: 300,
        });
    }
    let t = export(&fault, &inv, &base);
    sound(&t);
    let stops: Vec<&str> = t["stopConditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["value"].as_str())
        .collect();
    assert_eq!(
        stops,
        vec!["arn:aws:cloudwatch:us-east-1:1:alarm:t-orders-throttles"]
    );
}
