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
