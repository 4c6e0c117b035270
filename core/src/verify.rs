//! A game day's record (`ftctl verify`): each failure mode it ran or skipped, what each run
//! measured against the objectives it was held to, the standings afterwards and the resilience
//! score, rendered as one Markdown report with a table per failure mode. Pure: the command
//! runs the experiments and writes what this renders.

use crate::evidence::{score, Evidence, ModeStanding, Standing};
use serde::Serialize;
use std::fmt::Write;

/// How the score is computed, as the report and the README print it.
pub const SCORE_DEFINITION: &str = "score = Σ r(m) · proven(m) / Σ r(m) over the failure modes m that `ftctl chaos list` derives for the deployment, where r(m) is the number of resources in m's blast radius (what its fault touches and everything they depend on, in the configuration applied now) and proven(m) is 1 when m's newest run passed on exactly that configuration (same spec hash for every resource of the radius) and 0 otherwise: never run, failed, stale or tied to no configuration. From 0 to 1; the JSON lists every r(m) and standing, so it can be recomputed by hand.";

/// What happened to one selected failure mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// It ran; its evidence says how it went.
    Ran,
    /// It was not started: an earlier failure stopped the game day (no --keep-going).
    NotRun,
    /// Refused or ended in an error before a verdict (not steady, aborted, a failed call).
    Refused,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeRun {
    pub failure_mode: String,
    pub command: String,
    pub state: RunState,
    /// The experiment's exit code (0 passed, 1 failed, 2 refused or error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The run's own report and timeline, relative to the game day's report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl ModeRun {
    /// A failure mode that did not run, or ended before a verdict: no evidence, no report.
    pub fn without_evidence(
        failure_mode: &str,
        command: &str,
        state: RunState,
        exit_code: Option<u8>,
        note: String,
    ) -> ModeRun {
        ModeRun {
            failure_mode: failure_mode.into(),
            command: command.into(),
            state,
            exit_code,
            evidence: None,
            report: None,
            timeline: None,
            note,
        }
    }

    pub fn passed(&self) -> bool {
        self.state == RunState::Ran && self.evidence.as_ref().is_some_and(|e| e.passed)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GameDay {
    pub deployment: String,
    pub stack: String,
    pub target: String,
    pub started: String,
    pub ftctl_version: String,
    pub runs: Vec<ModeRun>,
    /// Every derived failure mode after the game day, from the evidence bucket.
    pub standings: Vec<ModeStanding>,
    pub score: f64,
    pub score_definition: &'static str,
    /// Every selected failure mode ran and passed.
    pub passed: bool,
}

impl GameDay {
    pub fn new(
        head: (&str, &str, &str, &str),
        runs: Vec<ModeRun>,
        standings: Vec<ModeStanding>,
    ) -> GameDay {
        let (deployment, stack, target, started) = head;
        GameDay {
            deployment: deployment.into(),
            stack: stack.into(),
            target: target.into(),
            started: started.into(),
            ftctl_version: env!("CARGO_PKG_VERSION").into(),
            passed: runs.iter().all(ModeRun::passed),
            score: score(&standings),
            runs,
            standings,
            score_definition: SCORE_DEFINITION,
        }
    }

    /// 0 when every selected failure mode ran and passed, 1 when one failed, 2 when one was
    /// refused or did not run for an error (not for an earlier failure).
    pub fn exit_code(&self) -> u8 {
        if self.passed {
            return 0;
        }
        if self.runs.iter().any(|r| r.state == RunState::Refused) {
            return 2;
        }
        1
    }
}

fn secs(v: Option<f64>) -> String {
    v.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "-".into())
}

fn held(measured: Option<f64>, objective: Option<f64>) -> &'static str {
    match (measured, objective) {
        (Some(m), Some(o)) if m <= o => "held",
        (Some(_), Some(_)) => "MISSED",
        (None, Some(_)) => "not measured",
        _ => "-",
    }
}

/// The rows measured vs objective of one run.
fn measured_table(e: &Evidence, out: &mut String) {
    let o = &e.objective;
    let _ = writeln!(out, "| measure | measured | objective | |");
    let _ = writeln!(out, "|---|---|---|---|");
    let _ = writeln!(out, "| time to detect | {} | - | |", secs(e.detected_after));
    let recovered = if e.recovered_after.is_some() {
        secs(e.recovered_after)
    } else {
        format!("not recovered ({})", e.outcome)
    };
    // Not recovered within the budget is a missed objective, not a missing measure.
    let recovery = match e.recovered_after {
        Some(r) if r <= e.budget_seconds => "held",
        _ => "MISSED",
    };
    let _ = writeln!(
        out,
        "| time to recover | {recovered} | {:.0} s budget ({}) | {recovery} |",
        e.budget_seconds, e.budget_source,
    );
    let _ = writeln!(
        out,
        "| data lost (RPO) | {} | {} | {} |",
        secs(e.rpo_seconds),
        secs(o.rpo_seconds),
        held(e.rpo_seconds, o.rpo_seconds)
    );
    let pct = |v: Option<f64>| {
        v.map(|r| format!("{:.2}%", r * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    let _ = writeln!(
        out,
        "| failed requests | {} | {} | {} |",
        pct(e.error_rate),
        pct(o.max_error_rate),
        held(e.error_rate, o.max_error_rate)
    );
    let _ = writeln!(
        out,
        "| p99 latency | {} | - | |",
        e.p99_ms
            .map(|p| format!("{p:.0} ms"))
            .unwrap_or_else(|| "-".into())
    );
}

/// The game day's report: verdict, score and its definition, one section per failure mode.
pub fn markdown(day: &GameDay) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Game day: deployment {} ({})\n",
        day.deployment, day.stack
    );
    let _ = writeln!(
        out,
        "{} on {}, started {} (ftctl {}).\n",
        if day.passed {
            "PASSED: every selected failure mode held its objectives"
        } else {
            "FAILED: not every selected failure mode held its objectives"
        },
        day.target,
        day.started,
        day.ftctl_version
    );
    let _ = writeln!(out, "## Resilience score: {:.2}\n", day.score);
    let _ = writeln!(out, "{}\n", SCORE_DEFINITION);
    let _ = writeln!(out, "| failure mode | standing | radius | last run |");
    let _ = writeln!(out, "|---|---|---|---|");
    for s in &day.standings {
        let last = s
            .evidence
            .as_ref()
            .map(Evidence::describe)
            .unwrap_or_else(|| "never".into());
        let standing = match &s.standing {
            Standing::Stale { changed } => format!("stale ({} changed)", changed.join(", ")),
            other => other.label().to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {standing} | {} | {last} |",
            s.failure_mode,
            s.radius.len()
        );
    }
    let _ = writeln!(out, "\n## This game day\n");
    for r in &day.runs {
        let _ = writeln!(out, "### {}\n", r.failure_mode);
        let _ = writeln!(out, "`{}`\n", r.command);
        match (&r.state, &r.evidence) {
            (RunState::Ran, Some(e)) => {
                let _ = writeln!(
                    out,
                    "**{}**: {}{}\n",
                    if e.passed { "passed" } else { "FAILED" },
                    e.outcome,
                    if e.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", e.reason)
                    }
                );
                measured_table(e, &mut out);
                let _ = writeln!(
                    out,
                    "\nBlast radius: {} resources, fingerprint `{}`.",
                    e.radius.len(),
                    if e.fingerprint.is_empty() {
                        "none (no applied configuration)"
                    } else {
                        &e.fingerprint
                    }
                );
            }
            (RunState::NotRun, _) => {
                let _ = writeln!(out, "Not run: {}.", r.note);
            }
            _ => {
                let _ = writeln!(
                    out,
                    "Refused or stopped before a verdict (exit {}){}.",
                    r.exit_code.unwrap_or(2),
                    if r.note.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.note)
                    }
                );
            }
        }
        if let Some(report) = &r.report {
            let _ = writeln!(out, "\nIts report: [{report}]({report}).");
        }
        if let Some(svg) = &r.timeline {
            let _ = writeln!(out, "\n![timeline of {}]({svg})", r.failure_mode);
        }
        let _ = writeln!(out);
    }
    out
}

/// A game day as an e-mail: subject, plain text (the summary table and each run's line) and the
/// same as HTML.
pub fn mail(day: &GameDay) -> (String, String, String) {
    let verdict = if day.passed { "PASSED" } else { "FAILED" };
    let subject = format!(
        "ftctl game day {verdict}: deployment {} ({}), resilience score {:.2}",
        day.deployment, day.stack, day.score
    );
    let mut text = format!(
        "Game day on deployment {} ({}) in {}, started {}: {verdict}.\nResilience score {:.2}.\n\n",
        day.deployment, day.stack, day.target, day.started, day.score
    );
    let mut rows = String::new();
    for r in &day.runs {
        let result = match (&r.state, &r.evidence) {
            (RunState::Ran, Some(e)) => e.describe(),
            (RunState::NotRun, _) => format!("not run: {}", r.note),
            _ => format!("refused or stopped (exit {})", r.exit_code.unwrap_or(2)),
        };
        let _ = writeln!(text, "  {:<28} {result}", r.failure_mode);
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td></tr>",
            html_escape(&r.failure_mode),
            html_escape(&result)
        );
    }
    let _ = writeln!(text, "\nEvery failure mode of the deployment:");
    let mut standing_rows = String::new();
    for s in &day.standings {
        let last = s
            .evidence
            .as_ref()
            .map(Evidence::describe)
            .unwrap_or_else(|| "never run".into());
        let _ = writeln!(
            text,
            "  {:<28} {:<8} radius {:>3}  {last}",
            s.failure_mode,
            s.standing.label(),
            s.radius.len()
        );
        let _ = write!(
            standing_rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&s.failure_mode),
            s.standing.label(),
            s.radius.len(),
            html_escape(&last)
        );
    }
    let _ = writeln!(text, "\n{SCORE_DEFINITION}");
    let html = format!(
        "<html><body><h2>{}</h2><p>Resilience score <b>{:.2}</b></p>\
         <h3>This game day</h3><table border=\"1\" cellpadding=\"4\"><tr><th>failure mode</th><th>result</th></tr>{rows}</table>\
         <h3>Every failure mode</h3><table border=\"1\" cellpadding=\"4\"><tr><th>failure mode</th><th>standing</th><th>radius</th><th>last run</th></tr>{standing_rows}</table>\
         <p>{}</p></body></html>",
        html_escape(&subject),
        day.score,
        html_escape(SCORE_DEFINITION)
    );
    (subject, text, html)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Standing;

    fn standing(mode: &str, radius: usize, standing: Standing) -> ModeStanding {
        ModeStanding {
            failure_mode: mode.into(),
            command: format!("ftctl chaos {mode}"),
            radius: (0..radius).map(|i| format!("r{i}")).collect(),
            standing,
            evidence: None,
        }
    }

    fn run(mode: &str, state: RunState, passed: bool) -> ModeRun {
        let evidence = (state == RunState::Ran).then(|| Evidence {
            failure_mode: mode.into(),
            experiment: mode.into(),
            targets: String::new(),
            source: "ftctl".into(),
            radius: [("r0".to_string(), "sha256:x".to_string())].into(),
            fingerprint: "sha256:f".into(),
            outcome: if passed { "recovered" } else { "not-recovered" }.into(),
            passed,
            reason: String::new(),
            detected_after: Some(2.0),
            recovered_after: passed.then_some(20.0),
            budget_seconds: 60.0,
            budget_source: "alarms".into(),
            rpo_seconds: None,
            error_rate: Some(0.002),
            p99_ms: Some(80.0),
            objective: crate::stack::Objective {
                max_error_rate: Some(0.01),
                ..Default::default()
            },
            ftctl_version: "0".into(),
            at: "2026-12-03T10:00:00Z".into(),
        });
        ModeRun {
            failure_mode: mode.into(),
            command: format!("ftctl chaos {mode}"),
            state,
            exit_code: Some(if passed { 0 } else { 1 }),
            evidence,
            report: None,
            timeline: None,
            note: String::new(),
        }
    }

    #[test]
    fn the_report_carries_the_score_its_definition_and_a_table_per_mode() {
        let day = GameDay::new(
            ("t", "stage1", "local", "2026-12-03T10:00:00Z"),
            vec![
                run("kill-instance web", RunState::Ran, true),
                run("kill-az a", RunState::Ran, false),
                ModeRun {
                    note: "an earlier failure stopped the game day".into(),
                    ..run("kill-az b", RunState::NotRun, false)
                },
            ],
            vec![
                standing("kill-instance web", 3, Standing::Proven),
                standing("kill-az a", 5, Standing::Failed),
                standing("kill-az b", 2, Standing::Missing),
            ],
        );
        assert_eq!(day.score, 0.3);
        assert!(!day.passed);
        assert_eq!(day.exit_code(), 1);
        let md = markdown(&day);
        assert!(md.contains("## Resilience score: 0.30"), "{md}");
        assert!(md.contains(SCORE_DEFINITION));
        assert!(md.contains("### kill-az a"), "{md}");
        assert!(
            md.contains("| failed requests | 0.20% | 1.00% | held |"),
            "{md}"
        );
        assert!(
            md.contains("| time to recover | 20.0 s | 60 s budget (alarms) | held |"),
            "{md}"
        );
        assert!(
            md.contains("| time to recover | not recovered (not-recovered) | 60 s budget (alarms) | MISSED |"),
            "{md}"
        );
        assert!(
            md.contains("Not run: an earlier failure stopped the game day."),
            "{md}"
        );
        let passing = GameDay::new(
            ("t", "stage1", "local", "x"),
            vec![run("kill-instance web", RunState::Ran, true)],
            vec![standing("kill-instance web", 3, Standing::Proven)],
        );
        assert_eq!((passing.exit_code(), passing.score), (0, 1.0));
        let (subject, text, html) = mail(&day);
        assert!(
            subject.contains("FAILED") && subject.contains("0.30"),
            "{subject}"
        );
        assert!(
            text.contains("kill-az a") && text.contains("failed 2026-12-03, not-recovered"),
            "{text}"
        );
        assert!(
            html.contains("<td>kill-instance web</td><td>proven</td><td>3</td>"),
            "{html}"
        );
        let refused = GameDay::new(
            ("t", "stage1", "local", "x"),
            vec![run("kill-instance web", RunState::Refused, false)],
            vec![],
        );
        assert_eq!(refused.exit_code(), 2);
    }
}
