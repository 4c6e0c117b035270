//! The record of one experiment run: its settings, every probe and event, the verdict and what
//! is still to undo. Written as JSON while the run goes (so a killed run still says what to
//! put back) and rendered as the report.

use super::design::{Design, Undo};
use super::verdict::{Point, Reading, Status, Verdict};
use super::{Inventory, Snapshot};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Seconds between probes.
    pub interval: f64,
    /// How long steady state must hold before it counts as recovered.
    pub settle: f64,
    /// How long the fault lasts before what it changed is put back; none: until the verdict.
    pub duration: Option<f64>,
    /// Alarm names that abort the run when they go to ALARM.
    pub stop_on: Vec<String>,
    /// How long to wait for steady state after rollback.
    pub after_timeout: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub at: f64,
    /// inject, rollback, fault-ended, stop-condition, interrupted, probe-error, error.
    pub kind: String,
    pub detail: String,
    pub ok: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Recovered,
    NotRecovered,
    /// Not steady before: nothing was injected.
    Refused,
    /// Stopped by a stop condition, Ctrl-C, or an error; rolled back.
    Aborted,
    /// Gray failure: steady state held while the fault ran.
    Held,
    /// Gray failure: a probe or an alarm showed the degradation while the fault ran.
    Degraded,
    /// Acknowledged writes were lost beyond the recovery point objective.
    DataLost,
    /// The load's error rate or p99 during the fault went past its limits, however the
    /// deployment healed.
    UsersNoticed,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Recovered | Outcome::Held => 0,
            Outcome::NotRecovered
            | Outcome::Degraded
            | Outcome::DataLost
            | Outcome::UsersNoticed => 1,
            Outcome::Refused | Outcome::Aborted => 2,
        }
    }
}

/// Whether steady state came back after rollback.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AfterRollback {
    pub steady: bool,
    pub at: f64,
    pub problems: Vec<String>,
}

/// Everything about a run: written as JSON, rendered as the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub ftctl_version: String,
    pub deployment: String,
    pub stack: String,
    pub target: String,
    /// Wall-clock start (RFC 3339); every `at` is seconds after it.
    pub started: String,
    pub design: Design,
    pub settings: Settings,
    pub injected_at: Option<f64>,
    pub fault_ended_at: Option<f64>,
    pub probes: Vec<JournalProbe>,
    pub events: Vec<Event>,
    /// Changes made and not yet undone; empty at the end of a clean run.
    pub pending_undo: Vec<Undo>,
    pub verdict: Option<Verdict>,
    pub after_rollback: Option<AfterRollback>,
    pub outcome: Option<Outcome>,
    pub reason: String,
    /// What the marker writer showed of the data written during the run, table by table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<super::markers::MarkerReport>,
    /// What the load showed users would have felt, when load was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<super::load::LoadReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalProbe {
    #[serde(flatten)]
    pub snapshot: Snapshot,
    pub steady: bool,
    pub problems: Vec<String>,
}

impl Journal {
    pub fn new(
        inv: &Inventory,
        target: &str,
        started: String,
        design: Design,
        settings: Settings,
    ) -> Self {
        Journal {
            ftctl_version: env!("CARGO_PKG_VERSION").to_string(),
            deployment: inv.env.clone(),
            stack: inv.stack.clone(),
            target: target.to_string(),
            started,
            design,
            settings,
            injected_at: None,
            fault_ended_at: None,
            probes: Vec::new(),
            events: Vec::new(),
            pending_undo: Vec::new(),
            verdict: None,
            after_rollback: None,
            outcome: None,
            reason: String::new(),
            markers: Vec::new(),
            load: None,
        }
    }

    /// Every probe as the gray-failure verdict reads it.
    pub fn readings(&self) -> Vec<Reading<'_>> {
        self.probes
            .iter()
            .map(|p| Reading {
                at: p.snapshot.at,
                problems: &p.problems,
                alarms: &p.snapshot.alarms_firing,
            })
            .collect()
    }

    pub fn points(&self) -> Vec<Point> {
        self.probes
            .iter()
            .map(|p| Point {
                at: p.snapshot.at,
                steady: p.steady,
            })
            .collect()
    }
}

pub fn describe_verdict(v: &Verdict) -> String {
    let budget = v.budget;
    match (v.status, v.recovered_after) {
        (Status::Recovered, Some(t)) if v.detected_after.is_none() => format!(
            "recovered within budget: no probe saw the fault; steady {t:.1} s after it (budget {budget:.0} s)"
        ),
        (Status::Recovered, Some(t)) => {
            format!("recovered within budget: steady again {t:.1} s after the fault (budget {budget:.0} s)")
        }
        (Status::NotRecovered, Some(t)) => {
            format!("not recovered within budget: steady only {t:.1} s after the fault (budget {budget:.0} s)")
        }
        (Status::NotRecovered, None) => {
            format!("not recovered within budget: still not steady after {budget:.0} s")
        }
        (Status::NotSteadyBefore, _) => "not in steady state before the fault".to_string(),
        (Status::Held, _) => format!(
            "held: every probe while the fault ran ({budget:.0} s) was steady and no alarm fired; nothing needed to heal"
        ),
        (Status::Degraded, _) => match &v.degraded {
            Some(d) => format!(
                "degraded {:.1} s into the fault: {}{}",
                d.after,
                d.problems.join("; "),
                if d.alarms.is_empty() {
                    String::new()
                } else {
                    format!(" (alarms in ALARM: {})", d.alarms.join(", "))
                }
            ),
            None => "degraded while the fault ran".to_string(),
        },
        _ => "undecided".to_string(),
    }
}
