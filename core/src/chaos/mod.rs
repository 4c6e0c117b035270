//! Chaos experiments, the pure part: what a deployment has that can be broken (`Inventory`),
//! what one probe of it saw (`Snapshot`) and whether that is the steady state, which faults to
//! inject (`design`), the verdict over a timeline (`verdict`), and the journal, report and FIS
//! template written from a run. Nothing here talks to AWS or runs anything: the run loop is
//! `ftctl::chaos::run`, acting through its `Lab` seam.

pub mod design;
pub mod fis;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod journal;
pub mod load;
pub mod markers;
pub mod report;
pub mod scenario;
pub mod verdict;

#[cfg(test)]
mod tests;

use crate::resource::{Kind, Observed, Val};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An Auto Scaling group of the deployment, as the inventory found it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    /// The tier it serves (`web` for logical id `tier.web.asg`).
    pub tier: String,
    pub name: String,
    /// Its zone list: subnet ids, in the group's order.
    pub subnets: Vec<String>,
    pub target_groups: Vec<String>,
}

/// A database instance of the deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Database {
    /// Its name in the stack (`main` for logical id `db.main`).
    pub name: String,
    pub identifier: String,
    pub multi_az: bool,
}

/// A DocumentDB cluster of the deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentDb {
    /// Its name in the stack (`catalog` for logical id `docdb.catalog`).
    pub name: String,
    /// The cluster identifier.
    pub identifier: String,
    /// Its instances: a writer and the replicas a failover can promote.
    pub instances: u32,
}

/// An ElastiCache replication group of the deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cache {
    /// Its name in the stack (`session` for logical id `cache.session`).
    pub name: String,
    /// The replication group id.
    pub group: String,
    pub automatic_failover: bool,
    /// Its shards (node groups): `0001`, `0002`, ...
    pub shards: Vec<String>,
}

/// An ECS service of the deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Service {
    /// Its name in the stack (`api` for logical id `svc.api`).
    pub name: String,
    pub cluster: String,
    pub service: String,
}

/// A key attribute of a table: its name and DynamoDB type (`S`, `N` or `B`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyAttr {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A DynamoDB table of the deployment and its replicas in other regions (a global table).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Table {
    /// Its name in the stack (`orders` for logical id `table.orders`).
    pub name: String,
    pub table_name: String,
    pub arn: String,
    pub partition_key: KeyAttr,
    #[serde(default)]
    pub sort_key: Option<KeyAttr>,
    #[serde(default)]
    pub replicas: Vec<Replica>,
    /// The stack's recovery point objective for it, when it sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<f64>,
}

/// A global table's replica in another region.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Replica {
    pub region: String,
    pub arn: String,
}

/// A CloudWatch alarm of the deployment and the time it takes to fire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alarm {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
    /// period × evaluation periods: how long a breach must last before it pages.
    pub window_seconds: u64,
}

/// What a deployment has that experiments can target, read from its tagged resources.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Inventory {
    pub env: String,
    pub stack: String,
    pub groups: Vec<Group>,
    pub databases: Vec<Database>,
    #[serde(default)]
    pub documents: Vec<DocumentDb>,
    #[serde(default)]
    pub caches: Vec<Cache>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub tables: Vec<Table>,
    pub alarms: Vec<Alarm>,
    /// Availability zone of every subnet the deployment owns.
    pub subnet_zones: BTreeMap<String, String>,
    /// The deployment's VPC, where kill-az puts its deny-all network ACL.
    #[serde(default)]
    pub vpc: Option<String>,
    /// The network ACL each of the deployment's subnets is on, so that losing a zone can put
    /// its subnets back exactly where they were.
    #[serde(default)]
    pub subnet_acls: BTreeMap<String, String>,
    /// Tiers whose instance role carries AmazonSSMManagedInstanceCore: Systems Manager can run
    /// commands on their instances (the gray-failure experiments).
    #[serde(default)]
    pub ssm_tiers: Vec<String>,
    /// The deployment's region, when the reader knows it (FIS exports name documents by it).
    #[serde(default)]
    pub region: String,
    /// Where its users reach it (`endpoint::public`), the default target of `--load`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_endpoint: Option<String>,
}

impl Inventory {
    pub fn from_observed(env: &str, observed: &[Observed]) -> Inventory {
        let mut inv = Inventory {
            env: env.to_string(),
            stack: crate::resource::stacks_label(observed),
            ..Inventory::default()
        };
        for o in observed {
            match o.kind {
                Kind::Subnet => {
                    if let Some(az) = o.outputs.get("availability_zone") {
                        inv.subnet_zones.insert(o.physical_id.clone(), az.clone());
                    }
                    if let Some(acl) = o.props.get("network_acl_id").and_then(Val::as_str) {
                        inv.subnet_acls
                            .insert(o.physical_id.clone(), acl.to_string());
                    }
                }
                Kind::Vpc => inv.vpc = Some(o.physical_id.clone()),
                Kind::AutoScalingGroup => {
                    let tier =
                        o.id.strip_prefix("tier.")
                            .and_then(|rest| rest.strip_suffix(".asg"))
                            .unwrap_or(&o.id)
                            .to_string();
                    let list = |key: &str| -> Vec<String> {
                        o.props.get(key).map(Val::strings).unwrap_or_default()
                    };
                    inv.groups.push(Group {
                        tier,
                        name: o.physical_id.clone(),
                        subnets: list("subnet_ids"),
                        target_groups: list("target_group_arns"),
                    });
                }
                Kind::DocdbCluster => inv.documents.push(DocumentDb {
                    name: o.id.strip_prefix("docdb.").unwrap_or(&o.id).to_string(),
                    identifier: o.physical_id.clone(),
                    instances: observed
                        .iter()
                        .filter(|i| {
                            i.kind == Kind::DocdbInstance
                                && i.props.get("cluster").and_then(Val::as_str)
                                    == Some(o.physical_id.as_str())
                        })
                        .count() as u32,
                }),
                Kind::DbInstance => inv.databases.push(Database {
                    name: o.id.strip_prefix("db.").unwrap_or(&o.id).to_string(),
                    identifier: o.physical_id.clone(),
                    multi_az: o
                        .props
                        .get("multi_az")
                        .and_then(|v| v.as_bool())
                        .unwrap_or(false),
                }),
                Kind::CacheReplicationGroup => {
                    let shards = o
                        .props
                        .get("shards")
                        .and_then(|v| v.as_i64())
                        .unwrap_or(1)
                        .max(1);
                    inv.caches.push(Cache {
                        name: o.id.strip_prefix("cache.").unwrap_or(&o.id).to_string(),
                        group: o.physical_id.clone(),
                        automatic_failover: o
                            .props
                            .get("automatic_failover")
                            .and_then(|v| v.as_bool())
                            .unwrap_or(false),
                        shards: match o.outputs.get("shard_ids") {
                            Some(ids) if !ids.is_empty() => {
                                ids.split(',').map(str::to_string).collect()
                            }
                            // Not reported: AWS's own numbering.
                            _ => (1..=shards).map(|n| format!("{n:04}")).collect(),
                        },
                    });
                }
                Kind::IamRole => {
                    let tier =
                        o.id.strip_prefix("tier.")
                            .and_then(|rest| rest.strip_suffix(".role"));
                    let managed = o
                        .props
                        .get("managed_policies")
                        .map(Val::strings)
                        .unwrap_or_default();
                    // By name, whatever the partition (arn:aws-cn:iam::aws:policy/...).
                    if let Some(tier) = tier.filter(|_| {
                        managed
                            .iter()
                            .any(|p| p.ends_with(":policy/AmazonSSMManagedInstanceCore"))
                    }) {
                        inv.ssm_tiers.push(tier.to_string());
                    }
                }
                Kind::EcsService => inv.services.push(Service {
                    name: o.id.strip_prefix("svc.").unwrap_or(&o.id).to_string(),
                    cluster: o.outputs.get("cluster").cloned().unwrap_or_default(),
                    service: o.name.clone(),
                }),
                Kind::DynamoTable => {
                    let key = |which: &str| {
                        let v = o.props.get(which)?.as_map()?;
                        let field = |f: &str| v.get(f).and_then(Val::as_str).map(str::to_string);
                        Some(KeyAttr {
                            name: field("name").filter(|n| !n.is_empty())?,
                            kind: field("type").unwrap_or_default(),
                        })
                    };
                    if let Some(partition_key) = key("partition_key") {
                        inv.tables.push(Table {
                            name: o.id.strip_prefix("table.").unwrap_or(&o.id).to_string(),
                            table_name: o.physical_id.clone(),
                            arn: o.outputs.get("arn").cloned().unwrap_or_default(),
                            partition_key,
                            sort_key: key("sort_key"),
                            replicas: Vec::new(),
                            rpo_seconds: o
                                .props
                                .get("rpo_seconds")
                                .and_then(Val::as_str)
                                .and_then(|r| r.parse().ok()),
                        });
                    }
                }
                Kind::MetricAlarm => {
                    let num = |key: &str| {
                        o.props
                            .get(key)
                            .and_then(|v| v.as_i64())
                            .unwrap_or(0)
                            .max(0) as u64
                    };
                    inv.alarms.push(Alarm {
                        logical_id: o.id.clone(),
                        name: o.physical_id.clone(),
                        arn: o.outputs.get("arn").cloned().unwrap_or_default(),
                        window_seconds: num("period") * num("evaluation_periods"),
                    });
                }
                _ => {}
            }
        }
        inv.public_endpoint = crate::endpoint::public(observed);
        // Replicas are observed as `table.X.replica.REGION`, after (or before) their table.
        for o in observed.iter().filter(|o| o.kind == Kind::TableReplica) {
            let Some((table, region)) =
                o.id.strip_prefix("table.")
                    .and_then(|r| r.split_once(".replica."))
            else {
                continue;
            };
            if let Some(t) = inv.tables.iter_mut().find(|t| t.name == table) {
                t.replicas.push(Replica {
                    region: region.to_string(),
                    arn: o.physical_id.clone(),
                });
                t.replicas.sort_by(|a, b| a.region.cmp(&b.region));
            }
        }
        inv.tables.sort_by(|a, b| a.name.cmp(&b.name));
        inv.groups.sort_by(|a, b| a.tier.cmp(&b.tier));
        inv.databases.sort_by(|a, b| a.name.cmp(&b.name));
        inv.documents.sort_by(|a, b| a.name.cmp(&b.name));
        inv.caches.sort_by(|a, b| a.name.cmp(&b.name));
        inv.services.sort_by(|a, b| a.name.cmp(&b.name));
        inv.alarms.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
        inv.ssm_tiers.sort();
        inv
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.databases.is_empty()
            && self.documents.is_empty()
            && self.caches.is_empty()
            && self.services.is_empty()
            && self.tables.is_empty()
    }

    /// The zones the deployment's groups may launch in, sorted.
    pub fn zones(&self) -> Vec<String> {
        let mut zones: Vec<String> = self
            .groups
            .iter()
            .flat_map(|g| g.subnets.iter())
            .filter_map(|s| self.subnet_zones.get(s).cloned())
            .collect();
        zones.sort();
        zones.dedup();
        zones
    }

    /// The alarms that guard a tier (its capacity and healthy-host alarms).
    pub fn tier_alarms(&self, tier: &str) -> Vec<&Alarm> {
        let prefix = format!("alarm.tier.{tier}.");
        self.alarms
            .iter()
            .filter(|a| a.logical_id.starts_with(&prefix))
            .collect()
    }

    /// The alarms that guard a database.
    pub fn database_alarms(&self, name: &str) -> Vec<&Alarm> {
        let prefix = format!("alarm.db.{name}.");
        self.alarms
            .iter()
            .filter(|a| a.logical_id.starts_with(&prefix))
            .collect()
    }

    /// The alarms that guard a document database (its writer's CPU and memory, replica lag).
    pub fn documents_alarms(&self, name: &str) -> Vec<&Alarm> {
        let prefix = format!("alarm.docdb.{name}.");
        self.alarms
            .iter()
            .filter(|a| a.logical_id.starts_with(&prefix))
            .collect()
    }

    /// The alarms that guard a cache (every node's CPU, evictions and replication lag).
    pub fn cache_alarms(&self, name: &str) -> Vec<&Alarm> {
        let prefix = format!("alarm.cache.{name}.");
        self.alarms
            .iter()
            .filter(|a| a.logical_id.starts_with(&prefix))
            .collect()
    }

    /// The alarms that guard a service (running tasks, CPU, memory).
    pub fn service_alarms(&self, name: &str) -> Vec<&Alarm> {
        let prefix = format!("alarm.svc.{name}.");
        self.alarms
            .iter()
            .filter(|a| a.logical_id.starts_with(&prefix))
            .collect()
    }

    /// An alarm by its CloudWatch name or its ftctl logical id.
    pub fn alarm(&self, key: &str) -> Option<&Alarm> {
        self.alarms
            .iter()
            .find(|a| a.name == key || a.logical_id == key)
    }
}

/// One EC2 instance as a probe saw it, joined across EC2, the group and its target groups.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Instance {
    pub id: String,
    pub tier: String,
    pub zone: String,
    /// EC2's state name: pending, running, stopping, stopped, shutting-down, terminated.
    pub state: String,
    /// The group's lifecycle state (InService, Pending, Terminating, ...).
    pub lifecycle: String,
    /// The group's health status (Healthy / Unhealthy).
    pub group_health: String,
    /// The target state in each of the group's target groups (healthy, unused, draining, ...);
    /// absent when the instance is not registered there.
    pub target_health: Vec<String>,
}

impl Instance {
    /// Serving means every view agrees: EC2 says running, the group says InService and
    /// Healthy, and every target group it belongs to says healthy. Each view alone can be
    /// wrong: a stopped instance may still be InService in its group.
    pub fn serving(&self, target_groups: usize) -> bool {
        self.state == "running"
            && self.lifecycle == "InService"
            && self.group_health.eq_ignore_ascii_case("healthy")
            && self.target_health.len() == target_groups
            && self.target_health.iter().all(|t| t == "healthy")
    }
}

/// A tier's capacity in one probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TierState {
    pub tier: String,
    pub group: String,
    pub desired: u32,
    /// Instances the group lists as InService.
    pub in_service: u32,
    /// Instances healthy in every target group of the group.
    pub healthy: u32,
    /// Instances that are running, InService, Healthy and healthy behind the balancer.
    pub serving: u32,
    /// Serving instances per zone.
    pub serving_by_zone: BTreeMap<String, u32>,
    /// The group's zone list at the time of the probe.
    pub subnets: Vec<String>,
}

/// A database in one probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseState {
    pub name: String,
    pub identifier: String,
    pub status: String,
    pub zone: String,
    pub secondary_zone: Option<String>,
}

/// A document database in one probe: the cluster's status and which instance writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentsState {
    pub name: String,
    pub identifier: String,
    pub status: String,
    /// The writer instance, empty when the cluster reports none (between a failover's steps).
    pub writer: String,
}

/// One shard of a cache in one probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardState {
    pub id: String,
    pub status: String,
    pub members: u32,
    /// The primary node and its zone, when ElastiCache reports roles (it does without cluster
    /// mode).
    pub primary: Option<String>,
    pub primary_zone: Option<String>,
}

/// A service in one probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceState {
    pub name: String,
    pub service: String,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
}

/// One task of a service, for choosing what to stop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub service: String,
    pub arn: String,
    pub zone: String,
}

/// A cache in one probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CacheState {
    pub name: String,
    pub group: String,
    pub status: String,
    pub shards: Vec<ShardState>,
}

/// Everything one probe saw, `at` seconds after the run started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub at: f64,
    pub tiers: Vec<TierState>,
    pub databases: Vec<DatabaseState>,
    #[serde(default)]
    pub documents: Vec<DocumentsState>,
    #[serde(default)]
    pub caches: Vec<CacheState>,
    #[serde(default)]
    pub services: Vec<ServiceState>,
    /// Names of the alarms (the deployment's and the stop conditions) in state ALARM.
    pub alarms_firing: Vec<String>,
}

impl Snapshot {
    /// Why this is not the steady state; empty when it is.
    pub fn problems(&self, deployment_alarms: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.tiers {
            if t.serving < t.desired {
                out.push(format!(
                    "{}: {} of {} serving (in service {}, healthy {})",
                    t.tier, t.serving, t.desired, t.in_service, t.healthy
                ));
            }
        }
        for d in &self.databases {
            if d.status != "available" {
                out.push(format!("database {}: {}", d.name, d.status));
            }
        }
        for d in &self.documents {
            if d.status != "available" {
                out.push(format!("document database {}: {}", d.name, d.status));
            } else if d.writer.is_empty() {
                out.push(format!("document database {}: no writer", d.name));
            }
        }
        for s in &self.services {
            if s.running < s.desired {
                out.push(format!(
                    "service {}: {} of {} tasks running",
                    s.name, s.running, s.desired
                ));
            }
        }
        for c in &self.caches {
            if c.status != "available" {
                out.push(format!("cache {}: {}", c.name, c.status));
            }
            for s in c.shards.iter().filter(|s| s.status != "available") {
                out.push(format!("cache {} shard {}: {}", c.name, s.id, s.status));
            }
        }
        for a in &self.alarms_firing {
            if deployment_alarms.contains(a) {
                out.push(format!("alarm {a} is in ALARM"));
            }
        }
        out
    }
}

impl Snapshot {
    /// What serves outside the lost zone, one line per tier, database, cache and service: the
    /// kill-az verdict's "what recovered in the zones that remained".
    pub fn outside_zone(&self, lost: &str) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.tiers {
            let elsewhere: Vec<String> = t
                .serving_by_zone
                .iter()
                .filter(|(z, _)| z.as_str() != lost)
                .map(|(z, n)| format!("{n} in {z}"))
                .collect();
            let inside = t.serving_by_zone.get(lost).copied().unwrap_or(0);
            out.push(format!(
                "tier {}: {} of {} serving{}{}",
                t.tier,
                t.serving - inside,
                t.desired,
                if elsewhere.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", elsewhere.join(", "))
                },
                if inside > 0 {
                    format!(", and {inside} still in {lost}")
                } else {
                    String::new()
                }
            ));
        }
        for d in &self.databases {
            out.push(format!(
                "database {}: {}, primary in {}{}",
                d.name,
                d.status,
                d.zone,
                if d.zone == lost {
                    " (the lost zone)"
                } else {
                    ""
                }
            ));
        }
        for c in &self.caches {
            for sh in &c.shards {
                if let Some(z) = &sh.primary_zone {
                    out.push(format!(
                        "cache {} shard {}: {}, primary in {z}{}",
                        c.name,
                        sh.id,
                        sh.status,
                        if z == lost { " (the lost zone)" } else { "" }
                    ));
                }
            }
        }
        for sv in &self.services {
            out.push(format!(
                "service {}: {} of {} tasks running",
                sv.name, sv.running, sv.desired
            ));
        }
        out
    }
}

/// A probe: the snapshot plus the instance detail that targeting needs.
#[derive(Debug, Clone)]
pub struct Observation {
    pub snapshot: Snapshot,
    pub instances: Vec<Instance>,
    /// Running tasks of the deployment's services.
    pub tasks: Vec<Task>,
}

/// Builds a tier's state from the instances a probe joined.
pub fn tier_state(
    group: &Group,
    desired: u32,
    subnets: &[String],
    instances: &[Instance],
) -> TierState {
    let mine: Vec<&Instance> = instances.iter().filter(|i| i.tier == group.tier).collect();
    let tgs = group.target_groups.len();
    let mut serving_by_zone = BTreeMap::new();
    for i in mine.iter().filter(|i| i.serving(tgs)) {
        *serving_by_zone.entry(i.zone.clone()).or_insert(0) += 1;
    }
    TierState {
        tier: group.tier.clone(),
        group: group.name.clone(),
        desired,
        in_service: mine.iter().filter(|i| i.lifecycle == "InService").count() as u32,
        healthy: mine
            .iter()
            .filter(|i| {
                i.target_health.len() == tgs && i.target_health.iter().all(|t| t == "healthy")
            })
            .count() as u32,
        serving: serving_by_zone.values().sum(),
        serving_by_zone,
        subnets: subnets.to_vec(),
    }
}
