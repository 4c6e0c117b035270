//! The verdict over a timeline of steady / not-steady probes. Pure, so every edge (recovery
//! exactly at the budget, flapping, never steady before the fault) is unit-tested.

use serde::{Deserialize, Serialize};

/// One probe reduced to what the verdict needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds since the run started.
    pub at: f64,
    pub steady: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Still watching.
    Pending,
    /// Steady again within the budget, and it held for the settle time.
    Recovered,
    /// Not steady (for good) within the budget.
    NotRecovered,
    /// The last probe before the fault was not steady: the experiment must not run.
    NotSteadyBefore,
    /// Gray failure: every probe while the fault ran was steady; nothing needed to heal.
    Held,
    /// Gray failure: a probe while the fault ran was not steady (`Verdict::degraded` says which
    /// and when).
    Degraded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: Status,
    /// Seconds from the injection to the first probe that saw the fault; none when every probe
    /// after it was steady (the system absorbed it faster than one poll).
    pub detected_after: Option<f64>,
    /// Seconds from the injection to the start of the final steady stretch: the MTTR.
    pub recovered_after: Option<f64>,
    pub budget: f64,
    /// How many times steady state came back and was lost again after the fault.
    pub relapses: u32,
    /// Gray failure: the first probe that showed the degradation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<Degradation>,
}

/// What the first unsteady probe of a gray failure saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    /// Seconds from the injection to that probe.
    pub after: f64,
    /// Why it was not steady (serving counts, statuses, alarms in ALARM).
    pub problems: Vec<String>,
    /// The alarms that were in ALARM then.
    pub alarms: Vec<String>,
}

/// One probe as a gray-failure verdict reads it: its time, why it was not steady (empty when
/// steady) and the alarms in ALARM.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    pub at: f64,
    pub problems: &'a [String],
    pub alarms: &'a [String],
}

/// Judges a gray failure: nothing is lost, so steady state must hold while it runs. Held once
/// the fault has ended (`ended_at`) with every probe from the injection to then steady;
/// degraded at the first probe in that span that was not. Probes after the end do not count
/// against it (they are the rollback's). `duration` is reported as the budget.
pub fn hold(
    readings: &[Reading],
    injected_at: f64,
    ended_at: Option<f64>,
    duration: f64,
) -> Verdict {
    let mut verdict = Verdict {
        status: Status::Pending,
        detected_after: None,
        recovered_after: None,
        budget: duration,
        relapses: 0,
        degraded: None,
    };
    let before = readings.iter().rev().find(|r| r.at < injected_at);
    if !before.is_some_and(|r| r.problems.is_empty()) {
        verdict.status = Status::NotSteadyBefore;
        return verdict;
    }
    let during = readings
        .iter()
        .filter(|r| r.at >= injected_at && ended_at.is_none_or(|end| r.at <= end));
    if let Some(first) = during.clone().find(|r| !r.problems.is_empty()) {
        verdict.status = Status::Degraded;
        verdict.detected_after = Some(first.at - injected_at);
        verdict.degraded = Some(Degradation {
            after: first.at - injected_at,
            problems: first.problems.to_vec(),
            alarms: first.alarms.to_vec(),
        });
        return verdict;
    }
    if ended_at.is_some() && during.count() > 0 {
        verdict.status = Status::Held;
    }
    verdict
}

/// Judges the timeline so far. `points` are in time order; `injected_at` is when the first
/// fault action was sent. Recovery is the start of the last steady stretch, and it counts only
/// once that stretch has lasted `settle` seconds, so a flapping system is not called recovered
/// on its first good probe. Recovery exactly at the budget passes.
pub fn assess(points: &[Point], injected_at: f64, budget: f64, settle: f64) -> Verdict {
    let mut verdict = Verdict {
        status: Status::Pending,
        detected_after: None,
        recovered_after: None,
        budget,
        relapses: 0,
        degraded: None,
    };
    let before = points.iter().rev().find(|p| p.at < injected_at);
    if !before.is_some_and(|p| p.steady) {
        verdict.status = Status::NotSteadyBefore;
        return verdict;
    }
    let after: Vec<&Point> = points.iter().filter(|p| p.at >= injected_at).collect();
    let Some(last) = after.last() else {
        return verdict;
    };
    verdict.detected_after = after.iter().find(|p| !p.steady).map(|p| p.at - injected_at);
    let mut seen_unsteady = false;
    for pair in after.windows(2) {
        seen_unsteady |= !pair[0].steady;
        if seen_unsteady && pair[0].steady && !pair[1].steady {
            verdict.relapses += 1;
        }
    }
    let elapsed = last.at - injected_at;
    if !last.steady {
        if elapsed > budget {
            verdict.status = Status::NotRecovered;
        }
        return verdict;
    }
    // The final steady stretch starts after the last unsteady probe.
    let start = match after.iter().rposition(|p| !p.steady) {
        Some(i) => after[i + 1].at,
        None => after[0].at,
    };
    let mttr = start - injected_at;
    verdict.recovered_after = Some(mttr);
    if mttr > budget {
        verdict.status = Status::NotRecovered;
    } else if last.at - start >= settle {
        verdict.status = Status::Recovered;
    }
    verdict
}
