//! Scenario files: an experiment a user writes (`ftctl chaos run FILE`) that composes ftctl's
//! faults in sequence or in parallel, against targets named by their logical ids (`tier.web`,
//! `db.main`, `cache.session`, `svc.api`). Each step is one of the derived experiments with the
//! options its command takes, and starts `at` seconds after the first one; steps with the same
//! `at` start together. Budget, duration and stop conditions come from the deployment unless the
//! file sets them, so a file stays short:
//!
//! ```toml
//! [scenario]
//! name = "zone-then-database"
//! description = "Lose a zone, then fail the database over a minute later"
//!
//! [[step]]
//! kill-az = { zone = "us-east-1a" }
//!
//! [[step]]
//! at = 60
//! rds-failover = { targets = ["db.main"] }
//! ```
//!
//! Errors name the file, line and field, like stack files' (same reader, `stack::source`).
//! `render` writes a derived experiment in this format (`chaos list --export DIR`). Pure: the
//! design of a scenario is every step's design, made from one baseline probe, so a dry run names
//! exactly what each step will touch.

use super::design::{self, gray, replication, AzMode, Budget, Design, Fault, Refusal, Step};
use super::{Inventory, Observation};
use crate::stack::source::{self, Layered, Origin};
use crate::stack::{deserialize_located, locate, write_problems, StackError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The longest wait before a step: past an hour it is two experiments, not one.
pub const MAX_AT: f64 = 3600.0;

/// A scenario file as written.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub scenario: Header,
    #[serde(default)]
    pub step: Vec<StepSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Names the report directory and the journal: lowercase letters, digits and dashes.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Recovery budget in seconds, from the first step's start [default: the latest end of a
    /// step's own budget, `at` + budget].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<f64>,
    /// Seconds until what can be put back is put back (a lost zone's network, stopped
    /// instances, running commands) [default: the budget].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Alarms (name or logical id) that stop the scenario and roll it back, beside `--stop-on`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_on: Vec<String>,
    /// What users may notice of it, beside `--max-error-rate` and `--max-p99-ms`: the share of
    /// load requests that may fail during the fault (0 to 1) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    /// ... and the p99 latency they may reach, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p99_ms: Option<f64>,
}

/// One step: when it starts and exactly one fault.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StepSpec {
    /// Seconds after the first step starts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_instance: Option<PickStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_az: Option<AzStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_failover: Option<TargetsStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docdb_failover: Option<TargetsStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_failover: Option<CacheStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_task: Option<PickStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<GrayStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_loss: Option<GrayStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_stress: Option<GrayStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_replication: Option<ReplicationStep>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// A kill-instance or kill-task step: which targets, how many of each, and the seed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PickStep {
    /// Tiers (`tier.web`) or services (`svc.api`) [default: every one].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AzStep {
    /// [default: the zone holding the most running instances]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `terminate` (the zone is gone) or `stop` (a power interruption) [default: terminate].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<AzMode>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsStep {
    /// Databases (`db.main`) [default: every Multi-AZ one].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheStep {
    /// Caches (`cache.session`) [default: every one].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// One shard (`0001`) [default: every shard].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// A pause-replication step: which tables, which replica regions, for how long.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationStep {
    /// Tables (`table.orders`) [default: every global table].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Replica regions [default: every replica].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Seconds [default: 300].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
}

/// A gray failure's step: which instances it hits, for how long, and the fault's own option
/// (`delay_ms` and `jitter_ms` for latency, `loss_percent` for packet-loss, `load_percent` for
/// cpu-stress; another fault's option is refused).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrayStep {
    /// Tiers (`tier.web`) [default: every tier Systems Manager reaches].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// Seconds [default: 300].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_percent: Option<u32>,
}

/// Defaults of the gray steps: the command line's.
const DEFAULT_GRAY_DURATION: u32 = 300;
const DEFAULT_DELAY_MS: u32 = 100;
const DEFAULT_JITTER_MS: u32 = 10;
const DEFAULT_LOSS_PERCENT: u32 = 7;
const DEFAULT_LOAD_PERCENT: u32 = 80;

/// A checked scenario: its header and each step's start and fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub header: Header,
    /// (at, fault), in file order.
    pub steps: Vec<(f64, Fault)>,
}

/// Everything wrong with a scenario file, located.
#[derive(Debug)]
pub struct ScenarioErrors(pub Vec<StackError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, "scenario", &self.0)
    }
}

impl std::error::Error for ScenarioErrors {}

/// Reads and checks a scenario file: syntax, unknown keys, types, and every rule that does not
/// need the deployment. Nothing here reads AWS.
pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
    let one = |origin: Option<Origin>, field: &str, message: String| {
        ScenarioErrors(vec![StackError {
            origin,
            field: field.to_string(),
            message,
        }])
    };
    let bytes = std::fs::read(path).map_err(|e| {
        one(
            None,
            "",
            format!("cannot read scenario file {}: {e}", path.display()),
        )
    })?;
    let text = source::decode_file(path, bytes).map_err(|e| one(Some(e.origin), "", e.message))?;
    let parsed = source::parse_file(path, &text).map_err(|e| one(Some(e.origin), "", e.message))?;
    let mut layered = Layered::new();
    layered.set_root_origin(Origin::File {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
    });
    layered.overlay(parsed);
    let file: ScenarioFile = deserialize_located(&layered).map_err(|e| ScenarioErrors(vec![e]))?;
    check(file).map_err(|problems| ScenarioErrors(locate(&layered, problems)))
}

/// The rules a scenario must keep, as (field, problem); the checked scenario when it keeps them.
pub fn check(file: ScenarioFile) -> Result<Scenario, Vec<(String, String)>> {
    let mut bad: Vec<(String, String)> = Vec::new();
    let h = &file.scenario;
    let name_ok = !h.name.is_empty()
        && h.name.len() <= 40
        && h.name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        bad.push((
            "scenario.name".into(),
            format!(
                "{:?} is not a scenario name: 1 to 40 lowercase letters, digits and dashes (it names the report directory)",
                h.name
            ),
        ));
    }
    for (field, value) in [("budget", h.budget), ("duration", h.duration)] {
        if let Some(v) = value {
            if !(v.is_finite() && v > 0.0) {
                bad.push((
                    format!("scenario.{field}"),
                    format!("{v} is not a positive number of seconds"),
                ));
            }
        }
    }
    if let Some(r) = h.max_error_rate.filter(|r| !(0.0..=1.0).contains(r)) {
        bad.push((
            "scenario.max_error_rate".into(),
            format!("{r} is not a share from 0 to 1 (0.01 is 1%)"),
        ));
    }
    if let Some(ms) = h.max_p99_ms.filter(|ms| !(ms.is_finite() && *ms > 0.0)) {
        bad.push((
            "scenario.max_p99_ms".into(),
            format!("{ms} is not a positive number of milliseconds"),
        ));
    }
    if file.step.is_empty() {
        bad.push((
            "step".into(),
            "a scenario needs at least one [[step]] (e.g. `kill-az = {}`)".into(),
        ));
    }
    let mut steps = Vec::new();
    let mut zones_lost = 0;
    for (i, s) in file.step.iter().enumerate() {
        let at_field = format!("step.{i}");
        if !(s.at.is_finite() && (0.0..=MAX_AT).contains(&s.at)) {
            bad.push((
                format!("{at_field}.at"),
                format!("{} is not a start from 0 to {MAX_AT} seconds", s.at),
            ));
        }
        if let (Some(d), true) = (h.duration, s.at.is_finite()) {
            if s.at >= d {
                bad.push((
                    format!("{at_field}.at"),
                    format!("the step starts at {} s, when the scenario's duration ({d} s) is already over", s.at),
                ));
            }
        }
        let faults = step_faults(s, i);
        match faults.len() {
            1 => {}
            0 => {
                bad.push((
                    at_field.clone(),
                    format!("a step needs one fault: one of {}", FAULT_KEYS.join(", ")),
                ));
                continue;
            }
            _ => {
                bad.push((
                    at_field.clone(),
                    format!(
                        "a step has one fault, this one has {}: split it into steps with the same `at` to run them together",
                        faults
                            .iter()
                            .map(|f| f.0)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                continue;
            }
        }
        let (key, fault) = faults.into_iter().next().expect("one fault");
        match fault {
            Ok(fault) => {
                if matches!(fault, Fault::KillAz { .. }) {
                    zones_lost += 1;
                    if zones_lost > 1 {
                        bad.push((
                            format!("{at_field}.{key}"),
                            "a scenario loses at most one zone: each kill-az step is designed from the same baseline, so a second would put the first zone back into the groups".into(),
                        ));
                    }
                }
                if let Err(Refusal(m)) = gray::check(&fault) {
                    bad.push((format!("{at_field}.{key}"), m));
                }
                steps.push((s.at, fault));
            }
            Err(problems) => bad.extend(problems),
        }
    }
    if bad.is_empty() {
        Ok(Scenario {
            header: file.scenario,
            steps,
        })
    } else {
        Err(bad)
    }
}

const FAULT_KEYS: [&str; 10] = [
    "kill-instance",
    "kill-az",
    "rds-failover",
    "docdb-failover",
    "cache-failover",
    "kill-task",
    gray::LATENCY,
    gray::PACKET_LOSS,
    gray::CPU_STRESS,
    replication::PAUSE_REPLICATION,
];

type StepFault = (&'static str, Result<Fault, Vec<(String, String)>>);

/// The faults a step names (one, when it is well formed), each turned into the fault the
/// command of the same name would make.
fn step_faults(s: &StepSpec, i: usize) -> Vec<StepFault> {
    let mut out: Vec<StepFault> = Vec::new();
    let at = |key: &str| format!("step.{i}.{key}");
    if let Some(k) = &s.kill_instance {
        let key = "kill-instance";
        out.push((key, {
            let mut bad = Vec::new();
            share_bounds(&at(key), k.count, k.percent, 100, &mut bad);
            let tiers = names(&at(key), &k.targets, "tier", "a tier", &mut bad);
            bad.is_empty()
                .then(|| Fault::KillInstance {
                    tiers,
                    count: k.count,
                    percent: k.percent,
                    instances: Vec::new(),
                    seed: k.seed.clone(),
                })
                .ok_or(bad)
        }));
    }
    if let Some(z) = &s.kill_az {
        out.push((
            "kill-az",
            Ok(Fault::KillAz {
                zone: z.zone.clone(),
                mode: z.mode.unwrap_or(AzMode::Terminate),
            }),
        ));
    }
    if let Some(d) = &s.rds_failover {
        let key = "rds-failover";
        let mut bad = Vec::new();
        let databases = names(&at(key), &d.targets, "db", "a database", &mut bad);
        out.push((
            key,
            bad.is_empty()
                .then_some(Fault::RdsFailover { databases })
                .ok_or(bad),
        ));
    }
    if let Some(d) = &s.docdb_failover {
        let key = "docdb-failover";
        let mut bad = Vec::new();
        let documents = names(
            &at(key),
            &d.targets,
            "docdb",
            "a document database",
            &mut bad,
        );
        out.push((
            key,
            bad.is_empty()
                .then_some(Fault::DocdbFailover { documents })
                .ok_or(bad),
        ));
    }
    if let Some(c) = &s.cache_failover {
        let key = "cache-failover";
        let mut bad = Vec::new();
        let caches = names(&at(key), &c.targets, "cache", "a cache", &mut bad);
        out.push((
            key,
            bad.is_empty()
                .then(|| Fault::CacheFailover {
                    caches,
                    shard: c.shard.clone(),
                })
                .ok_or(bad),
        ));
    }
    if let Some(t) = &s.kill_task {
        let key = "kill-task";
        let mut bad = Vec::new();
        share_bounds(&at(key), t.count, t.percent, 99, &mut bad);
        let services = names(&at(key), &t.targets, "svc", "an ECS service", &mut bad);
        out.push((
            key,
            bad.is_empty()
                .then(|| Fault::KillTask {
                    services,
                    count: t.count,
                    percent: t.percent,
                    seed: t.seed.clone(),
                })
                .ok_or(bad),
        ));
    }
    let gray_step = |key: &'static str, g: &GrayStep, own: &[&str]| -> StepFault {
        let mut bad = Vec::new();
        share_bounds(&at(key), g.count, g.percent, 100, &mut bad);
        let tiers = names(&at(key), &g.targets, "tier", "a tier", &mut bad);
        for (option, set) in [
            ("delay_ms", g.delay_ms.is_some()),
            ("jitter_ms", g.jitter_ms.is_some()),
            ("loss_percent", g.loss_percent.is_some()),
            ("load_percent", g.load_percent.is_some()),
        ] {
            if set && !own.contains(&option) {
                bad.push((
                    format!("{}.{option}", at(key)),
                    format!("{key} has no option {option} (it takes {})", own.join(", ")),
                ));
            }
        }
        let on = gray::Share {
            tiers,
            count: g.count,
            percent: g.percent,
            seed: g.seed.clone(),
            duration: g.duration.unwrap_or(DEFAULT_GRAY_DURATION),
        };
        let fault = match key {
            gray::LATENCY => Fault::Latency {
                on,
                delay_ms: g.delay_ms.unwrap_or(DEFAULT_DELAY_MS),
                jitter_ms: g.jitter_ms.unwrap_or(DEFAULT_JITTER_MS),
            },
            gray::PACKET_LOSS => Fault::PacketLoss {
                on,
                loss_percent: g.loss_percent.unwrap_or(DEFAULT_LOSS_PERCENT),
            },
            _ => Fault::CpuStress {
                on,
                load_percent: g.load_percent.unwrap_or(DEFAULT_LOAD_PERCENT),
            },
        };
        (key, bad.is_empty().then_some(fault).ok_or(bad))
    };
    if let Some(g) = &s.latency {
        out.push(gray_step(gray::LATENCY, g, &["delay_ms", "jitter_ms"]));
    }
    if let Some(g) = &s.packet_loss {
        out.push(gray_step(gray::PACKET_LOSS, g, &["loss_percent"]));
    }
    if let Some(g) = &s.cpu_stress {
        out.push(gray_step(gray::CPU_STRESS, g, &["load_percent"]));
    }
    if let Some(r) = &s.pause_replication {
        let key = replication::PAUSE_REPLICATION;
        let mut bad = Vec::new();
        let tables = names(&at(key), &r.targets, "table", "a table", &mut bad);
        let duration = r.duration.unwrap_or(DEFAULT_GRAY_DURATION);
        if let Err(Refusal(m)) = replication::check(duration) {
            bad.push((format!("{}.duration", at(key)), m));
        }
        out.push((
            key,
            bad.is_empty()
                .then(|| Fault::PauseReplication {
                    tables,
                    regions: r.regions.clone(),
                    duration,
                })
                .ok_or(bad),
        ));
    }
    out
}

fn share_bounds(
    at: &str,
    count: Option<u32>,
    percent: Option<u32>,
    max_percent: u32,
    bad: &mut Vec<(String, String)>,
) {
    if count.is_some() && percent.is_some() {
        bad.push((
            format!("{at}.percent"),
            "give count or percent, not both".into(),
        ));
    }
    if count == Some(0) {
        bad.push((format!("{at}.count"), "0 would touch nothing".into()));
    }
    if let Some(p) = percent.filter(|p| !(1..=max_percent).contains(p)) {
        bad.push((
            format!("{at}.percent"),
            format!("{p} is not a share from 1 to {max_percent}"),
        ));
    }
}

/// Stack names from logical ids (`tier.web` -> `web`; a tier's group `tier.web.asg` too). A
/// logical id of another kind is refused here, before anything is read.
fn names(
    at: &str,
    targets: &[String],
    prefix: &str,
    noun: &str,
    bad: &mut Vec<(String, String)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (j, t) in targets.iter().enumerate() {
        let name = t
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
            .map(|r| r.strip_suffix(".asg").unwrap_or(r));
        match name {
            Some(n) if !n.is_empty() && !n.contains('.') => out.push(n.to_string()),
            _ => bad.push((
                format!("{at}.targets.{j}"),
                format!("{t:?} is not {noun}: name it by its logical id, `{prefix}.NAME`"),
            )),
        }
    }
    out
}

/// Every step designed as its command would design it, from one baseline probe, in file order
/// (a refused step names itself). `design` combines them; the FIS export
/// (`fis::scenario_template`) writes each step on its own.
pub fn step_designs(
    scenario: &Scenario,
    inv: &Inventory,
    baseline: &Observation,
    budget_override: Option<f64>,
) -> Result<Vec<Design>, Refusal> {
    let budget_given = budget_override.or(scenario.header.budget);
    scenario
        .steps
        .iter()
        .enumerate()
        .map(|(i, (_, fault))| {
            design::design(fault, inv, baseline, budget_given).map_err(|Refusal(m)| {
                Refusal(format!("step {} ({}): {m}", i + 1, fault_key(fault)))
            })
        })
        .collect()
}

/// How a step is summed up among the others: when it starts, unless it starts first.
pub fn step_summary(at: f64, step: &Design) -> String {
    if at > 0.0 {
        format!("at +{at} s {}", step.summary)
    } else {
        step.summary.clone()
    }
}

/// The scenario's design from one baseline probe: every step designed as its command would
/// design it, their actions step by step, and a budget from the first start.
pub fn design(
    scenario: &Scenario,
    inv: &Inventory,
    baseline: &Observation,
    budget_override: Option<f64>,
) -> Result<Design, Refusal> {
    let budget_given = budget_override.or(scenario.header.budget);
    let steps = step_designs(scenario, inv, baseline, budget_override)?;
    let mut combined = Design {
        experiment: scenario.header.name.clone(),
        summary: String::new(),
        zone: None,
        tiers: Vec::new(),
        actions: Vec::new(),
        budget: Budget {
            seconds: 0.0,
            source: String::new(),
        },
        warnings: Vec::new(),
        seed: None,
        steps: Vec::new(),
    };
    let mut latest_end: Option<(f64, String)> = None;
    let mut touched: BTreeMap<String, usize> = BTreeMap::new();
    let mut summaries = Vec::new();
    // In file order, so "step N" means the same everywhere; `Design::schedule` orders the starts.
    for (i, ((at, _), step)) in scenario.steps.iter().zip(steps).enumerate() {
        for id in step.actions.iter().flat_map(touches) {
            if let Some(other) = touched.insert(id.clone(), i) {
                if other != i {
                    return Err(Refusal(format!(
                        "steps {} and {} both touch {id}: give them different targets (or seeds)",
                        other + 1,
                        i + 1
                    )));
                }
            }
        }
        let end = at + step.budget.seconds;
        if latest_end.as_ref().is_none_or(|(e, _)| end > *e) {
            latest_end = Some((
                end,
                format!(
                    "step {} ({}) at {at} s: {}",
                    i + 1,
                    step.experiment,
                    step.budget.source
                ),
            ));
        }
        if combined.zone.is_none() {
            combined.zone = step.zone.clone();
        }
        for t in &step.tiers {
            if !combined.tiers.contains(t) {
                combined.tiers.push(t.clone());
            }
        }
        combined
            .warnings
            .extend(step.warnings.iter().map(|w| format!("step {}: {w}", i + 1)));
        summaries.push(step_summary(*at, &step));
        combined.steps.push(Step {
            at: *at,
            experiment: step.experiment.clone(),
            summary: step.summary.clone(),
            seed: step.seed.clone(),
            actions: step.actions.len(),
        });
        combined.actions.extend(step.actions);
    }
    combined.summary = summaries.join("; then ");
    combined.budget = match (budget_given, latest_end) {
        (Some(seconds), _) => Budget {
            seconds,
            source: if budget_override.is_some() {
                "--budget".into()
            } else {
                "the scenario's budget".into()
            },
        },
        (None, Some((seconds, source))) => Budget {
            seconds,
            source: format!("the latest end of a step's own budget: {source}"),
        },
        (None, None) => return Err(Refusal("the scenario has no step".into())),
    };
    Ok(combined)
}

/// Instances and tasks an action acts on one by one: two steps must not share one.
fn touches(action: &design::Action) -> Vec<String> {
    use design::Action::*;
    match action {
        TerminateInstances { instances }
        | StopInstances { instances }
        | SendCommand { instances, .. } => instances.clone(),
        StopTasks { tasks, .. } => tasks.clone(),
        // Two pauses of one replica would share one policy statement.
        PauseReplication { arn, .. } => vec![arn.clone()],
        _ => Vec::new(),
    }
}

/// A fault's key in a scenario file (its command's name).
pub fn fault_key(fault: &Fault) -> &'static str {
    match fault {
        Fault::KillInstance { .. } => "kill-instance",
        Fault::KillAz { .. } => "kill-az",
        Fault::RdsFailover { .. } => "rds-failover",
        Fault::DocdbFailover { .. } => "docdb-failover",
        Fault::CacheFailover { .. } => "cache-failover",
        Fault::KillTask { .. } => "kill-task",
        Fault::Latency { .. } => gray::LATENCY,
        Fault::PacketLoss { .. } => gray::PACKET_LOSS,
        Fault::CpuStress { .. } => gray::CPU_STRESS,
        Fault::PauseReplication { .. } => replication::PAUSE_REPLICATION,
    }
}

mod write;

pub use write::{export, render, step_of};

#[cfg(test)]
mod tests;
