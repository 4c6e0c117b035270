//! Turning a fault asked for ("kill an AZ") into exact actions on exact resources, from what a
//! baseline probe saw, with the budget it is held to. Pure: the same inventory and observation
//! always give the same design. The actions and their undos are `action`; losing a zone is
//! `az`, gray failures `gray`, lost replication `replication`; what `chaos list` offers is
//! `applicable`.

use super::{DocumentDb, Instance, Inventory, Observation};
mod applicable;
mod az;
pub mod gray;
pub mod replication;

mod action;

pub use action::{Action, Undo};
pub use applicable::{applicable, Applicable};
use az::kill_az;
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
    /// DocumentDB FailoverDBCluster: a replica becomes the cluster's writer.
    DocdbFailover {
        documents: Vec<String>,
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

    /// Identifiers of the document databases (DocumentDB clusters) the experiment fails over.
    pub fn failover_documents(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::FailoverDocuments { identifier, .. } => Some(identifier.clone()),
                _ => None,
            })
            .collect()
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
        Fault::DocdbFailover { documents } => docdb_failover(inv, baseline, documents)?,
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
    // (document databases are guarded by their alarms as databases are)
    let mut databases = design.failover_databases();
    databases.extend(design.failover_documents());
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
    for d in inv
        .documents
        .iter()
        .filter(|d| database_identifiers.contains(&d.identifier))
    {
        guards.extend(inv.documents_alarms(&d.name));
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

fn docdb_failover(
    inv: &Inventory,
    baseline: &Observation,
    names: &[String],
) -> Result<Design, Refusal> {
    // Unnamed, every one with a replica to promote; named, a lone writer is refused below.
    let with_replicas: Vec<DocumentDb> = inv
        .documents
        .iter()
        .filter(|d| !names.is_empty() || d.instances >= 2)
        .cloned()
        .collect();
    let chosen = choose(
        &with_replicas,
        names,
        |d, n| d.name == n || d.identifier == n,
        "--docs",
        "document database",
        "no document database",
        &inv.env,
    )?;
    let mut actions = Vec::new();
    for d in &chosen {
        if d.instances < 2 {
            return Err(Refusal(format!(
                "document database {} has no replica to promote: a failover would only restart \
                 its writer (documents.{}.instances = 2 at least)",
                d.name, d.name
            )));
        }
        let writer = baseline
            .snapshot
            .documents
            .iter()
            .find(|s| s.identifier == d.identifier)
            .map(|s| s.writer.clone())
            .unwrap_or_default();
        actions.push(Action::FailoverDocuments {
            identifier: d.identifier.clone(),
            writer,
        });
    }
    Ok(targeted(
        "docdb-failover",
        format!("fail {} over to a replica", names_of(&chosen, |d| &d.name)),
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
