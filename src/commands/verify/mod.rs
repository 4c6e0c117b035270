//! `ftctl verify`: a game day in one command. Every failure mode `chaos list` derives (or those
//! named with `--only`, or with `--stale` those without valid passing evidence) runs one after
//! another through the same path as a single experiment — dry run, confirmation off loopback,
//! lock, steady-state check, stop conditions, rollback, abort — waiting for steady state
//! between them and stopping at the first failure unless `--keep-going`. One report (Markdown,
//! JSON, each run's timeline) says what each measured against its objectives, the standings
//! afterwards and the resilience score; the exit code says whether every objective held.
//! `standings` is also what `ftctl status` shows; `in_aws` schedules game days inside AWS.

use super::chaos::{experiment_on, inventory_observed, What};
use crate::aws::chaos::AwsLab;
use crate::aws::s3::evidence::Store;
use crate::aws::AwsCloud;
use crate::chaos::design::{self, Applicable, Fault};
use crate::chaos::Inventory;
use crate::cli::VerifyArgs;
use crate::cloud::Cloud;
use crate::evidence::{self, Applied, ModeStanding, Standing};
use crate::resource::Observed;
use crate::verify::{markdown, GameDay, ModeRun, RunState};
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod in_aws;

/// A failure mode: what `chaos list` offers, its name and the logical ids its fault touches.
type Mode = (Applicable, String, BTreeSet<String>);

/// The failure modes the deployment has.
fn modes(inv: &Inventory, observed: &[Observed]) -> Vec<Mode> {
    design::applicable(inv)
        .into_iter()
        .map(|a| {
            let mode = evidence::failure_mode(&a.fault, inv, None);
            let touched = evidence::fault_touches(&a.fault, inv, observed);
            (a, mode, touched)
        })
        .collect()
}

/// The failure modes `--only` names (each exactly, or every mode of an experiment); all of
/// them without it. A name that matches none is refused.
fn select<'a>(derived: &'a [Mode], only: &[String], env: &str) -> Result<Vec<&'a Mode>, String> {
    let matches = |m: &str, o: &str| m == o || m.starts_with(&format!("{o} "));
    let unknown: Vec<&str> = only
        .iter()
        .filter(|o| !derived.iter().any(|(_, m, _)| matches(m, o)))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "--only {} names no failure mode of deployment {env} (it has: {})",
            unknown.join(", "),
            derived
                .iter()
                .map(|(_, m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(derived
        .iter()
        .filter(|(_, m, _)| only.is_empty() || only.iter().any(|o| matches(m, o)))
        .collect())
}

/// Where each derived failure mode stands, from the evidence bucket.
pub(super) async fn standings(
    cloud: &AwsCloud,
    inv: &Inventory,
    observed: &[Observed],
) -> Result<(String, Option<Applied>, Vec<ModeStanding>)> {
    let store = Store::of(&cloud.clients, &inv.env).await?;
    let applied = store.applied().await?;
    let latest: Vec<crate::evidence::Evidence> = store.latest().await?;
    let named: Vec<(String, String, BTreeSet<String>)> = modes(inv, observed)
        .into_iter()
        .map(|(a, mode, touched)| (mode, a.command, touched))
        .collect();
    let s = evidence::standings(&named, applied.as_ref(), &latest);
    Ok((store.uri(), applied, s))
}

/// How long a fault of this kind lasts when its command is run without options.
fn default_duration(fault: &Fault) -> Option<f64> {
    match fault {
        Fault::Latency { on, .. } | Fault::PacketLoss { on, .. } | Fault::CpuStress { on, .. } => {
            Some(on.duration as f64)
        }
        Fault::PauseReplication { duration, .. } => Some(*duration as f64),
        _ => None,
    }
}

/// Waits until a probe finds the deployment steady; gives the problems when it is still not
/// after `timeout` seconds.
async fn wait_steady(cloud: &AwsCloud, inv: &Inventory, timeout: f64) -> Result<Vec<String>> {
    let lab = AwsLab::new(cloud, inv);
    let names = lab.alarm_names.clone();
    let started = Instant::now();
    loop {
        let seen = crate::chaos::run::Lab::probe(&lab).await?;
        let problems = seen.snapshot.problems(&names);
        if problems.is_empty() || started.elapsed().as_secs_f64() >= timeout {
            return Ok(problems);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn slug(mode: &str) -> String {
    mode.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn relative(path: &Path, base: &Path) -> Option<String> {
    path.strip_prefix(base)
        .ok()
        .map(|p| p.display().to_string())
}

pub async fn run(args: VerifyArgs) -> Result<ExitCode> {
    let VerifyArgs {
        run,
        only,
        stale,
        keep_going,
        steady_timeout,
        mail_to,
        mail_from,
        schedule,
        stagger,
        unschedule,
        collect,
    } = args;
    if let Some(expression) = &schedule {
        return in_aws::schedule(&run, &only, expression, stagger).await;
    }
    if unschedule {
        return in_aws::unschedule(&run).await;
    }
    if collect {
        return in_aws::collect(&run).await;
    }
    let (cloud, inv, observed) = inventory_observed(&run.target).await?;
    let (uri, _, before) = standings(&cloud, &inv, &observed).await?;
    let derived = modes(&inv, &observed);
    let selected = match select(&derived, &only, &inv.env) {
        Ok(s) => s,
        Err(refused) => {
            eprintln!("refused: {refused}");
            return Ok(ExitCode::from(2));
        }
    };
    let selected: Vec<&(Applicable, String, BTreeSet<String>)> = selected
        .into_iter()
        .filter(|(_, m, _)| {
            !stale
                || before
                    .iter()
                    .find(|s| &s.failure_mode == m)
                    .is_none_or(|s| s.standing != Standing::Proven)
        })
        .collect();
    let started = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let compact: String = started
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let dir = run.report_dir.clone().unwrap_or_else(|| {
        PathBuf::from("chaos-reports").join(format!("{}-verify-{compact}Z", inv.env))
    });
    let say = |text: &str| {
        if run.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    };
    say(&format!(
        "Game day on deployment {} ({}) in {}: {} of {} failure modes{}; evidence in {uri}.",
        inv.env,
        inv.stack,
        cloud.target(),
        selected.len(),
        derived.len(),
        if stale {
            " (those without valid passing evidence)"
        } else {
            ""
        }
    ));
    for (a, mode, _) in &selected {
        say(&format!("  {mode}: {}", a.command));
    }
    if run.dry_run {
        say("Dry run: each experiment's design follows; nothing is changed.\n");
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating report directory {}", dir.display()))?;

    let mut runs = Vec::new();
    let mut stop: Option<String> = None;
    for (a, mode, _) in &selected {
        if let Some(why) = &stop {
            runs.push(ModeRun::without_evidence(
                mode,
                &a.command,
                RunState::NotRun,
                None,
                why.clone(),
            ));
            continue;
        }
        say(&format!("\n=== {mode} ==="));
        if !run.dry_run {
            let problems = wait_steady(&cloud, &inv, steady_timeout).await?;
            if !problems.is_empty() {
                let note = format!(
                    "the deployment was not steady after {steady_timeout:.0} s: {}",
                    problems.join("; ")
                );
                say(&format!("refused: {note}"));
                runs.push(ModeRun::without_evidence(
                    mode,
                    &a.command,
                    RunState::Refused,
                    Some(2),
                    note,
                ));
                if !keep_going {
                    stop = Some(format!("{mode} was refused first"));
                }
                continue;
            }
        }
        let mut one = run.clone();
        one.json = false;
        one.progress_to_stderr = run.json;
        one.report_dir = Some(dir.join(slug(mode)));
        let ran = experiment_on(
            &one,
            What::Fault(a.fault.clone()),
            default_duration(&a.fault),
            cloud.clone(),
            inv.clone(),
            &observed,
        )
        .await;
        let record = match ran {
            Ok(ran) => {
                // Evidence is written once a run reaches a verdict; without it, it was refused.
                let state = if ran.evidence.is_some() {
                    RunState::Ran
                } else {
                    RunState::Refused
                };
                ModeRun {
                    failure_mode: mode.clone(),
                    command: a.command.clone(),
                    state,
                    exit_code: Some(ran.code),
                    timeline: ran
                        .report
                        .as_ref()
                        .and_then(|r| relative(&r.with_file_name("timeline.svg"), &dir)),
                    report: ran.report.as_ref().and_then(|r| relative(r, &dir)),
                    evidence: ran.evidence,
                    note: String::new(),
                }
            }
            Err(e) => ModeRun::without_evidence(
                mode,
                &a.command,
                RunState::Refused,
                Some(2),
                format!("{e:#}"),
            ),
        };
        if run.dry_run {
            continue;
        }
        let failed = !record.passed();
        runs.push(record);
        if failed && !keep_going {
            stop = Some(format!(
                "{mode} failed first and --keep-going was not given"
            ));
        }
    }
    if run.dry_run {
        say("\nDry run: nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }

    let (_, _, after) = standings(&cloud, &inv, &observed).await?;
    let day = GameDay::new(
        (&inv.env, &inv.stack, &cloud.target(), &started),
        runs,
        after,
    );
    let md_path = dir.join("verify.md");
    std::fs::write(&md_path, markdown(&day))
        .with_context(|| format!("writing {}", md_path.display()))?;
    let json_path = dir.join("verify.json");
    let doc = serde_json::to_string_pretty(&day)?;
    std::fs::write(&json_path, format!("{doc}\n"))
        .with_context(|| format!("writing {}", json_path.display()))?;
    if run.json {
        println!("{doc}");
    }
    if let (false, Some(from)) = (mail_to.is_empty(), &mail_from) {
        let (subject, text, html) = crate::verify::mail(&day);
        match crate::aws::ses::send(&cloud.clients, from, &mail_to, &subject, &text, &html).await {
            Ok(id) => say(&format!(
                "Mailed the report to {} from {from} (SES message {id}).",
                mail_to.join(", ")
            )),
            // The game day stands: its report is on disk whatever SES said.
            Err(e) => eprintln!("warning: the report was not mailed: {e:#}"),
        }
    }
    say(&format!(
        "\nGame day {}: {} of {} selected failure modes passed; resilience score {:.2}.\nReport: {} (JSON: {})",
        if day.passed { "PASSED" } else { "FAILED" },
        day.runs.iter().filter(|r| r.passed()).count(),
        day.runs.len(),
        day.score,
        md_path.display(),
        json_path.display()
    ));
    Ok(ExitCode::from(day.exit_code()))
}
