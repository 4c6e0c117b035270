//! Evidence tied to the configuration (issue 18). An experiment's proof holds for the exact
//! configuration of its blast radius — the resources it touched and everything they depend on
//! — and goes stale when any of them changes. `apply` records what it applied (`Applied`: each
//! resource's spec hash and dependencies, and the resolved objectives); each run records an
//! `Evidence` whose radius carries the hashes it was proven on. This is the pure part: failure
//! modes and what they touch, the radius, fingerprints, which proofs a change or drift
//! invalidates, each failure mode's standing and the resilience score.

use crate::chaos::design::{Action, Fault};
use crate::chaos::Inventory;
use crate::component::objectives::Objective;
use crate::resource::{Kind, Observed, ResourceSpec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256:HEX` of one planned spec as canonical JSON (its properties are ordered maps, so the
/// order they were written in never matters). Specs hold no secret (passwords are AWS-managed),
/// and only the hash is kept.
pub fn spec_hash(spec: &ResourceSpec) -> String {
    // A spec always serialises: its values are plain data.
    let text = serde_json::to_string(spec).unwrap_or_default();
    format!("sha256:{}", hex(&Sha256::digest(text.as_bytes())))
}

/// One applied resource: its kind, the hash of its planned spec and what it depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedResource {
    pub kind: Kind,
    pub hash: String,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub deps: BTreeSet<String>,
}

/// What the last apply applied, as kept in the evidence bucket: the configuration every proof
/// is compared with. `complete` is false while an apply runs (or after one that failed), when
/// nobody can say which configuration the deployment is in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub deployment: String,
    pub stack: String,
    pub ftctl_version: String,
    /// RFC 3339.
    pub at: String,
    pub complete: bool,
    pub resources: BTreeMap<String, AppliedResource>,
    /// The deployment-wide objectives and each component's, resolved (`Objectives::resolve`).
    #[serde(default)]
    pub objectives: Objective,
    #[serde(default)]
    pub component_objectives: BTreeMap<String, Objective>,
    /// The stack's `[retention]`: how long the evidence bucket keeps its records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::stack::Retention>,
}

impl Applied {
    /// With the stack's objectives, resolved per component.
    pub fn with_objectives(mut self, stack: &crate::stack::Stack) -> Applied {
        self.objectives = stack.objectives.deployment();
        self.component_objectives = stack.objectives.resolve(stack);
        self.retention = Some(stack.retention);
        self
    }

    /// With the objectives a saved plan carries.
    pub fn with_saved_objectives(mut self, saved: &crate::saved::SavedPlan) -> Applied {
        self.objectives = saved.objectives;
        self.component_objectives = saved.component_objectives.clone();
        self.retention = saved.retention;
        self
    }

    pub fn from_specs(deployment: &str, stack: &str, specs: &[ResourceSpec], at: &str) -> Applied {
        Applied {
            deployment: deployment.to_string(),
            stack: stack.to_string(),
            ftctl_version: env!("CARGO_PKG_VERSION").to_string(),
            at: at.to_string(),
            complete: true,
            resources: specs
                .iter()
                .map(|s| {
                    let r = AppliedResource {
                        kind: s.kind,
                        hash: spec_hash(s),
                        deps: s.deps(),
                    };
                    (s.id.clone(), r)
                })
                .collect(),
            objectives: Objective::default(),
            component_objectives: BTreeMap::new(),
            retention: None,
        }
    }

    /// Whether `other` records the same configuration and objectives (times and versions aside).
    pub fn same_configuration(&self, other: &Applied) -> bool {
        self.complete == other.complete
            && self.stack == other.stack
            && self.resources == other.resources
            && self.objectives == other.objectives
            && self.component_objectives == other.component_objectives
            && self.retention == other.retention
    }

    /// The touched resources and, transitively, everything they depend on.
    pub fn radius(&self, touched: &BTreeSet<String>) -> BTreeSet<String> {
        let mut radius = BTreeSet::new();
        let mut todo: Vec<&String> = touched.iter().collect();
        while let Some(id) = todo.pop() {
            let Some(r) = self.resources.get(id) else {
                continue;
            };
            if radius.insert(id.clone()) {
                todo.extend(r.deps.iter());
            }
        }
        radius
    }

    /// The radius with each resource's spec hash: what a proof over it was proven on.
    pub fn proven_on(&self, radius: &BTreeSet<String>) -> BTreeMap<String, String> {
        radius
            .iter()
            .filter_map(|id| Some((id.clone(), self.resources.get(id)?.hash.clone())))
            .collect()
    }

    /// The objective an experiment touching `touched` is held to: the tightest among the
    /// touched components' own, else the deployment's.
    pub fn objective_for(&self, touched: &BTreeSet<String>) -> Objective {
        touched
            .iter()
            .filter_map(|id| self.component_objectives.get(id))
            .fold(None, |acc: Option<Objective>, o| {
                Some(acc.map_or(*o, |a| a.tightest(*o)))
            })
            .unwrap_or_default()
            .or(self.objectives)
    }
}

/// `sha256:HEX` over a radius's (id, spec hash) pairs in id order: one value that any change
/// of a resource in the radius changes and nothing outside it does.
pub fn fingerprint(proven_on: &BTreeMap<String, String>) -> String {
    let mut hash = Sha256::new();
    for (id, spec) in proven_on {
        hash.update(id.as_bytes());
        hash.update([0]);
        hash.update(spec.as_bytes());
        hash.update([0]);
    }
    format!("sha256:{}", hex(&hash.finalize()))
}

/// The logical ids of the deployment's resources that `handles` (physical ids or ARNs, as
/// actions hold them) name. Names are not used: a tier's group, launch template and role share
/// one. Where two resources share a physical id both count, which can only make a proof go
/// stale sooner, never hold longer. Instances and tasks are not resources of the stack (their
/// group or service is), so they name nothing here.
pub fn resolve_handles(
    handles: impl IntoIterator<Item = String>,
    observed: &[Observed],
) -> BTreeSet<String> {
    let mut by_handle: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for o in observed {
        for handle in [
            Some(o.physical_id.as_str()),
            o.outputs.get("arn").map(String::as_str),
        ]
        .into_iter()
        .flatten()
        .filter(|h| !h.is_empty())
        {
            by_handle.entry(handle).or_default().push(o.id.as_str());
        }
    }
    handles
        .into_iter()
        .filter_map(|h| by_handle.get(h.as_str()))
        .flatten()
        .map(|id| id.to_string())
        .collect()
}

/// Every string an experiment's actions hold (kill-az keys its subnets by id, so map keys too).
pub fn action_handles(actions: &[Action]) -> Vec<String> {
    fn leaves(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    out.push(k.clone());
                    leaves(item, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for action in actions {
        if let Ok(value) = serde_json::to_value(action) {
            leaves(&value, &mut out);
        }
    }
    out
}

/// The logical ids of what a failure mode targets, whatever a run then picks among them: the
/// same for every run of the mode, so its radius is too. Components by the logical ids the
/// inventory's names come from (`tier.web.asg`, `db.main`, `cache.sessions`, `svc.api`,
/// `table.orders`); a zone's subnets through `observed`.
pub fn fault_touches(fault: &Fault, inv: &Inventory, observed: &[Observed]) -> BTreeSet<String> {
    let groups = |tiers: &[String]| -> Vec<String> {
        inv.groups
            .iter()
            .filter(|g| tiers.is_empty() || tiers.contains(&g.tier))
            .map(|g| format!("tier.{}.asg", g.tier))
            .collect()
    };
    let ids: Vec<String> = match fault {
        Fault::KillInstance { tiers, .. } => groups(tiers),
        Fault::Latency { on, .. } | Fault::PacketLoss { on, .. } | Fault::CpuStress { on, .. } => {
            groups(&on.tiers)
        }
        Fault::KillAz { zone, .. } => {
            let mut out = groups(&[]);
            let in_zone = |subnet: &str| {
                inv.subnet_zones
                    .get(subnet)
                    .is_some_and(|z| zone.as_ref().is_none_or(|want| want == z))
            };
            out.extend(
                observed
                    .iter()
                    .filter(|o| o.kind == Kind::Subnet && in_zone(&o.physical_id))
                    .map(|o| o.id.clone()),
            );
            out.extend(
                inv.databases
                    .iter()
                    .filter(|d| d.multi_az)
                    .map(|d| format!("db.{}", d.name)),
            );
            out.extend(
                inv.caches
                    .iter()
                    .filter(|c| c.automatic_failover)
                    .map(|c| format!("cache.{}", c.name)),
            );
            out.extend(inv.services.iter().map(|s| format!("svc.{}", s.name)));
            out
        }
        Fault::RdsFailover { databases } => inv
            .databases
            .iter()
            .filter(|d| d.multi_az && (databases.is_empty() || databases.contains(&d.name)))
            .map(|d| format!("db.{}", d.name))
            .collect(),
        Fault::DocdbFailover { documents } => inv
            .documents
            .iter()
            .filter(|d| d.instances >= 2 && (documents.is_empty() || documents.contains(&d.name)))
            .map(|d| format!("docdb.{}", d.name))
            .collect(),
        Fault::CacheFailover { caches, .. } => inv
            .caches
            .iter()
            .filter(|c| caches.is_empty() || caches.contains(&c.name))
            .map(|c| format!("cache.{}", c.name))
            .collect(),
        Fault::KillTask { services, .. } => inv
            .services
            .iter()
            .filter(|s| services.is_empty() || services.contains(&s.name))
            .map(|s| format!("svc.{}", s.name))
            .collect(),
        Fault::PauseReplication { tables, .. } => inv
            .tables
            .iter()
            .filter(|t| !t.replicas.is_empty() && (tables.is_empty() || tables.contains(&t.name)))
            .map(|t| format!("table.{}", t.name))
            .collect(),
    };
    ids.into_iter().collect()
}

/// A failure mode's name: the experiment and its stack-level targets (`kill-az us-east-1a`,
/// `kill-instance web`, `rds-failover main`). A run of the same fault with other options (how
/// many instances, which seed) proves the same mode; `zone` is the one a kill-az picked when
/// none was named.
pub fn failure_mode(fault: &Fault, inv: &Inventory, zone: Option<&str>) -> String {
    let names = |given: &[String], all: Vec<String>| -> String {
        let mut v: Vec<String> = if given.is_empty() {
            all
        } else {
            given.to_vec()
        };
        v.sort();
        v.dedup();
        v.join(",")
    };
    let tiers =
        |given: &[String]| names(given, inv.groups.iter().map(|g| g.tier.clone()).collect());
    match fault {
        Fault::KillInstance { tiers: t, .. } => format!("kill-instance {}", tiers(t)),
        Fault::Latency { on, .. } => format!("latency {}", tiers(&on.tiers)),
        Fault::PacketLoss { on, .. } => format!("packet-loss {}", tiers(&on.tiers)),
        Fault::CpuStress { on, .. } => format!("cpu-stress {}", tiers(&on.tiers)),
        Fault::KillAz { zone: given, .. } => format!(
            "kill-az {}",
            given.as_deref().or(zone).unwrap_or("(a zone)")
        ),
        Fault::RdsFailover { databases } => format!(
            "rds-failover {}",
            names(
                databases,
                inv.databases
                    .iter()
                    .filter(|d| d.multi_az)
                    .map(|d| d.name.clone())
                    .collect()
            )
        ),
        Fault::DocdbFailover { documents } => format!(
            "docdb-failover {}",
            names(
                documents,
                inv.documents
                    .iter()
                    .filter(|d| d.instances >= 2)
                    .map(|d| d.name.clone())
                    .collect()
            )
        ),
        Fault::CacheFailover { caches, .. } => format!(
            "cache-failover {}",
            names(
                caches,
                inv.caches
                    .iter()
                    .filter(|c| c.automatic_failover)
                    .map(|c| c.name.clone())
                    .collect()
            )
        ),
        Fault::KillTask { services, .. } => format!(
            "kill-task {}",
            names(
                services,
                inv.services.iter().map(|s| s.name.clone()).collect()
            )
        ),
        Fault::PauseReplication { tables, .. } => format!(
            "pause-replication {}",
            names(
                tables,
                inv.tables
                    .iter()
                    .filter(|t| !t.replicas.is_empty())
                    .map(|t| t.name.clone())
                    .collect()
            )
        ),
    }
}

fn ftctl_source() -> String {
    "ftctl".to_string()
}

/// A finished FIS experiment of a scheduled template, as `verify --collect` reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct FisRun {
    pub id: String,
    pub failure_mode: String,
    pub description: String,
    /// completed, stopped, failed or cancelled.
    pub status: String,
    pub reason: String,
    /// RFC 3339.
    pub started: String,
    pub seconds: f64,
}

/// One experiment's proof, as kept in the deployment's evidence bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The failure mode it proves (`failure_mode`).
    pub failure_mode: String,
    pub experiment: String,
    /// What the run did, in the design's words.
    pub targets: String,
    /// `ftctl` for a run ftctl made, `fis` for a FIS experiment read back by `verify --collect`.
    #[serde(default = "ftctl_source")]
    pub source: String,
    /// The blast radius's logical ids with the spec hash each was proven on; empty when the run
    /// could not be tied to an applied configuration (then it proves nothing lasting).
    pub radius: BTreeMap<String, String>,
    pub fingerprint: String,
    /// The journal's outcome: `recovered`, `held`, `not-recovered`, `data-lost`, ...
    pub outcome: String,
    pub passed: bool,
    #[serde(default)]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_after: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_after: Option<f64>,
    pub budget_seconds: f64,
    #[serde(default)]
    pub budget_source: String,
    /// The worst data loss measured by marker writes, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<f64>,
    /// The share of the load's requests that failed during the fault, and its p99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// The objectives the run was held to.
    #[serde(default)]
    pub objective: Objective,
    pub ftctl_version: String,
    /// When the run started (RFC 3339).
    pub at: String,
}

impl Evidence {
    /// The evidence of a finished run. `applied` is the configuration the deployment was in
    /// (none, or an unfinished apply: the evidence is kept but tied to nothing).
    pub fn from_journal(
        journal: &crate::chaos::journal::Journal,
        failure_mode: &str,
        applied: Option<&Applied>,
        touched: &BTreeSet<String>,
        objective: Objective,
    ) -> Evidence {
        let radius = match applied.filter(|a| a.complete) {
            Some(a) => a.proven_on(&a.radius(touched)),
            None => BTreeMap::new(),
        };
        let outcome = journal.outcome;
        let verdict = journal.verdict.as_ref();
        Evidence {
            failure_mode: failure_mode.to_string(),
            experiment: journal.design.experiment.clone(),
            targets: journal.design.summary.clone(),
            source: ftctl_source(),
            fingerprint: if radius.is_empty() {
                String::new()
            } else {
                fingerprint(&radius)
            },
            radius,
            outcome: outcome
                .and_then(|o| serde_json::to_value(o).ok())
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "unfinished".into()),
            passed: outcome.is_some_and(|o| o.exit_code() == 0) && journal.pending_undo.is_empty(),
            reason: journal.reason.clone(),
            detected_after: verdict.and_then(|v| v.detected_after),
            recovered_after: verdict.and_then(|v| v.recovered_after),
            budget_seconds: journal.design.budget.seconds,
            budget_source: journal.design.budget.source.clone(),
            rpo_seconds: journal
                .markers
                .iter()
                .map(|m| m.rpo_seconds)
                .fold(None, |acc: Option<f64>, r| {
                    Some(acc.map_or(r, |a| a.max(r)))
                }),
            error_rate: journal.load.as_ref().map(|l| l.fault_error_rate),
            p99_ms: journal.load.as_ref().map(|l| l.fault_p99_ms),
            objective,
            ftctl_version: env!("CARGO_PKG_VERSION").to_string(),
            at: journal.started.clone(),
        }
    }

    /// The evidence of a finished FIS experiment (`verify --collect`): FIS says whether it ran
    /// to its end (`completed`) or was stopped or failed, not how long recovery took. It is
    /// tied to the applied configuration only when nothing was applied since it started.
    pub fn from_fis(
        fis: &FisRun,
        applied: Option<&Applied>,
        touched: &BTreeSet<String>,
    ) -> Evidence {
        let tied = applied.filter(|a| a.complete && a.at.as_str() <= fis.started.as_str());
        let radius = tied
            .map(|a| a.proven_on(&a.radius(touched)))
            .unwrap_or_default();
        Evidence {
            failure_mode: fis.failure_mode.clone(),
            experiment: fis
                .failure_mode
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string(),
            targets: format!("FIS experiment {}: {}", fis.id, fis.description),
            source: "fis".into(),
            fingerprint: if radius.is_empty() {
                String::new()
            } else {
                fingerprint(&radius)
            },
            radius,
            outcome: fis.status.clone(),
            passed: fis.status == "completed",
            reason: fis.reason.clone(),
            detected_after: None,
            recovered_after: None,
            budget_seconds: fis.seconds,
            budget_source: "the FIS experiment's length".into(),
            rpo_seconds: None,
            error_rate: None,
            p99_ms: None,
            objective: applied
                .map(|a| a.objective_for(touched))
                .unwrap_or_default(),
            ftctl_version: env!("CARGO_PKG_VERSION").to_string(),
            at: fis.started.clone(),
        }
    }

    /// The resources of its radius whose configuration is no longer what it was proven on
    /// (changed, or gone), against what was last applied.
    pub fn changed_since(&self, applied: &Applied) -> Vec<String> {
        self.radius
            .iter()
            .filter(|(id, hash)| applied.resources.get(*id).map(|r| &r.hash) != Some(*hash))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// For people: `passed 2026-11-30, recovered in 48 s of 300 s`.
    pub fn describe(&self) -> String {
        let day = self.at.get(..10).unwrap_or(&self.at);
        let how = match self.recovered_after {
            Some(r) => format!("recovered in {r:.0} s of {:.0} s", self.budget_seconds),
            None => self.outcome.clone(),
        };
        format!(
            "{} {day}, {how}",
            if self.passed { "passed" } else { "failed" }
        )
    }
}

/// How old something is, for people: `40 s`, `12 min`, `3 h`, `2 d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// The newest proof of each failure mode.
pub fn latest(evidence: &[Evidence]) -> BTreeMap<&str, &Evidence> {
    let mut latest: BTreeMap<&str, &Evidence> = BTreeMap::new();
    for e in evidence {
        let newer = latest
            .get(e.failure_mode.as_str())
            .is_none_or(|seen| e.at > seen.at);
        if newer {
            latest.insert(&e.failure_mode, e);
        }
    }
    latest
}

/// A passing proof a change (or drift) invalidates, and the resources in its radius that
/// changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stale<'a> {
    pub evidence: &'a Evidence,
    pub changed: Vec<String>,
}

/// The newest passing proofs of each failure mode that `changed` reaches: a resource in its
/// radius that a plan creates, updates, replaces or deletes (or that drifted), or — given the
/// planned configuration — one whose planned spec is no longer the one it was proven on.
pub fn invalidated_by<'a>(
    changed: &BTreeSet<String>,
    planned: Option<&Applied>,
    evidence: &'a [Evidence],
) -> Vec<Stale<'a>> {
    latest(evidence)
        .into_values()
        .filter(|e| e.passed && !e.radius.is_empty())
        .filter_map(|e| {
            let hit: Vec<String> = e
                .radius
                .iter()
                .filter(|(id, hash)| {
                    changed.contains(*id)
                        || planned
                            .is_some_and(|p| p.resources.get(*id).map(|r| &r.hash) != Some(*hash))
                })
                .map(|(id, _)| id.clone())
                .collect();
            (!hit.is_empty()).then_some(Stale {
                evidence: e,
                changed: hit,
            })
        })
        .collect()
}

/// For people, under a plan: each proof a change invalidates (`what`: "This change
/// invalidates", "Drift reaches the blast radius of") and the resources of its radius that
/// changed. Empty when there is none.
pub fn stale_text(stale: &[Stale<'_>], what: &str) -> String {
    if stale.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n{what} {} passing proof{}:\n",
        stale.len(),
        if stale.len() == 1 { "" } else { "s" }
    );
    for s in stale {
        out.push_str(&format!(
            "  {} ({}): {} in its blast radius\n",
            s.evidence.failure_mode,
            s.evidence.describe(),
            s.changed.join(", ")
        ));
    }
    out.push_str("Run them again once applied: ftctl verify --stale\n");
    out
}

/// Where a failure mode stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "standing", rename_all = "kebab-case")]
pub enum Standing {
    /// Its newest run passed on the configuration applied now.
    Proven,
    /// Its newest run failed (on this configuration or another).
    Failed,
    /// Its newest run passed, but on another configuration of these resources.
    Stale { changed: Vec<String> },
    /// Its newest run passed but was tied to no applied configuration.
    Untied,
    /// Never run.
    Missing,
}

impl Standing {
    pub fn label(&self) -> &'static str {
        match self {
            Standing::Proven => "proven",
            Standing::Failed => "failed",
            Standing::Stale { .. } => "stale",
            Standing::Untied => "untied",
            Standing::Missing => "missing",
        }
    }
}

/// A failure mode the deployment has (what `chaos list` derives), its radius now and its
/// standing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeStanding {
    pub failure_mode: String,
    pub command: String,
    /// The logical ids of its blast radius in the configuration applied now.
    pub radius: Vec<String>,
    #[serde(flatten)]
    pub standing: Standing,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// Each failure mode (name, command, touched logical ids) with its newest evidence judged
/// against the applied configuration.
pub fn standings(
    modes: &[(String, String, BTreeSet<String>)],
    applied: Option<&Applied>,
    evidence: &[Evidence],
) -> Vec<ModeStanding> {
    let newest = latest(evidence);
    modes
        .iter()
        .map(|(mode, command, touched)| {
            let radius = applied
                .map(|a| a.radius(touched))
                .unwrap_or_else(|| touched.clone());
            let e = newest.get(mode.as_str()).copied();
            let standing = match (e, applied.filter(|a| a.complete)) {
                (None, _) => Standing::Missing,
                (Some(e), _) if !e.passed => Standing::Failed,
                (Some(e), _) if e.radius.is_empty() => Standing::Untied,
                (Some(_), None) => Standing::Untied,
                (Some(e), Some(a)) => match e.changed_since(a) {
                    changed if changed.is_empty() => Standing::Proven,
                    changed => Standing::Stale { changed },
                },
            };
            ModeStanding {
                failure_mode: mode.clone(),
                command: command.clone(),
                radius: radius.into_iter().collect(),
                standing,
                evidence: e.cloned(),
            }
        })
        .collect()
}

/// The resilience score: the share of the derived failure modes with valid passing evidence,
/// each weighted by the share of the deployment's resources its blast radius covers. With `n`
/// resources and failure modes `m` of radius `r(m)`: `Σ r(m)/n · proven(m) / Σ r(m)/n`, which
/// is `Σ r(m)·proven(m) / Σ r(m)`, from 0 to 1; a deployment with no failure mode scores 0.
pub fn score(modes: &[ModeStanding]) -> f64 {
    let total: usize = modes.iter().map(|m| m.radius.len()).sum();
    if total == 0 {
        return 0.0;
    }
    let proven: usize = modes
        .iter()
        .filter(|m| m.standing == Standing::Proven)
        .map(|m| m.radius.len())
        .sum();
    proven as f64 / total as f64
}

#[cfg(test)]
mod tests;
