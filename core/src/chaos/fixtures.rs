//! A small deployment to design and run experiments on, shared by the chaos unit tests here and
//! the run-loop tests in the `ftctl` crate (feature `fixtures`).

use super::journal::Settings;
use super::*;

pub fn inventory() -> Inventory {
    let alarm = |id: &str, window: u64| Alarm {
        logical_id: id.to_string(),
        name: format!("t-{}", id.replace('.', "-")),
        arn: format!("arn:aws:cloudwatch:us-east-1:1:alarm:t-{id}"),
        window_seconds: window,
    };
    Inventory {
        env: "t".into(),
        stack: "stage1".into(),
        groups: vec![
            Group {
                tier: "app".into(),
                name: "t-app".into(),
                subnets: vec!["s-a".into(), "s-b".into()],
                target_groups: vec!["tg-app".into()],
            },
            Group {
                tier: "web".into(),
                name: "t-web".into(),
                subnets: vec!["s-a".into(), "s-b".into()],
                target_groups: vec!["tg-web".into()],
            },
        ],
        databases: vec![Database {
            name: "main".into(),
            identifier: "t-main".into(),
            multi_az: true,
        }],
        documents: Vec::new(),
        caches: Vec::new(),
        services: Vec::new(),
        tables: Vec::new(),
        alarms: vec![
            alarm("alarm.tier.web.capacity", 300),
            alarm("alarm.tier.web.healthy-hosts", 180),
            alarm("alarm.tier.app.capacity", 240),
            alarm("alarm.db.main.cpu", 600),
        ],
        subnet_zones: [("s-a", "az-a"), ("s-b", "az-b"), ("s-db-a", "az-a")]
            .iter()
            .map(|(s, z)| (s.to_string(), z.to_string()))
            .collect(),
        vpc: Some("vpc-1".into()),
        subnet_acls: [
            ("s-a", "acl-app"),
            ("s-b", "acl-app"),
            ("s-db-a", "acl-data"),
        ]
        .iter()
        .map(|(s, a)| (s.to_string(), a.to_string()))
        .collect(),
        ssm_tiers: vec!["app".into(), "web".into()],
        region: "us-east-1".into(),
        public_endpoint: None,
    }
}

pub fn instance(id: &str, tier: &str, zone: &str, state: &str) -> Instance {
    Instance {
        id: id.into(),
        tier: tier.into(),
        zone: zone.into(),
        state: state.into(),
        lifecycle: "InService".into(),
        group_health: "Healthy".into(),
        target_health: vec![if state == "running" {
            "healthy"
        } else {
            "unused"
        }
        .into()],
    }
}

/// web: 2 in az-a, 1 in az-b; app: 1 in az-a, 1 in az-b; database primary in `db_zone`.
pub fn observation(instances: Vec<Instance>, db_zone: &str, alarms: &[&str]) -> Observation {
    let inv = inventory();
    let tiers = inv
        .groups
        .iter()
        .map(|g| {
            let desired = if g.tier == "web" { 3 } else { 2 };
            tier_state(g, desired, &g.subnets, &instances)
        })
        .collect();
    Observation {
        snapshot: Snapshot {
            at: 0.0,
            tiers,
            documents: Vec::new(),
            databases: vec![DatabaseState {
                name: "main".into(),
                identifier: "t-main".into(),
                status: "available".into(),
                zone: db_zone.into(),
                secondary_zone: Some("az-b".into()),
            }],
            caches: Vec::new(),
            services: Vec::new(),
            alarms_firing: alarms.iter().map(|s| s.to_string()).collect(),
        },
        instances,
        tasks: Vec::new(),
    }
}

pub fn healthy_fleet() -> Vec<Instance> {
    vec![
        instance("i-w1", "web", "az-a", "running"),
        instance("i-w2", "web", "az-a", "running"),
        instance("i-w3", "web", "az-b", "running"),
        instance("i-a1", "app", "az-a", "running"),
        instance("i-a2", "app", "az-b", "running"),
    ]
}

pub fn steady() -> Observation {
    observation(healthy_fleet(), "az-a", &[])
}

pub fn degraded() -> Observation {
    let mut fleet = healthy_fleet();
    fleet.retain(|i| i.zone != "az-a");
    observation(fleet, "az-a", &[])
}

pub fn settings() -> Settings {
    Settings {
        interval: 0.01,
        settle: 0.03,
        duration: None,
        stop_on: vec!["t-alarm-tier-web-capacity".into()],
        after_timeout: 0.2,
    }
}

/// The ECS service `api` of cluster `t-cluster`.
pub fn api_service() -> Service {
    Service {
        name: "api".into(),
        cluster: "t-cluster".into(),
        service: "t-api".into(),
    }
}

/// Three running tasks of `api`: two in az-a, one in az-b.
pub fn api_tasks() -> Vec<Task> {
    [
        ("arn:task/1", "az-a"),
        ("arn:task/2", "az-b"),
        ("arn:task/3", "az-a"),
    ]
    .iter()
    .map(|(arn, zone)| Task {
        service: "t-api".into(),
        arn: arn.to_string(),
        zone: zone.to_string(),
    })
    .collect()
}

/// The replica ARN of `orders_table`.
pub const ORDERS_REPLICA: &str = "arn:aws:dynamodb:us-west-2:123456789012:table/t-orders";

/// The global table `orders` (partition key `pk`), replicated to us-west-2.
pub fn orders_table() -> Table {
    Table {
        name: "orders".into(),
        table_name: "t-orders".into(),
        arn: "arn:aws:dynamodb:us-east-1:123456789012:table/t-orders".into(),
        partition_key: KeyAttr {
            name: "pk".into(),
            kind: "S".into(),
        },
        sort_key: None,
        replicas: vec![Replica {
            region: "us-west-2".into(),
            arn: ORDERS_REPLICA.into(),
        }],
        rpo_seconds: None,
    }
}
