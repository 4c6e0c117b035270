//! Running an experiment: baseline, inject, watch, verdict, rollback, check again. The cloud is
//! behind `Lab`, so the whole loop (including rollback on failure, stop conditions and Ctrl-C)
//! is unit-tested with a scripted lab.

use super::design::{Action, Start, Undo};
use super::journal::Outcome;
use super::journal::{describe_verdict, AfterRollback, Event, Journal, JournalProbe};
use super::verdict;
use super::verdict::Status;
use super::{Observation, Snapshot};
use async_trait::async_trait;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Where experiments act: reads the deployment's state and makes or undoes one change.
#[async_trait]
pub trait Lab: Send + Sync {
    /// One probe of the deployment; `at` is filled in by the runner.
    async fn probe(&self) -> anyhow::Result<Observation>;
    async fn act(&self, action: &Action) -> anyhow::Result<()>;
    async fn undo(&self, undo: &Undo) -> anyhow::Result<()>;
}

/// Where in the run a probe was taken, for progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Watching the fault and the recovery: seconds since the injection, and the budget.
    Fault { since: f64, budget: f64 },
    /// Waiting for steady state after a rollback: seconds since it started, and the bound.
    Settling { since: f64, timeout: f64 },
    /// The one look at the end of a run that had nothing to roll back.
    Final,
}

/// Shows progress while watching.
pub trait Watcher: Send + Sync {
    fn probe(&self, snapshot: &Snapshot, phase: Phase);
    fn event(&self, event: &Event);
}

/// Saves the journal as it grows, so a run killed midway still says what to undo.
pub trait Sink: Send + Sync {
    fn save(&self, journal: &Journal);
}

struct Clock(Instant);

impl Clock {
    fn now(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

pub struct Runner<'a> {
    pub lab: &'a dyn Lab,
    pub watcher: &'a dyn Watcher,
    pub sink: &'a dyn Sink,
    /// Alarm names of the deployment: any of them in ALARM is not steady.
    pub deployment_alarms: Vec<String>,
    pub interrupt: watch::Receiver<bool>,
}

/// Which part of the run a probe belongs to (see `Phase`).
#[derive(Clone, Copy)]
enum Stage {
    Watch,
    Settle(f64),
    Final,
}

enum Stop {
    Verdict,
    Abort(String),
}

impl Runner<'_> {
    async fn observe(
        &self,
        journal: &mut Journal,
        clock: &Clock,
        stage: Stage,
    ) -> Option<JournalProbe> {
        match self.lab.probe().await {
            Ok(obs) => {
                let mut snapshot = obs.snapshot;
                snapshot.at = clock.now();
                let problems = snapshot.problems(&self.deployment_alarms);
                let probe = JournalProbe {
                    steady: problems.is_empty(),
                    problems,
                    snapshot,
                };
                let at = probe.snapshot.at;
                let phase = match stage {
                    Stage::Settle(start) => Phase::Settling {
                        since: at - start,
                        timeout: journal.settings.after_timeout,
                    },
                    Stage::Watch => Phase::Fault {
                        since: at - journal.injected_at.unwrap_or(0.0),
                        budget: journal.design.budget.seconds,
                    },
                    Stage::Final => Phase::Final,
                };
                self.watcher.probe(&probe.snapshot, phase);
                journal.probes.push(probe.clone());
                Some(probe)
            }
            Err(e) => {
                // A failed read is not a fault of the system under test: record it, skip it.
                self.record(journal, clock, "probe-error", format!("{e:#}"), false);
                None
            }
        }
    }

    fn record(&self, journal: &mut Journal, clock: &Clock, kind: &str, detail: String, ok: bool) {
        let event = Event {
            at: clock.now(),
            kind: kind.to_string(),
            detail,
            ok,
        };
        self.watcher.event(&event);
        journal.events.push(event);
        self.sink.save(journal);
    }

    async fn pause(&mut self, seconds: f64) -> bool {
        let sleep = tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.0)));
        tokio::select! {
            _ = sleep => false,
            _ = self.interrupt.wait_for(|v| *v) => true,
        }
    }

    fn interrupted(&self) -> bool {
        *self.interrupt.borrow()
    }

    /// Undoes every recorded change, newest first. An undo that still fails after a few tries
    /// stays in `pending_undo`, so the journal says what is left changed.
    async fn rollback(&self, journal: &mut Journal, clock: &Clock) {
        let pending = std::mem::take(&mut journal.pending_undo);
        let mut left = Vec::new();
        for undo in pending.into_iter().rev() {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.lab.undo(&undo).await {
                    Ok(()) => {
                        self.record(journal, clock, "rollback", undo.describe(), true);
                        break;
                    }
                    Err(e) if attempt < 3 => {
                        tracing::warn!("rollback {} failed, retrying: {e:#}", undo.describe());
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => {
                        let detail = format!("{}: {e:#}", undo.describe());
                        self.record(journal, clock, "rollback", detail, false);
                        left.push(undo);
                        break;
                    }
                }
            }
        }
        left.reverse();
        journal.pending_undo = left;
        self.sink.save(journal);
    }

    /// Runs the designed experiment. `baseline` is the probe the design was made from.
    pub async fn run(mut self, mut journal: Journal, baseline: Observation) -> Journal {
        let clock = Clock(Instant::now());
        let mut snapshot = baseline.snapshot;
        snapshot.at = clock.now();
        let problems = snapshot.problems(&self.deployment_alarms);
        journal.probes.push(JournalProbe {
            steady: problems.is_empty(),
            problems: problems.clone(),
            snapshot,
        });
        if !problems.is_empty() {
            journal.outcome = Some(Outcome::Refused);
            journal.reason = format!(
                "not in steady state before the fault: {}",
                problems.join("; ")
            );
            journal.verdict = Some(verdict::assess(
                &journal.points(),
                f64::INFINITY,
                journal.design.budget.seconds,
                0.0,
            ));
            self.sink.save(&journal);
            return journal;
        }

        // Inject what starts now (everything, but for a scenario's later steps), recording each
        // undo before the change it undoes is made.
        journal.injected_at = Some(clock.now());
        let schedule = journal.design.schedule();
        let mut next = 0;
        let failed = self
            .inject_due(&mut journal, &clock, &schedule, &mut next)
            .await;

        let stop = match failed {
            Some(reason) => Stop::Abort(reason),
            None => self.watch(&mut journal, &clock, &schedule, &mut next).await,
        };
        for start in &schedule[next..] {
            self.record(
                &mut journal,
                &clock,
                "step-skipped",
                format!(
                    "{} (due at +{} s) was not started: the run ended first",
                    start.label, start.at
                ),
                true,
            );
        }
        let injected_at = journal.injected_at.unwrap_or(0.0);
        let gray = !journal.design.expects_healing();
        let verdict = if gray {
            verdict::hold(
                &journal.readings(),
                injected_at,
                journal.fault_ended_at,
                journal.design.budget.seconds,
            )
        } else {
            verdict::assess(
                &journal.points(),
                injected_at,
                journal.design.budget.seconds,
                journal.settings.settle,
            )
        };
        match stop {
            Stop::Verdict if gray && verdict.status == Status::Pending => {
                journal.outcome = Some(Outcome::Aborted);
                journal.reason = "no probe read the deployment while the fault ran".into();
            }
            Stop::Verdict => {
                journal.outcome = Some(match verdict.status {
                    Status::Recovered => Outcome::Recovered,
                    Status::Held => Outcome::Held,
                    Status::Degraded => Outcome::Degraded,
                    _ => Outcome::NotRecovered,
                });
                journal.reason = describe_verdict(&verdict);
            }
            Stop::Abort(reason) => {
                journal.outcome = Some(Outcome::Aborted);
                journal.reason = reason;
            }
        }
        journal.verdict = Some(verdict);
        self.sink.save(&journal);

        // Wait for steady state only when something is put back now: a fault with nothing to
        // undo (terminated instances) or one already undone at the end of its duration was
        // watched for its whole budget already, and waiting that long again shows nothing new.
        let after = if journal.pending_undo.is_empty() {
            self.final_look(&mut journal, &clock).await
        } else {
            self.rollback(&mut journal, &clock).await;
            if journal.fault_ended_at.is_none() {
                journal.fault_ended_at = Some(clock.now());
            }
            self.settle_after(&mut journal, &clock).await
        };
        journal.after_rollback = Some(after);
        self.sink.save(&journal);
        journal
    }

    /// Sends the actions of every start that is due (`next` onwards), in order. The reason the
    /// run must stop when one fails or the run is interrupted midway.
    async fn inject_due(
        &self,
        journal: &mut Journal,
        clock: &Clock,
        schedule: &[Start],
        next: &mut usize,
    ) -> Option<String> {
        let injected_at = journal.injected_at.unwrap_or(0.0);
        while let Some(start) = schedule.get(*next) {
            if clock.now() - injected_at < start.at {
                return None;
            }
            *next += 1;
            if schedule.len() > 1 {
                self.record(
                    journal,
                    clock,
                    "step",
                    format!("{} starts (+{} s)", start.label, start.at),
                    true,
                );
            }
            let actions = journal.design.actions[start.actions.clone()].to_vec();
            for action in &actions {
                if self.interrupted() {
                    return Some("interrupted before every action was sent".to_string());
                }
                if let Some(undo) = action.undo() {
                    journal.pending_undo.push(undo);
                    self.sink.save(journal);
                }
                match self.lab.act(action).await {
                    Ok(()) => self.record(journal, clock, "inject", action.describe(), true),
                    Err(e) => {
                        let msg = format!("{}: {e:#}", action.describe());
                        self.record(journal, clock, "inject", msg.clone(), false);
                        return Some(format!("injection failed: {msg}"));
                    }
                }
            }
        }
        None
    }

    async fn watch(
        &mut self,
        journal: &mut Journal,
        clock: &Clock,
        schedule: &[Start],
        next: &mut usize,
    ) -> Stop {
        let injected_at = journal.injected_at.unwrap_or(0.0);
        let budget = journal.design.budget.seconds;
        let settings = journal.settings.clone();
        // The first probe goes out right after the injection, so detection is timed from it.
        let mut first = true;
        loop {
            let interrupted = if first {
                self.interrupted()
            } else {
                self.pause(settings.interval).await || self.interrupted()
            };
            first = false;
            if interrupted {
                self.record(
                    journal,
                    clock,
                    "interrupted",
                    "Ctrl-C: stopping the experiment".into(),
                    true,
                );
                return Stop::Abort("interrupted by the user".to_string());
            }
            if let (Some(d), None) = (settings.duration, journal.fault_ended_at) {
                if clock.now() - injected_at >= d {
                    self.rollback(journal, clock).await;
                    journal.fault_ended_at = Some(clock.now());
                    self.record(
                        journal,
                        clock,
                        "fault-ended",
                        format!("the fault lasted its {d} s: everything it changed is put back"),
                        true,
                    );
                }
            }
            if journal.fault_ended_at.is_none() {
                if let Some(reason) = self.inject_due(journal, clock, schedule, next).await {
                    return Stop::Abort(reason);
                }
            }
            let Some(probe) = self.observe(journal, clock, Stage::Watch).await else {
                if clock.now() - injected_at > budget + settings.settle + 60.0 {
                    return Stop::Abort("the deployment could not be read: giving up".into());
                }
                continue;
            };
            if let Some(alarm) = settings
                .stop_on
                .iter()
                .find(|a| probe.snapshot.alarms_firing.contains(a))
            {
                let reason = format!("stop condition: alarm {alarm} is in ALARM");
                self.record(journal, clock, "stop-condition", reason.clone(), true);
                return Stop::Abort(reason);
            }
            if !journal.design.expects_healing() {
                // A gray failure stops at its first unsteady probe (a guarding alarm in ALARM
                // is one: every probe reads them), or once its duration is over.
                if !probe.steady || journal.fault_ended_at.is_some() {
                    return Stop::Verdict;
                }
                continue;
            }
            let v = verdict::assess(&journal.points(), injected_at, budget, settings.settle);
            // A scenario is judged once its last step has started and had the settle time to
            // show, unless the budget is already spent.
            let all_started = *next >= schedule.len()
                && schedule
                    .last()
                    .is_none_or(|s| clock.now() - injected_at >= s.at + settings.settle);
            if v.status == Status::NotRecovered || (v.status != Status::Pending && all_started) {
                return Stop::Verdict;
            }
        }
    }

    /// One probe at the end of a run that put nothing back, so the report says how it left
    /// the deployment.
    async fn final_look(&mut self, journal: &mut Journal, clock: &Clock) -> AfterRollback {
        match self.observe(journal, clock, Stage::Final).await {
            Some(probe) => AfterRollback {
                steady: probe.steady,
                at: probe.snapshot.at,
                problems: probe.problems,
            },
            None => AfterRollback {
                steady: false,
                at: clock.now(),
                problems: vec!["the deployment could not be read".to_string()],
            },
        }
    }

    /// After rollback: wait (bounded) for steady state, so the report says whether the
    /// deployment is whole again.
    async fn settle_after(&mut self, journal: &mut Journal, clock: &Clock) -> AfterRollback {
        let start = clock.now();
        let mut last_problems = vec!["not probed".to_string()];
        loop {
            if let Some(probe) = self.observe(journal, clock, Stage::Settle(start)).await {
                if probe.steady {
                    return AfterRollback {
                        steady: true,
                        at: probe.snapshot.at,
                        problems: Vec::new(),
                    };
                }
                last_problems = probe.problems;
            }
            if clock.now() - start >= journal.settings.after_timeout || self.interrupted() {
                return AfterRollback {
                    steady: false,
                    at: clock.now(),
                    problems: last_problems,
                };
            }
            if self.pause(journal.settings.interval).await {
                return AfterRollback {
                    steady: false,
                    at: clock.now(),
                    problems: last_problems,
                };
            }
        }
    }
}
