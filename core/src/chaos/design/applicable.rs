//! What `chaos list` offers: every experiment that applies to the deployment, with the command
//! that runs it, what it targets and its budget.

use super::*;

/// Every experiment the deployment supports, with its targets, for `chaos list`.
#[derive(Debug, Clone, Serialize)]
pub struct Applicable {
    pub experiment: String,
    pub command: String,
    pub targets: String,
    pub budget: Option<Budget>,
    /// The fault `command` runs, for `chaos list --export` to write as a scenario.
    #[serde(skip)]
    pub fault: Fault,
}

pub fn applicable(inv: &Inventory) -> Vec<Applicable> {
    let mut out = Vec::new();
    let env = &inv.env;
    for g in &inv.groups {
        out.push(Applicable {
            experiment: "kill-instance".into(),
            command: format!("ftctl chaos kill-instance --env {env} --group {}", g.tier),
            targets: format!("group {}", g.name),
            budget: derive_budget(inv, std::slice::from_ref(&g.tier), &[], &[], &[]).ok(),
            fault: Fault::KillInstance {
                tiers: vec![g.tier.clone()],
                count: None,
                percent: None,
                instances: Vec::new(),
                seed: None,
            },
        });
    }
    let tiers: Vec<String> = inv.groups.iter().map(|g| g.tier.clone()).collect();
    let caches: Vec<String> = inv
        .caches
        .iter()
        .filter(|c| c.automatic_failover)
        .map(|c| c.group.clone())
        .collect();
    let services: Vec<String> = inv.services.iter().map(|s| s.service.clone()).collect();
    for z in inv.zones() {
        let dbs: Vec<String> = inv
            .databases
            .iter()
            .filter(|d| d.multi_az)
            .map(|d| d.identifier.clone())
            .collect();
        out.push(Applicable {
            experiment: "kill-az".into(),
            command: format!("ftctl chaos kill-az --env {env} --az {z}"),
            targets: format!(
                "zone {z}: its subnets' traffic, instances, tasks, group zone lists, database \
                 and cache primaries"
            ),
            budget: derive_budget(inv, &tiers, &dbs, &caches, &services).ok(),
            fault: Fault::KillAz {
                zone: Some(z.clone()),
                mode: AzMode::Terminate,
            },
        });
    }
    for d in inv.databases.iter().filter(|d| d.multi_az) {
        out.push(Applicable {
            experiment: "rds-failover".into(),
            command: format!("ftctl chaos rds-failover --env {env} --db {}", d.name),
            targets: format!("database {}", d.identifier),
            budget: derive_budget(inv, &[], std::slice::from_ref(&d.identifier), &[], &[]).ok(),
            fault: Fault::RdsFailover {
                databases: vec![d.name.clone()],
            },
        });
    }
    for d in inv.documents.iter().filter(|d| d.instances >= 2) {
        out.push(Applicable {
            experiment: "docdb-failover".into(),
            command: format!("ftctl chaos docdb-failover --env {env} --docs {}", d.name),
            targets: format!("document database {}", d.identifier),
            budget: derive_budget(inv, &[], std::slice::from_ref(&d.identifier), &[], &[]).ok(),
            fault: Fault::DocdbFailover {
                documents: vec![d.name.clone()],
            },
        });
    }
    for c in inv.caches.iter().filter(|c| c.automatic_failover) {
        out.push(Applicable {
            experiment: "cache-failover".into(),
            command: format!("ftctl chaos cache-failover --env {env} --cache {}", c.name),
            targets: format!(
                "cache {} ({} shard{})",
                c.group,
                c.shards.len(),
                if c.shards.len() == 1 { "" } else { "s" }
            ),
            budget: derive_budget(inv, &[], &[], std::slice::from_ref(&c.group), &[]).ok(),
            fault: Fault::CacheFailover {
                caches: vec![c.name.clone()],
                shard: None,
            },
        });
    }
    for s in &inv.services {
        out.push(Applicable {
            experiment: "kill-task".into(),
            command: format!("ftctl chaos kill-task --env {env} --service {}", s.name),
            targets: format!("service {} in cluster {}", s.service, s.cluster),
            budget: derive_budget(inv, &[], &[], &[], std::slice::from_ref(&s.service)).ok(),
            fault: Fault::KillTask {
                services: vec![s.name.clone()],
                count: None,
                percent: None,
                seed: None,
            },
        });
    }
    out.extend(gray::applicable(inv));
    for t in inv.tables.iter().filter(|t| !t.replicas.is_empty()) {
        let regions: Vec<&str> = t.replicas.iter().map(|r| r.region.as_str()).collect();
        out.push(Applicable {
            experiment: replication::PAUSE_REPLICATION.into(),
            command: format!(
                "ftctl chaos pause-replication --env {env} --table {} --duration 300",
                t.name
            ),
            targets: format!(
                "table {}: its replica{} in {}",
                t.table_name,
                if regions.len() == 1 { "" } else { "s" },
                regions.join(", ")
            ),
            budget: Some(replication::budget(300)),
            fault: Fault::PauseReplication {
                tables: vec![t.name.clone()],
                regions: Vec::new(),
                duration: 300,
            },
        });
    }
    out
}
