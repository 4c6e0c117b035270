//! Turning "kill an AZ" into exact actions on exact resources, from what a baseline probe saw.
//! Pure: the same inventory and observation always give the same design.

use super::{Instance, Inventory, Observation};
pub mod gray;
pub mod replication;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Stopped instances model a power interruption; terminated ones a lost zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AzMode {
    Terminate,
    Stop,
}

/// The fault asked for on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    KillInstance {
        tiers: Vec<String>,
        count: Option<u32>,
        percent: Option<u32>,
        instances: Vec<String>,
        /// Orders the candidates, so a run can be repeated exactly; by default derived from
        /// the deployment and its running instances (see `default_seed`).
        seed: Option<String>,
    },
    KillAz {
        zone: Option<String>,
        mode: AzMode,
    },
    RdsFailover {
        databases: Vec<String>,
    },
    CacheFailover {
        caches: Vec<String>,
        /// One shard (`0001`) instead of every shard.
        shard: Option<String>,
    },
    KillTask {
        services: Vec<String>,
        /// Tasks to stop per service [1].
        count: Option<u32>,
        /// Share of each service's running tasks to stop, rounded up, instead of a count.
        percent: Option<u32>,
        seed: Option<String>,
    },
    /// Gray failure: delay (and jitter) on every packet a share of a tier's instances sends.
    Latency {
        on: gray::Share,
        delay_ms: u32,
        jitter_ms: u32,
    },
    /// Gray failure: a share of the packets a share of a tier's instances sends is dropped.
    PacketLoss {
        on: gray::Share,
        loss_percent: u32,
    },
    /// Gray failure: the CPUs of a share of a tier's instances are kept busy.
    CpuStress {
        on: gray::Share,
        load_percent: u32,
    },
    /// Lost replication: a global table's replicas stop receiving (and sending) writes.
    PauseReplication {
        /// Tables by name (none: every global table).
        tables: Vec<String>,
        /// Replica regions (none: every replica).
        regions: Vec<String>,
        /// Seconds the pause lasts.
        duration: u32,
    },
}

/// One change the experiment makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Cut a zone's subnets off the network, as FIS's `aws:network:disrupt-connectivity` does:
    /// move them onto a new network ACL of the VPC with no rules, which denies all traffic
    /// both ways (a custom ACL has only its catch-all deny until rules are added: Amazon VPC
    /// User Guide, "Network ACLs"). ACLs are stateless, so open connections stop too.
    IsolateSubnets {
        vpc: String,
        zone: String,
        /// subnet id -> the network ACL it is on now, which rollback puts it back on.
        subnets: BTreeMap<String, String>,
    },
    /// Take a zone out of a group's zone list so it cannot launch there.
    RemoveZone {
        group: String,
        zone: String,
        from: Vec<String>,
        to: Vec<String>,
    },
    TerminateInstances {
        instances: Vec<String>,
    },
    StopInstances {
        instances: Vec<String>,
    },
    /// Reboot a Multi-AZ database with failover to its standby.
    FailoverDatabase {
        identifier: String,
        zone: String,
    },
    /// Stop tasks of an ECS service; the service should start new ones.
    StopTasks {
        cluster: String,
        service: String,
        tasks: Vec<String>,
    },
    /// ElastiCache TestFailover: the shard's primary is replaced by a replica.
    FailoverCache {
        group: String,
        shard: String,
        /// Where the primary was, when known.
        #[serde(default)]
        zone: Option<String>,
    },
    /// Systems Manager Run Command: run `document` with `parameters` on `instances`. `comment`
    /// marks the command so that rollback can find it.
    SendCommand {
        document: String,
        instances: Vec<String>,
        parameters: BTreeMap<String, Vec<String>>,
        comment: String,
    },
    /// Deny DynamoDB's replication role on a replica (its resource policy) for `seconds`.
    PauseReplication {
        table: String,
        region: String,
        /// The replica's table ARN.
        arn: String,
        seconds: u32,
    },
}

impl Action {
    pub fn describe(&self) -> String {
        match self {
            Action::IsolateSubnets { zone, subnets, .. } => format!(
                "cut {zone} off the network: move subnet{} {} onto a deny-all network ACL",
                if subnets.len() == 1 { "" } else { "s" },
                subnets.keys().cloned().collect::<Vec<_>>().join(" ")
            ),
            Action::RemoveZone {
                group,
                zone,
                from,
                to,
                ..
            } => format!(
                "take {zone} out of group {group}: subnets {} -> {}",
                from.join(","),
                to.join(",")
            ),
            Action::TerminateInstances { instances } => {
                format!("terminate {}", instances.join(" "))
            }
            Action::StopInstances { instances } => format!("stop {}", instances.join(" ")),
            Action::FailoverDatabase { identifier, zone } => {
                format!("reboot database {identifier} with failover (primary in {zone})")
            }
            Action::StopTasks { service, tasks, .. } => format!(
                "stop {} task{} of service {service}: {}",
                tasks.len(),
                if tasks.len() == 1 { "" } else { "s" },
                tasks
                    .iter()
                    .map(|t| t.rsplit('/').next().unwrap_or(t))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Action::SendCommand {
                document,
                instances,
                parameters,
                ..
            } => format!(
                "run {document} ({}) on {}",
                parameters
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.join(",")))
                    .collect::<Vec<_>>()
                    .join(" "),
                instances.join(" ")
            ),
            Action::FailoverCache { group, shard, zone } => format!(
                "test failover of cache {group} shard {shard}{}",
                zone.as_ref()
                    .map(|z| format!(" (primary in {z})"))
                    .unwrap_or_default()
            ),
            Action::PauseReplication {
                table,
                region,
                seconds,
                ..
            } => format!(
                "pause replication of table {table} to its replica in {region} for {seconds} s: \
                 its resource policy denies DynamoDB's replication role (the deny expires by \
                 itself {} s after that)",
                replication::EXPIRY_GRACE_SECONDS
            ),
        }
    }

    /// What puts this change back, if anything can.
    pub fn undo(&self) -> Option<Undo> {
        match self {
            Action::IsolateSubnets { vpc, subnets, .. } => Some(Undo::RestoreNetworkAcls {
                vpc: vpc.clone(),
                subnets: subnets.clone(),
            }),
            Action::RemoveZone { group, from, .. } => Some(Undo::RestoreZones {
                group: group.clone(),
                subnets: from.clone(),
            }),
            Action::StopInstances { instances } => Some(Undo::StartInstances {
                instances: instances.clone(),
            }),
            Action::SendCommand {
                document,
                instances,
                comment,
                ..
            } => Some(Undo::CancelCommand {
                document: document.clone(),
                instances: instances.clone(),
                comment: comment.clone(),
            }),
            Action::PauseReplication {
                table, region, arn, ..
            } => Some(Undo::ResumeReplication {
                table: table.clone(),
                region: region.clone(),
                arn: arn.clone(),
            }),
            Action::TerminateInstances { .. }
            | Action::FailoverDatabase { .. }
            | Action::FailoverCache { .. }
            | Action::StopTasks { .. } => None,
        }
    }
}

/// What rollback does, recorded before the change it undoes is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "kebab-case")]
pub enum Undo {
    RestoreZones {
        group: String,
        subnets: Vec<String>,
    },
    StartInstances {
        instances: Vec<String>,
    },
    /// Put each subnet back on its network ACL and delete the deny-all ACL kill-az made
    /// (found by its tag, so this works also when the run died before it learnt the ACL's id).
    RestoreNetworkAcls {
        vpc: String,
        subnets: BTreeMap<String, String>,
    },
    /// Cancel the run's command (found by its comment) wherever it still runs, and see every
    /// invocation end: the AWSFIS documents remove their fault when cancelled.
    CancelCommand {
        document: String,
        instances: Vec<String>,
        comment: String,
    },
    /// Take ftctl's deny (found by its statement id) out of the replica's resource policy,
    /// keeping every other statement, and delete the policy if nothing else is left.
    ResumeReplication {
        table: String,
        region: String,
        arn: String,
    },
}

impl Undo {
    pub fn describe(&self) -> String {
        match self {
            Undo::RestoreZones { group, subnets } => {
                format!("restore group {group} subnets {}", subnets.join(","))
            }
            Undo::StartInstances { instances } => format!("start {}", instances.join(" ")),
            Undo::RestoreNetworkAcls { subnets, .. } => format!(
                "put {} back on their network ACLs ({}) and delete the deny-all ACL",
                subnets.keys().cloned().collect::<Vec<_>>().join(" "),
                subnets
                    .iter()
                    .map(|(s, a)| format!("{s} -> {a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Undo::CancelCommand {
                document,
                instances,
                ..
            } => format!(
                "cancel {document} on {} and see it end",
                instances.join(" ")
            ),
            Undo::ResumeReplication { table, region, .. } => format!(
                "resume replication of table {table} to {region}: take ftctl's deny out of the \
                 replica's resource policy"
            ),
        }
    }
}

/// The recovery budget and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub seconds: f64,
    pub source: String,
}

/// An experiment ready to run: targets, actions, budget, and what the operator should know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Design {
    pub experiment: String,
    pub summary: String,
    pub zone: Option<String>,
    pub tiers: Vec<String>,
    pub actions: Vec<Action>,
    pub budget: Budget,
    pub warnings: Vec<String>,
    /// The seed that ordered the candidates when the experiment chose among them: printed by
    /// the dry run and kept in the journal, so `--seed` repeats exactly this choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// A scenario's steps (`ftctl chaos run FILE`), in file order: they split `actions`, each
    /// taking the next `actions` of them. Empty for a single experiment, whose actions all start
    /// at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// One step of a scenario as designed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Seconds after the first step starts.
    pub at: f64,
    pub experiment: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// How many of the design's actions are this step's.
    pub actions: usize,
}

/// A group of actions that start together, `at` seconds after the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub at: f64,
    pub label: String,
    pub actions: std::ops::Range<usize>,
}

impl Design {
    /// Whether the experiment is judged by recovery (something is lost and must be rebuilt) or,
    /// for a gray failure, by steady state holding while the fault runs (`verdict::hold`). A
    /// scenario is judged by recovery when any of its steps is.
    pub fn expects_healing(&self) -> bool {
        let heals = |experiment: &str| {
            !gray::EXPERIMENTS.contains(&experiment) && experiment != replication::PAUSE_REPLICATION
        };
        if self.steps.is_empty() {
            heals(&self.experiment)
        } else {
            self.steps.iter().any(|s| heals(&s.experiment))
        }
    }

    /// When each of the design's actions starts, in start order: all at once for a single
    /// experiment, step by step for a scenario (steps starting together keep the file's order).
    pub fn schedule(&self) -> Vec<Start> {
        if self.steps.is_empty() {
            return vec![Start {
                at: 0.0,
                label: self.experiment.clone(),
                actions: 0..self.actions.len(),
            }];
        }
        let mut from = 0;
        let mut starts: Vec<Start> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let to = (from + s.actions).min(self.actions.len());
                let start = Start {
                    at: s.at,
                    label: format!("step {} ({})", i + 1, s.experiment),
                    actions: from..to,
                };
                from = to;
                start
            })
            .collect();
        starts.sort_by(|a, b| a.at.total_cmp(&b.at));
        starts
    }

    /// Services whose tasks the experiment stops.
    pub fn stopped_services(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::StopTasks { service, .. } => Some(service.clone()),
                _ => None,
            })
            .collect()
    }

    /// Replication groups the experiment fails over.
    pub fn failover_caches(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::FailoverCache { group, .. } => Some(group.clone()),
                _ => None,
            })
            .collect();
        groups.dedup();
        groups
    }

    /// Identifiers of the databases the experiment fails over.
    pub fn failover_databases(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::FailoverDatabase { identifier, .. } => Some(identifier.clone()),
                _ => None,
            })
            .collect()
    }
}

/// A user error in choosing targets: refused before anything changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn design(
    fault: &Fault,
    inv: &Inventory,
    baseline: &Observation,
    budget_override: Option<f64>,
) -> Result<Design, Refusal> {
    let mut design = match fault {
        Fault::KillInstance {
            tiers,
            count,
            percent,
            instances,
            seed,
        } => kill_instance(
            inv,
            baseline,
            tiers,
            *count,
            *percent,
            instances,
            seed.as_deref(),
        )?,
        Fault::KillAz { zone, mode } => kill_az(inv, baseline, zone.as_deref(), *mode)?,
        Fault::RdsFailover { databases } => rds_failover(inv, baseline, databases)?,
        Fault::CacheFailover { caches, shard } => {
            cache_failover(inv, baseline, caches, shard.as_deref())?
        }
        Fault::KillTask {
            services,
            count,
            percent,
            seed,
        } => kill_task(inv, baseline, services, *count, *percent, seed.as_deref())?,
        Fault::Latency { .. } | Fault::PacketLoss { .. } | Fault::CpuStress { .. } => {
            gray::design(fault, inv, baseline)?
        }
        Fault::PauseReplication {
            tables,
            regions,
            duration,
        } => replication::design(inv, tables, regions, *duration)?,
    };
    let databases = design.failover_databases();
    let caches = design.failover_caches();
    let services = design.stopped_services();
    let held_for = match fault {
        Fault::PauseReplication { duration, .. } => Some(replication::budget(*duration)),
        _ => gray::budget(fault),
    };
    design.budget = match (budget_override, held_for) {
        (Some(seconds), _) => Budget {
            seconds,
            source: "--budget".to_string(),
        },
        (None, Some(fault_duration)) => fault_duration,
        (None, None) => derive_budget(inv, &design.tiers, &databases, &caches, &services)?,
    };
    Ok(design)
}

/// The tightest window among the alarms guarding what the experiment touches: recovery must
/// be complete before the first of them would page someone.
pub fn derive_budget(
    inv: &Inventory,
    tiers: &[String],
    database_identifiers: &[String],
    cache_groups: &[String],
    services: &[String],
) -> Result<Budget, Refusal> {
    let mut guards = Vec::new();
    for t in tiers {
        guards.extend(inv.tier_alarms(t));
    }
    for d in inv
        .databases
        .iter()
        .filter(|d| database_identifiers.contains(&d.identifier))
    {
        guards.extend(inv.database_alarms(&d.name));
    }
    for c in inv
        .caches
        .iter()
        .filter(|c| cache_groups.contains(&c.group))
    {
        guards.extend(inv.cache_alarms(&c.name));
    }
    for s in inv
        .services
        .iter()
        .filter(|s| services.contains(&s.service))
    {
        guards.extend(inv.service_alarms(&s.name));
    }
    let tightest = guards
        .iter()
        .filter(|a| a.window_seconds > 0)
        .min_by_key(|a| (a.window_seconds, a.name.clone()));
    tightest
        .map(|a| Budget {
            seconds: a.window_seconds as f64,
            source: format!(
                "alarm {}: it pages after {} s, the soonest of the {} alarm{} guarding what the experiment touches",
                a.name,
                a.window_seconds,
                guards.len(),
                if guards.len() == 1 { "" } else { "s" }
            ),
        })
        .ok_or_else(|| {
            Refusal(
            "no alarm guards what this experiment touches, so there is no budget to hold it to: \
             pass --budget SECONDS"
                .to_string(),
        )
        })
}

/// The groups of the tiers named (by tier or group name), or every group when none is named.
fn groups_for<'a>(inv: &'a Inventory, tiers: &[String]) -> Result<Vec<&'a super::Group>, Refusal> {
    if inv.groups.is_empty() {
        return Err(Refusal(format!(
            "deployment {} has no Auto Scaling group to take instances from",
            inv.env
        )));
    }
    if tiers.is_empty() {
        return Ok(inv.groups.iter().collect());
    }
    tiers
        .iter()
        .map(|t| {
            inv.groups
                .iter()
                .find(|g| &g.tier == t || &g.name == t)
                .ok_or_else(|| {
                    Refusal(format!(
                        "--group {t}: deployment {} has no such tier (it has: {})",
                        inv.env,
                        inv.groups
                            .iter()
                            .map(|g| g.tier.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        })
        .collect()
}

/// How many of `n` candidates a `--count`/`--percent` choice takes: a percentage rounds up and
/// takes at least one; one by default.
fn how_many(n: u32, count: Option<u32>, percent: Option<u32>) -> u32 {
    match (count, percent) {
        (_, Some(p)) => (n * p).div_ceil(100).max(1),
        (Some(c), None) => c,
        (None, None) => 1,
    }
}

/// The order a seed puts candidates in: by the hash of seed and id, so it does not depend on
/// the order AWS listed them in.
fn shuffled<'a, T>(mut items: Vec<&'a T>, seed: &str, id: impl Fn(&T) -> &str) -> Vec<&'a T> {
    items.sort_by_cached_key(|i| Sha256::digest(format!("{seed}/{}", id(i)).as_bytes()).to_vec());
    items
}

/// The seed used when none is given: a hash of the deployment and the candidates it chose
/// from. A dry run and the run after it see the same candidates and so touch the same ones;
/// once the candidates change (a replaced instance has a new id), so does the choice.
pub fn default_seed<'a>(env: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let mut ids: Vec<&str> = candidates.into_iter().collect();
    ids.sort_unstable();
    let digest = Sha256::digest(format!("{env}/{}", ids.join(",")).as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

fn kill_instance(
    inv: &Inventory,
    baseline: &Observation,
    tiers: &[String],
    count: Option<u32>,
    percent: Option<u32>,
    chosen: &[String],
    seed: Option<&str>,
) -> Result<Design, Refusal> {
    let running = baseline.instances.iter().filter(|i| i.state == "running");
    let seed = match seed {
        Some(s) => s.to_string(),
        None => default_seed(&inv.env, running.map(|i| i.id.as_str())),
    };
    let mut victims: Vec<String> = Vec::new();
    let mut affected: Vec<String> = Vec::new();
    let mut warnings = Vec::new();
    if !chosen.is_empty() {
        for id in chosen {
            let Some(found) = baseline.instances.iter().find(|i| &i.id == id) else {
                return Err(Refusal(format!(
                    "--instance {id} is not an instance of deployment {}: ftctl only touches \
                     instances in the deployment's groups that carry its ftctl:deployment tag",
                    inv.env
                )));
            };
            if !affected.contains(&found.tier) {
                affected.push(found.tier.clone());
            }
            victims.push(id.clone());
        }
    } else {
        for group in groups_for(inv, tiers)? {
            let live: Vec<&Instance> = baseline
                .instances
                .iter()
                .filter(|i| i.tier == group.tier && i.state == "running")
                .collect();
            let n = live.len() as u32;
            if n == 0 {
                warnings.push(format!("tier {} has no running instance", group.tier));
                continue;
            }
            let take = how_many(n, count, percent);
            if take >= n && percent != Some(100) {
                return Err(Refusal(format!(
                    "that would take all {n} instance{} of tier {}: the blast radius is capped \
                     below a whole group unless you pass --percent 100",
                    if n == 1 { "" } else { "s" },
                    group.tier
                )));
            }
            let take = take.min(n) as usize;
            victims.extend(
                shuffled(live, &seed, |i: &Instance| &i.id)
                    .iter()
                    .take(take)
                    .map(|i| i.id.clone()),
            );
            affected.push(group.tier.clone());
        }
    }
    if victims.is_empty() {
        return Err(Refusal("no running instance to terminate".to_string()));
    }
    victims.sort();
    let summary = format!(
        "terminate {} instance{} of tier{} {}",
        victims.len(),
        if victims.len() == 1 { "" } else { "s" },
        if affected.len() == 1 { "" } else { "s" },
        affected.join(", ")
    );
    Ok(Design {
        experiment: "kill-instance".into(),
        summary,
        zone: None,
        tiers: affected,
        actions: vec![Action::TerminateInstances { instances: victims }],
        budget: placeholder_budget(),
        warnings,
        seed: chosen.is_empty().then_some(seed),
        steps: Vec::new(),
    })
}

fn placeholder_budget() -> Budget {
    Budget {
        seconds: 0.0,
        source: String::new(),
    }
}

fn kill_az(
    inv: &Inventory,
    baseline: &Observation,
    zone: Option<&str>,
    mode: AzMode,
) -> Result<Design, Refusal> {
    let zones = inv.zones();
    if zones.is_empty() {
        return Err(Refusal(format!(
            "deployment {} has no group with subnets: nothing lives in a zone",
            inv.env
        )));
    }
    let zone = match zone {
        Some(z) if zones.iter().any(|x| x == z) => z.to_string(),
        Some(z) => {
            return Err(Refusal(format!(
                "--az {z}: deployment {} does not use that zone (it uses {})",
                inv.env,
                zones.join(", ")
            )))
        }
        None => {
            // The zone holding the most running capacity: losing it hurts the most.
            let mut load: BTreeMap<&str, usize> = zones.iter().map(|z| (z.as_str(), 0)).collect();
            for i in baseline.instances.iter().filter(|i| i.state == "running") {
                if let Some(n) = load.get_mut(i.zone.as_str()) {
                    *n += 1;
                }
            }
            let most = load.values().copied().max().unwrap_or(0);
            load.iter()
                .find(|(_, n)| **n == most)
                .map(|(z, _)| z.to_string())
                .unwrap_or_else(|| zones[0].clone())
        }
    };
    let mut actions = Vec::new();
    let mut warnings = Vec::new();
    let mut tiers = Vec::new();
    // First the network, as when a zone goes dark: every subnet of the deployment there.
    let zone_subnets: Vec<&String> = inv
        .subnet_zones
        .iter()
        .filter(|(_, z)| **z == zone)
        .map(|(s, _)| s)
        .collect();
    let isolate: BTreeMap<String, String> = zone_subnets
        .iter()
        .filter_map(|s| inv.subnet_acls.get(*s).map(|a| ((*s).clone(), a.clone())))
        .collect();
    let unknown: Vec<&str> = zone_subnets
        .iter()
        .filter(|s| !isolate.contains_key(**s))
        .map(|s| s.as_str())
        .collect();
    if !unknown.is_empty() {
        warnings.push(format!(
            "subnet{} {} in {zone}: the network ACL is not known, so {} not cut off",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            if unknown.len() == 1 {
                "it is"
            } else {
                "they are"
            }
        ));
    }
    match &inv.vpc {
        Some(vpc) if !isolate.is_empty() => actions.push(Action::IsolateSubnets {
            vpc: vpc.clone(),
            zone: zone.clone(),
            subnets: isolate.clone(),
        }),
        None if !isolate.is_empty() => warnings.push(format!(
            "the deployment's VPC was not found, so {zone}'s subnets are not cut off"
        )),
        _ => {}
    }
    for g in &inv.groups {
        let current: Vec<String> = baseline
            .snapshot
            .tiers
            .iter()
            .find(|t| t.group == g.name)
            .map(|t| t.subnets.clone())
            .unwrap_or_else(|| g.subnets.clone());
        let keep: Vec<String> = current
            .iter()
            .filter(|s| inv.subnet_zones.get(*s) != Some(&zone))
            .cloned()
            .collect();
        let in_zone = current.len() - keep.len();
        let hit = baseline
            .instances
            .iter()
            .filter(|i| i.tier == g.tier && i.zone == zone && i.state == "running")
            .count();
        let running = baseline
            .instances
            .iter()
            .filter(|i| i.tier == g.tier && i.state == "running")
            .count();
        if in_zone > 0 || hit > 0 {
            tiers.push(g.tier.clone());
        }
        if in_zone > 0 && keep.is_empty() {
            warnings.push(format!(
                "group {} launches only in {zone}: its zone list cannot be emptied, so it may \
                 relaunch into the failed zone",
                g.name
            ));
        } else if in_zone > 0 {
            actions.push(Action::RemoveZone {
                group: g.name.clone(),
                zone: zone.clone(),
                from: current.clone(),
                to: keep,
            });
        }
        if hit > 0 && hit == running {
            warnings.push(format!(
                "tier {} is not spread across zones: all {running} running instance{} in {zone}",
                g.tier,
                if running == 1 { " is" } else { "s are" }
            ));
        }
    }
    let in_zone: Vec<&crate::chaos::Instance> = baseline
        .instances
        .iter()
        .filter(|i| i.zone == zone && matches!(i.state.as_str(), "running" | "pending"))
        .collect();
    // Only members of the deployment's Auto Scaling groups: other instances carrying the
    // deployment's tag (EMR propagates its cluster's tags to its nodes, EMR Management Guide,
    // "Tag clusters") have nothing that rebuilds them, so losing them is not part of a test.
    let mut victims: Vec<String> = in_zone
        .iter()
        .filter(|i| !i.tier.is_empty())
        .map(|i| i.id.clone())
        .collect();
    victims.sort();
    let spared: Vec<&str> = in_zone
        .iter()
        .filter(|i| i.tier.is_empty())
        .map(|i| i.id.as_str())
        .collect();
    if !spared.is_empty() {
        warnings.push(format!(
            "left alone in {zone}: {} (the deployment's, but in none of its Auto Scaling groups, \
             such as EMR nodes: nothing would rebuild them)",
            spared.join(", ")
        ));
    }
    if !victims.is_empty() {
        actions.push(match mode {
            AzMode::Terminate => Action::TerminateInstances {
                instances: victims.clone(),
            },
            AzMode::Stop => Action::StopInstances {
                instances: victims.clone(),
            },
        });
    }
    // The zone's Fargate tasks die with it; the services should start others elsewhere.
    let mut tasks_lost = 0;
    for svc in &inv.services {
        let all: Vec<&super::Task> = baseline
            .tasks
            .iter()
            .filter(|t| t.service == svc.service)
            .collect();
        let mut there: Vec<String> = all
            .iter()
            .filter(|t| t.zone == zone)
            .map(|t| t.arn.clone())
            .collect();
        if there.is_empty() {
            continue;
        }
        there.sort();
        if there.len() == all.len() {
            warnings.push(format!(
                "service {} is not spread across zones: all {} running task{} in {zone}",
                svc.name,
                all.len(),
                if all.len() == 1 { " is" } else { "s are" }
            ));
        }
        tasks_lost += there.len();
        actions.push(Action::StopTasks {
            cluster: svc.cluster.clone(),
            service: svc.service.clone(),
            tasks: there,
        });
    }
    for d in &inv.databases {
        let Some(state) = baseline
            .snapshot
            .databases
            .iter()
            .find(|s| s.identifier == d.identifier)
        else {
            continue;
        };
        if state.zone != zone {
            continue;
        }
        if d.multi_az {
            actions.push(Action::FailoverDatabase {
                identifier: d.identifier.clone(),
                zone: zone.clone(),
            });
        } else {
            warnings.push(format!(
                "database {} is single-AZ with its only copy in {zone}: a real outage takes it \
                 down, and no failover can be tested",
                d.name
            ));
        }
    }
    for c in &baseline.snapshot.caches {
        for s in &c.shards {
            match &s.primary_zone {
                Some(z) if *z == zone => actions.push(Action::FailoverCache {
                    group: c.group.clone(),
                    shard: s.id.clone(),
                    zone: Some(zone.clone()),
                }),
                Some(_) => {}
                None => warnings.push(format!(
                    "cache {} shard {}: ElastiCache does not say which node is primary (cluster \
                     mode), so losing {zone} does not fail it over here; run \
                     `ftctl chaos cache-failover` for that",
                    c.name, s.id
                )),
            }
        }
    }
    if actions.is_empty() {
        return Err(Refusal(format!(
            "nothing of deployment {} is in {zone}: there is nothing to break there",
            inv.env
        )));
    }
    let verb = match mode {
        AzMode::Terminate => "terminate",
        AzMode::Stop => "stop",
    };
    let mut parts = Vec::new();
    if !isolate.is_empty() && inv.vpc.is_some() {
        parts.push(format!(
            "cut its {} subnet{} off",
            isolate.len(),
            if isolate.len() == 1 { "" } else { "s" }
        ));
    }
    parts.push(format!(
        "{verb} its {} instance{}",
        victims.len(),
        if victims.len() == 1 { "" } else { "s" }
    ));
    if tasks_lost > 0 {
        parts.push(format!(
            "stop its {tasks_lost} task{}",
            if tasks_lost == 1 { "" } else { "s" }
        ));
    }
    parts.push("keep groups out of it".to_string());
    Ok(Design {
        experiment: "kill-az".into(),
        summary: format!("lose zone {zone}: {}", parts.join(", ")),
        zone: Some(zone),
        tiers,
        actions,
        budget: placeholder_budget(),
        warnings,
        seed: None,
        steps: Vec::new(),
    })
}

/// A design that acts on chosen targets only (no zone, no tier capacity to watch); the budget is
/// set from their alarms afterwards.
fn targeted(experiment: &str, summary: String, actions: Vec<Action>) -> Design {
    Design {
        experiment: experiment.into(),
        summary,
        zone: None,
        tiers: Vec::new(),
        actions,
        budget: placeholder_budget(),
        warnings: Vec::new(),
        seed: None,
        steps: Vec::new(),
    }
}

/// "a, b, c" of the chosen targets' stack names.
fn names_of<T>(chosen: &[&T], name: impl Fn(&T) -> &String) -> String {
    chosen
        .iter()
        .map(|c| name(c).as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The items the user named (by stack name or AWS name), or all of them when none was named.
/// Refused when a name matches nothing, or when the deployment has none at all.
fn choose<'a, T>(
    items: &'a [T],
    names: &[String],
    matches: impl Fn(&T, &str) -> bool,
    flag: &str,
    noun: &str,
    none: &str,
    env: &str,
) -> Result<Vec<&'a T>, Refusal> {
    let chosen: Vec<&T> = if names.is_empty() {
        items.iter().collect()
    } else {
        names
            .iter()
            .map(|n| {
                items.iter().find(|i| matches(i, n)).ok_or_else(|| {
                    Refusal(format!("{flag} {n}: deployment {env} has no such {noun}"))
                })
            })
            .collect::<Result<_, _>>()?
    };
    if chosen.is_empty() {
        return Err(Refusal(format!("deployment {env} has {none}")));
    }
    Ok(chosen)
}

fn rds_failover(
    inv: &Inventory,
    baseline: &Observation,
    names: &[String],
) -> Result<Design, Refusal> {
    let chosen = choose(
        &inv.databases,
        names,
        |d, n| d.name == n || d.identifier == n,
        "--db",
        "database",
        "no database",
        &inv.env,
    )?;
    let mut actions = Vec::new();
    for d in &chosen {
        if !d.multi_az {
            return Err(Refusal(format!(
                "database {} is not Multi-AZ: a failover would be a plain reboot with downtime",
                d.name
            )));
        }
        let zone = baseline
            .snapshot
            .databases
            .iter()
            .find(|s| s.identifier == d.identifier)
            .map(|s| s.zone.clone())
            .unwrap_or_default();
        actions.push(Action::FailoverDatabase {
            identifier: d.identifier.clone(),
            zone,
        });
    }
    Ok(targeted(
        "rds-failover",
        format!(
            "fail over {} to the standby",
            names_of(&chosen, |d| &d.name)
        ),
        actions,
    ))
}

fn kill_task(
    inv: &Inventory,
    baseline: &Observation,
    names: &[String],
    count: Option<u32>,
    percent: Option<u32>,
    seed: Option<&str>,
) -> Result<Design, Refusal> {
    let chosen = choose(
        &inv.services,
        names,
        |s, n| s.name == n || s.service == n,
        "--service",
        "service",
        "no ECS service",
        &inv.env,
    )?;
    let seed = match seed {
        Some(s) => s.to_string(),
        None => default_seed(&inv.env, baseline.tasks.iter().map(|t| t.arn.as_str())),
    };
    let mut actions = Vec::new();
    let mut stopped = 0;
    for s in &chosen {
        let tasks: Vec<&super::Task> = baseline
            .tasks
            .iter()
            .filter(|t| t.service == s.service)
            .collect();
        let n = tasks.len() as u32;
        let take = how_many(n, count, percent);
        if take >= n {
            return Err(Refusal(format!(
                "service {} runs {n} task{}: stopping {take} would leave none to serve",
                s.name,
                if n == 1 { "" } else { "s" },
            )));
        }
        let mut victims: Vec<String> = shuffled(tasks, &seed, |t: &super::Task| &t.arn)
            .into_iter()
            .take(take as usize)
            .map(|t| t.arn.clone())
            .collect();
        victims.sort();
        stopped += victims.len();
        actions.push(Action::StopTasks {
            cluster: s.cluster.clone(),
            service: s.service.clone(),
            tasks: victims,
        });
    }
    let mut design = targeted(
        "kill-task",
        format!(
            "stop {stopped} task{} of {}",
            if stopped == 1 { "" } else { "s" },
            names_of(&chosen, |s| &s.name)
        ),
        actions,
    );
    design.seed = Some(seed);
    Ok(design)
}

fn cache_failover(
    inv: &Inventory,
    baseline: &Observation,
    names: &[String],
    shard: Option<&str>,
) -> Result<Design, Refusal> {
    let chosen = choose(
        &inv.caches,
        names,
        |c, n| c.name == n || c.group == n,
        "--cache",
        "cache",
        "no ElastiCache replication group",
        &inv.env,
    )?;
    let mut actions = Vec::new();
    for c in &chosen {
        if !c.automatic_failover {
            return Err(Refusal(format!(
                "cache {} has automatic failover off: ElastiCache cannot fail it over (and a \
                 real primary failure would take it down)",
                c.name
            )));
        }
        let shards: Vec<&String> = match shard {
            Some(s) => {
                let found = c.shards.iter().find(|x| x.as_str() == s).ok_or_else(|| {
                    Refusal(format!(
                        "--shard {s}: cache {} has shards {}",
                        c.name,
                        c.shards.join(", ")
                    ))
                })?;
                vec![found]
            }
            None => c.shards.iter().collect(),
        };
        let state = baseline.snapshot.caches.iter().find(|s| s.group == c.group);
        for s in shards {
            let zone = state
                .and_then(|st| st.shards.iter().find(|x| &x.id == s))
                .and_then(|x| x.primary_zone.clone());
            actions.push(Action::FailoverCache {
                group: c.group.clone(),
                shard: s.clone(),
                zone,
            });
        }
    }
    Ok(targeted(
        "cache-failover",
        format!("fail over {} to a replica", names_of(&chosen, |c| &c.name)),
        actions,
    ))
}

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
