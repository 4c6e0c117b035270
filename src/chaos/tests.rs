//! The experiment loop against a scripted lab: rollback on failure, stop conditions, Ctrl-C,
//! fault duration and refusal when not steady, with no cloud behind it.

use super::design::{self, Action, AzMode, Fault, Undo};
use super::fixtures::{degraded, healthy_fleet, inventory, observation, settings, steady};
use super::journal::{Event, Journal, Outcome, Settings};
use super::run::{Lab, Runner, Sink, Watcher};
use super::*;
use std::collections::VecDeque;
use std::sync::Mutex;

struct ScriptedLab {
    script: Mutex<VecDeque<Observation>>,
    log: Mutex<Vec<String>>,
    fail_action: Option<String>,
}

impl ScriptedLab {
    fn new(script: Vec<Observation>) -> Self {
        ScriptedLab {
            script: Mutex::new(script.into()),
            log: Mutex::new(Vec::new()),
            fail_action: None,
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Lab for ScriptedLab {
    async fn probe(&self) -> anyhow::Result<Observation> {
        let mut script = self.script.lock().unwrap();
        let next = if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        };
        Ok(next.expect("a script"))
    }

    async fn act(&self, action: &Action) -> anyhow::Result<()> {
        let text = action.describe();
        if self
            .fail_action
            .as_ref()
            .is_some_and(|f| text.contains(f.as_str()))
        {
            anyhow::bail!("AccessDenied: not allowed");
        }
        self.log.lock().unwrap().push(format!("act {text}"));
        Ok(())
    }

    async fn undo(&self, undo: &Undo) -> anyhow::Result<()> {
        self.log
            .lock()
            .unwrap()
            .push(format!("undo {}", undo.describe()));
        Ok(())
    }
}

struct Quiet;
impl Watcher for Quiet {
    fn probe(&self, _: &Snapshot, _: super::run::Phase) {}
    fn event(&self, _: &Event) {}
}

#[derive(Default)]
struct Saves(Mutex<usize>);
impl Sink for Saves {
    fn save(&self, _: &Journal) {
        *self.0.lock().unwrap() += 1;
    }
}

/// Runs `design` quietly from `base` through `lab`, with `settings`.
async fn run_design(
    lab: &ScriptedLab,
    inv: &crate::chaos::Inventory,
    design: crate::chaos::design::Design,
    base: crate::chaos::Observation,
    settings: Settings,
    interrupt: tokio::sync::watch::Receiver<bool>,
    saves: &Saves,
) -> Journal {
    let runner = Runner {
        lab,
        watcher: &Quiet,
        sink: saves,
        deployment_alarms: inv.alarms.iter().map(|a| a.name.clone()).collect(),
        interrupt,
    };
    runner
        .run(
            Journal::new(inv, "test", "now".into(), design, settings),
            base,
        )
        .await
}

async fn run_kill_az(
    lab: &ScriptedLab,
    settings: Settings,
    interrupt: tokio::sync::watch::Receiver<bool>,
) -> Journal {
    let inv = inventory();
    let base = steady();
    let design = design::design(
        &Fault::KillAz {
            zone: Some("az-a".into()),
            mode: AzMode::Stop,
        },
        &inv,
        &base,
        Some(0.3),
    )
    .unwrap();
    let saves = Saves::default();
    let journal = run_design(lab, &inv, design, base, settings, interrupt, &saves).await;
    assert!(
        *saves.0.lock().unwrap() > 2,
        "the journal is saved as it grows"
    );
    journal
}

fn quiet_interrupt() -> (
    tokio::sync::watch::Sender<bool>,
    tokio::sync::watch::Receiver<bool>,
) {
    tokio::sync::watch::channel(false)
}

#[tokio::test]
async fn a_run_that_heals_passes_and_rolls_back_everything() {
    let lab = ScriptedLab::new(vec![degraded(), degraded(), steady()]);
    let (_tx, rx) = quiet_interrupt();
    let j = run_kill_az(&lab, settings(), rx).await;
    assert_eq!(j.outcome, Some(Outcome::Recovered), "{}", j.reason);
    let v = j.verdict.as_ref().unwrap();
    assert!(v.detected_after.is_some() && v.recovered_after.is_some());
    assert!(j.pending_undo.is_empty());
    let log = lab.log();
    let undos: Vec<&String> = log.iter().filter(|l| l.starts_with("undo")).collect();
    assert_eq!(undos.len(), 4, "{log:?}");
    assert!(
        undos[0].contains("start"),
        "newest change undone first: {log:?}"
    );
    assert!(j.after_rollback.as_ref().unwrap().steady);
}

#[tokio::test]
async fn a_run_that_never_heals_fails_and_still_rolls_back() {
    let lab = ScriptedLab::new(vec![degraded()]);
    let (_tx, rx) = quiet_interrupt();
    let j = run_kill_az(&lab, settings(), rx).await;
    assert_eq!(j.outcome, Some(Outcome::NotRecovered));
    assert_eq!(j.outcome.unwrap().exit_code(), 1);
    assert_eq!(
        lab.log().iter().filter(|l| l.starts_with("undo")).count(),
        4
    );
    let after = j.after_rollback.unwrap();
    assert!(!after.steady);
    assert!(
        after.problems.join("; ").contains("web: 1 of 3 serving"),
        "{:?}",
        after.problems
    );
}

#[tokio::test]
async fn a_stop_condition_aborts_and_rolls_back() {
    let alarmed = observation(
        healthy_fleet()
            .into_iter()
            .filter(|i| i.zone != "az-a")
            .collect(),
        "az-a",
        &["t-alarm-tier-web-capacity"],
    );
    let lab = ScriptedLab::new(vec![degraded(), alarmed, steady()]);
    let (_tx, rx) = quiet_interrupt();
    let j = run_kill_az(&lab, settings(), rx).await;
    assert_eq!(j.outcome, Some(Outcome::Aborted));
    assert!(j.reason.contains("stop condition"), "{}", j.reason);
    assert_eq!(
        lab.log().iter().filter(|l| l.starts_with("undo")).count(),
        4
    );
}

#[tokio::test]
async fn ctrl_c_aborts_and_rolls_back() {
    let lab = ScriptedLab::new(vec![degraded()]);
    let (tx, rx) = quiet_interrupt();
    let mut s = settings();
    s.interval = 0.05;
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        tx.send(true).unwrap();
        tx
    });
    let j = run_kill_az(&lab, s, rx).await;
    let _ = stopper.await;
    assert_eq!(j.outcome, Some(Outcome::Aborted));
    assert!(j.reason.contains("interrupted"), "{}", j.reason);
    assert_eq!(
        lab.log().iter().filter(|l| l.starts_with("undo")).count(),
        4
    );
}

#[tokio::test]
async fn a_failed_injection_undoes_what_was_done_and_nothing_more() {
    let mut lab = ScriptedLab::new(vec![degraded()]);
    lab.fail_action = Some("stop".into());
    let (_tx, rx) = quiet_interrupt();
    let j = run_kill_az(&lab, settings(), rx).await;
    assert_eq!(j.outcome, Some(Outcome::Aborted));
    assert!(j.reason.contains("AccessDenied"), "{}", j.reason);
    let log = lab.log();
    assert!(
        !log.iter().any(|l| l.contains("reboot")),
        "nothing after the failure: {log:?}"
    );
    // The stop was recorded for undo before it was sent, so rollback starts them anyway
    // (a half-applied stop is still a stop); both zone lists and the subnets' ACLs are restored.
    assert_eq!(
        log.iter().filter(|l| l.starts_with("undo")).count(),
        4,
        "{log:?}"
    );
}

#[tokio::test]
async fn the_fault_ends_after_its_duration() {
    let lab = ScriptedLab::new(vec![
        degraded(),
        degraded(),
        degraded(),
        degraded(),
        degraded(),
        degraded(),
        steady(),
    ]);
    let (_tx, rx) = quiet_interrupt();
    let mut s = settings();
    s.duration = Some(0.02);
    let j = run_kill_az(&lab, s, rx).await;
    assert!(j.fault_ended_at.is_some());
    assert!(j.events.iter().any(|e| e.kind == "fault-ended"));
    let log = lab.log();
    let first_undo = log.iter().position(|l| l.starts_with("undo")).unwrap();
    assert_eq!(
        log.iter().filter(|l| l.starts_with("undo")).count(),
        4,
        "undone once: {log:?}"
    );
    assert!(first_undo >= 5, "{log:?}");
}

#[tokio::test]
async fn a_run_with_nothing_to_put_back_does_not_wait_again_after_its_verdict() {
    // Terminated instances cannot be put back: once the verdict is in, one look at the
    // deployment is enough, however long --after-timeout is.
    let lab = ScriptedLab::new(vec![degraded()]);
    let inv = inventory();
    let base = steady();
    let fault = Fault::KillInstance {
        tiers: vec!["web".into()],
        count: None,
        percent: None,
        instances: vec![],
        seed: None,
    };
    let design = design::design(&fault, &inv, &base, Some(0.1)).unwrap();
    let mut s = settings();
    s.after_timeout = 3600.0;
    let (_tx, rx) = quiet_interrupt();
    let saves = Saves::default();
    let j = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        run_design(&lab, &inv, design, base, s, rx, &saves),
    )
    .await
    .expect("the run ended without waiting out --after-timeout");
    assert_eq!(j.outcome, Some(Outcome::NotRecovered));
    assert!(!lab.log().iter().any(|l| l.starts_with("undo")));
    let verdict_probe = j
        .probes
        .iter()
        .position(|p| p.snapshot.at - j.injected_at.unwrap() > 0.1)
        .expect("a probe past the budget");
    assert_eq!(
        j.probes.len(),
        verdict_probe + 2,
        "one probe after the verdict's"
    );
    let after = j.after_rollback.unwrap();
    assert!(!after.steady);
}

#[tokio::test]
async fn an_unsteady_start_is_refused_without_touching_anything() {
    let lab = ScriptedLab::new(vec![steady()]);
    let inv = inventory();
    let base = degraded();
    let design = design::design(
        &Fault::KillAz {
            zone: Some("az-b".into()),
            mode: AzMode::Terminate,
        },
        &inv,
        &steady(),
        Some(5.0),
    )
    .unwrap();
    let (_tx, rx) = quiet_interrupt();
    let saves = Saves::default();
    let runner = Runner {
        lab: &lab,
        watcher: &Quiet,
        sink: &saves,
        deployment_alarms: vec![],
        interrupt: rx,
    };
    let j = runner
        .run(
            Journal::new(&inv, "test", "now".into(), design, settings()),
            base,
        )
        .await;
    assert_eq!(j.outcome, Some(Outcome::Refused));
    assert_eq!(j.outcome.unwrap().exit_code(), 2);
    assert!(lab.log().is_empty());
    assert!(j.reason.contains("web: 1 of 3 serving"), "{}", j.reason);
}

// ---------- gray failures: judged by whether steady state held ----------

async fn run_latency(lab: &ScriptedLab, settings: Settings) -> Journal {
    let inv = inventory();
    let base = steady();
    let fault = Fault::Latency {
        on: design::gray::Share {
            tiers: vec!["web".into()],
            count: None,
            percent: None,
            seed: Some("fixed".into()),
            duration: 60,
        },
        delay_ms: 100,
        jitter_ms: 10,
    };
    let design = design::design(&fault, &inv, &base, None).unwrap();
    let (_tx, rx) = quiet_interrupt();
    run_design(lab, &inv, design, base, settings, rx, &Saves::default()).await
}

#[tokio::test]
async fn a_gray_failure_that_stays_steady_holds_for_its_duration_then_is_cancelled() {
    let lab = ScriptedLab::new(vec![steady()]);
    let mut s = settings();
    s.duration = Some(0.05);
    let j = run_latency(&lab, s).await;
    assert_eq!(j.outcome, Some(Outcome::Held), "{}", j.reason);
    assert_eq!(j.outcome.unwrap().exit_code(), 0);
    assert!(j.reason.starts_with("held"), "{}", j.reason);
    assert!(j.fault_ended_at.is_some(), "watched until the fault's end");
    let log = lab.log();
    assert!(
        log[0].starts_with("act run AWSFIS-Run-Network-Latency-Sources"),
        "{log:?}"
    );
    assert!(
        log[1].starts_with("undo cancel AWSFIS-Run-Network-Latency-Sources"),
        "{log:?}"
    );
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(j.pending_undo.is_empty());
}

#[tokio::test]
async fn a_gray_failure_that_an_alarm_shows_is_degraded_and_rolled_back_at_once() {
    let alarmed = observation(healthy_fleet(), "az-a", &["t-alarm-tier-web-healthy-hosts"]);
    let lab = ScriptedLab::new(vec![steady(), alarmed, steady()]);
    let mut s = settings();
    s.duration = Some(30.0);
    s.stop_on.clear();
    let j = run_latency(&lab, s).await;
    assert_eq!(j.outcome, Some(Outcome::Degraded), "{}", j.reason);
    assert_eq!(j.outcome.unwrap().exit_code(), 1);
    let d = j.verdict.as_ref().unwrap().degraded.as_ref().unwrap();
    assert_eq!(d.alarms, vec!["t-alarm-tier-web-healthy-hosts"]);
    assert!(
        j.reason
            .contains("alarm t-alarm-tier-web-healthy-hosts is in ALARM"),
        "{}",
        j.reason
    );
    assert!(
        j.fault_ended_at.unwrap() < 30.0,
        "stopped before its duration"
    );
    assert!(lab.log().iter().any(|l| l.starts_with("undo cancel")));
    assert!(j.after_rollback.as_ref().unwrap().steady);
}
