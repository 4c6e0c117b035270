//! `ftctl chaos ...`: read the deployment, design the experiment, run it through the AWS lab
//! (with the load and the marker writes beside it: `users`), write the journal and report
//! (`console`); `export-fis` is `fis_export`. Every failure here exits 2 (refused, aborted or
//! error), so exit 1 always means the experiment itself failed: not recovered in time, degraded,
//! data lost or users noticed.

use super::confirm;
use crate::aws::chaos::AwsLab;
use crate::aws::cloudwatch::metrics::publish_result;
use crate::aws::{endpoint_for, AwsCloud, DeleteOptions};
use crate::chaos::design::gray;
use crate::chaos::design::{self, Design, Fault, Refusal};
use crate::chaos::journal::{Event, Journal, Outcome, Settings};
use crate::chaos::run::{Phase, Runner, Sink, Watcher};
use crate::chaos::scenario::{self, Scenario};
use crate::chaos::{fis, report, Inventory, Observation, Snapshot};
use crate::cli::{
    CacheArgs, ChaosCommand, CpuArgs, DbArgs, FisExperiment, InstanceArgs, LatencyArgs, LockArgs,
    LossArgs, ReplicationArgs, RunArgs, ShareArgs, TargetArgs, TaskArgs,
};
use crate::cloud::Cloud;
use crate::deployment::{self, Deployment};
use crate::lock;
use anyhow::{anyhow, bail, Context, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

mod console;
mod fis_export;
mod users;

pub(in crate::commands) use console::state_lines;
use console::{describe_design, summary, write_report, ConsoleWatcher, FileSink, Out};
use fis_export::export_fis;

pub async fn dispatch(command: ChaosCommand) -> Result<ExitCode> {
    match command {
        ChaosCommand::List {
            target,
            json,
            export,
        } => list(&target, json, export.as_deref()).await,
        ChaosCommand::Run { run, file } => run_scenario(&run, &file).await,
        ChaosCommand::KillInstance { run, instances } => {
            let fault = instance_fault(&instances);
            experiment(&run, What::Fault(fault), None).await
        }
        ChaosCommand::KillAz { run, az } => {
            let fault = Fault::KillAz {
                zone: az.az.clone(),
                mode: az.mode.into(),
            };
            experiment(&run, What::Fault(fault), az.duration).await
        }
        ChaosCommand::RdsFailover { run, db } => {
            experiment(&run, What::Fault(db_fault(&db)), None).await
        }
        ChaosCommand::DocdbFailover { run, docs } => {
            let fault = Fault::DocdbFailover {
                documents: docs.documents.clone(),
            };
            experiment(&run, What::Fault(fault), None).await
        }
        ChaosCommand::KillTask { run, task } => {
            experiment(&run, What::Fault(task_fault(&task)), None).await
        }
        ChaosCommand::CacheFailover { run, cache } => {
            experiment(&run, What::Fault(cache_fault(&cache)), None).await
        }
        ChaosCommand::Abort { target, lock, wait } => abort(&target, &lock, wait).await,
        ChaosCommand::Latency {
            run,
            share,
            latency,
        } => gray_experiment(&run, &share, latency_fault(&share, &latency)).await,
        ChaosCommand::PacketLoss { run, share, loss } => {
            gray_experiment(&run, &share, loss_fault(&share, &loss)).await
        }
        ChaosCommand::CpuStress { run, share, cpu } => {
            gray_experiment(&run, &share, cpu_fault(&share, &cpu)).await
        }
        ChaosCommand::PauseReplication { run, replication } => {
            let duration = replication.duration;
            experiment(
                &run,
                What::Fault(replication_fault(&replication)),
                Some(duration as f64),
            )
            .await
        }
        ChaosCommand::ExportFis { experiment } => export_fis(experiment).await,
    }
}

fn replication_fault(a: &ReplicationArgs) -> Fault {
    Fault::PauseReplication {
        tables: a.tables.clone(),
        regions: a.regions.clone(),
        duration: a.duration,
    }
}

/// What an experiment runs: one fault from the command line, or a scenario file's steps.
pub(super) enum What {
    Fault(Fault),
    Scenario(Scenario),
}

impl What {
    fn design(
        &self,
        inv: &Inventory,
        baseline: &Observation,
        budget: Option<f64>,
    ) -> Result<Design, Refusal> {
        match self {
            What::Fault(fault) => design::design(fault, inv, baseline, budget),
            What::Scenario(s) => scenario::design(s, inv, baseline, budget),
        }
    }

    /// How long what can be put back stays changed, when the command line did not say: a lost
    /// zone or a scenario for its budget, long enough to see whether the rest heals and never
    /// left changed once the verdict is in.
    fn duration(&self, given: Option<f64>, design: &Design) -> Option<f64> {
        match (self, given) {
            (_, Some(d)) => Some(d),
            (What::Fault(Fault::KillAz { .. }), None) => Some(design.budget.seconds),
            (What::Scenario(s), None) => Some(s.header.duration.unwrap_or(design.budget.seconds)),
            (What::Fault(_), None) => None,
        }
    }

    /// The load limits: the command line's, else the scenario file's.
    fn load_limits(&self, run: &RunArgs) -> (Option<f64>, Option<f64>) {
        let (rate, p99) = match self {
            What::Scenario(s) => (s.header.max_error_rate, s.header.max_p99_ms),
            What::Fault(_) => (None, None),
        };
        (run.max_error_rate.or(rate), run.max_p99_ms.or(p99))
    }

    /// Stop conditions the experiment itself names, beside `--stop-on`.
    fn stop_on(&self) -> &[String] {
        match self {
            What::Scenario(s) => &s.header.stop_on,
            What::Fault(_) => &[],
        }
    }
}

/// `ftctl chaos run FILE`: the file is read and checked before anything else, so a mistake in
/// it is reported with its place and no AWS call is made.
async fn run_scenario(run: &RunArgs, file: &Path) -> Result<ExitCode> {
    let scenario = match scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    experiment(run, What::Scenario(scenario), None).await
}

fn share(a: &ShareArgs) -> gray::Share {
    gray::Share {
        tiers: a.groups.clone(),
        count: a.count,
        percent: a.percent,
        seed: a.seed.clone(),
        duration: a.duration,
    }
}

fn latency_fault(s: &ShareArgs, a: &LatencyArgs) -> Fault {
    Fault::Latency {
        on: share(s),
        delay_ms: a.delay_ms,
        jitter_ms: a.jitter_ms,
    }
}

fn loss_fault(s: &ShareArgs, a: &LossArgs) -> Fault {
    Fault::PacketLoss {
        on: share(s),
        loss_percent: a.loss_percent,
    }
}

fn cpu_fault(s: &ShareArgs, a: &CpuArgs) -> Fault {
    Fault::CpuStress {
        on: share(s),
        load_percent: a.load_percent,
    }
}

/// A gray failure: its input is checked before anything is read, and it lasts its duration.
async fn gray_experiment(run: &RunArgs, share: &ShareArgs, fault: Fault) -> Result<ExitCode> {
    if let Err(Refusal(msg)) = gray::check(&fault) {
        eprintln!("refused: {msg}");
        return Ok(ExitCode::from(2));
    }
    experiment(run, What::Fault(fault), Some(share.duration as f64)).await
}

fn instance_fault(a: &InstanceArgs) -> Fault {
    Fault::KillInstance {
        tiers: a.groups.clone(),
        count: a.count,
        percent: a.percent,
        instances: a.instances.clone(),
        seed: a.seed.clone(),
    }
}

fn db_fault(a: &DbArgs) -> Fault {
    Fault::RdsFailover {
        databases: a.databases.clone(),
    }
}

fn task_fault(a: &TaskArgs) -> Fault {
    Fault::KillTask {
        services: a.services.clone(),
        count: a.count,
        percent: a.percent,
        seed: a.seed.clone(),
    }
}

fn cache_fault(a: &CacheArgs) -> Fault {
    Fault::CacheFailover {
        caches: a.caches.clone(),
        shard: a.shard.clone(),
    }
}

/// Reads what the deployment owns; refuses when it owns nothing.
async fn inventory(target: &TargetArgs) -> Result<(AwsCloud, Inventory)> {
    let (cloud, inv, _) = inventory_observed(target).await?;
    Ok((cloud, inv))
}

/// `inventory`, with the resources it was read from (evidence names them by logical id).
pub(super) async fn inventory_observed(
    target: &TargetArgs,
) -> Result<(AwsCloud, Inventory, Vec<crate::resource::Observed>)> {
    deployment::validate_env(target.env.name()).map_err(|e| anyhow!(e))?;
    let cloud = AwsCloud::connect(target.region.as_deref(), DeleteOptions::default()).await?;
    let observed = cloud
        .observe(&Deployment {
            env: target.env.name().to_string(),
            stack: String::new(),
        })
        .await
        .with_context(|| format!("reading deployment {}", target.env.name()))?;
    let mut inv = Inventory::from_observed(target.env.name(), &observed);
    inv.region = cloud.region();
    if inv.is_empty() {
        bail!(
            "deployment {} has no group, database or cache in {}: nothing to experiment on",
            target.env.name(),
            cloud.target()
        );
    }
    Ok((cloud, inv, observed))
}

async fn list(target: &TargetArgs, json: bool, export: Option<&Path>) -> Result<ExitCode> {
    let (cloud, inv) = inventory(target).await?;
    let experiments = design::applicable(&inv);
    if let Some(dir) = export {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating export directory {}", dir.display()))?;
        for a in &experiments {
            let (name, text) = scenario::export(&inv, a);
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            // Progress on stderr, so `--json` output stays one document.
            eprintln!("wrote {}", path.display());
        }
    }
    if json {
        let doc = serde_json::json!({
            "deployment": inv.env,
            "stack": inv.stack,
            "target": cloud.target(),
            "zones": inv.zones(),
            "experiments": experiments,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Deployment {} ({}) in {}: zones {}\n",
        inv.env,
        inv.stack,
        cloud.target(),
        inv.zones().join(", ")
    );
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec!["experiment", "targets", "budget", "run it with"]);
    for e in &experiments {
        table.add_row(vec![
            e.experiment.clone(),
            e.targets.clone(),
            e.budget
                .as_ref()
                .map(|b| format!("{:.0} s", b.seconds))
                .unwrap_or_else(|| "none: pass --budget".into()),
            e.command.clone(),
        ]);
    }
    println!("{table}");
    let mut missing = Vec::new();
    if inv.caches.is_empty() {
        missing.push("cache-failover (no ElastiCache replication group)");
    }
    if inv.services.is_empty() {
        missing.push("kill-task (no ECS service)");
    }
    if !inv.tables.iter().any(|t| !t.replicas.is_empty()) {
        missing.push("pause-replication (no DynamoDB global table)");
    }
    if inv.ssm_tiers.is_empty() && !inv.groups.is_empty() {
        missing.push("latency, packet-loss, cpu-stress (no tier managed by Systems Manager)");
    }
    if !missing.is_empty() {
        println!("\nNot applicable here: {}.", missing.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `ftctl chaos abort`: asks the experiment holding the deployment's lock to stop, then waits
/// while it rolls back and releases the lock. Exit 0 once it has (or when nothing runs), 2 when
/// the lock is held by something that is not an experiment, 1 when the wait runs out.
async fn abort(target: &TargetArgs, lock_args: &LockArgs, wait: f64) -> Result<ExitCode> {
    let env = target.env.name();
    deployment::validate_env(env).map_err(|e| anyhow!(e))?;
    let cloud = AwsCloud::connect(target.region.as_deref(), DeleteOptions::default()).await?;
    let backend = super::lock_backend_in(lock_args, &cloud)?;
    let key = lock::Key {
        env: env.to_string(),
        region: cloud.region(),
    };
    let Some(holder) = lock::current(&backend, &key).await? else {
        println!(
            "No experiment runs on deployment {env} in {}: nothing to abort.",
            key.region
        );
        return Ok(ExitCode::SUCCESS);
    };
    if !holder.command.contains(" chaos ") {
        eprintln!(
            "refused: deployment {env} is locked by `{}` (lock id {}), which is not an experiment; \
             chaos abort stops experiments only",
            holder.command, holder.id
        );
        return Ok(ExitCode::from(2));
    }
    let me = lock::Holder::me("ftctl chaos abort");
    let by = format!("{}@{}, pid {}", me.user, me.host, me.pid);
    let Some(holder) = lock::request_abort(&backend, &key, &by).await? else {
        println!("The experiment on deployment {env} has just finished: nothing to abort.");
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "Asked `{}` ({} on {}, pid {}, lock id {}) to stop; waiting up to {wait:.0} s while it rolls back...",
        holder.command, holder.user, holder.host, holder.pid, holder.id
    );
    let started = std::time::Instant::now();
    loop {
        match lock::current(&backend, &key).await? {
            Some(h) if h.id == holder.id => {}
            _ => {
                println!(
                    "Stopped after {:.1} s: the experiment rolled back and released the lock (its journal and report say what it put back).",
                    started.elapsed().as_secs_f64()
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
        if holder.killed() {
            eprintln!(
                "The experiment's process (pid {}) is gone without releasing the lock: see its journal's `pending_undo` for what is still changed, then `ftctl force-unlock --env {env}`.",
                holder.pid
            );
            return Ok(ExitCode::from(1));
        }
        if started.elapsed().as_secs_f64() >= wait {
            eprintln!(
                "The experiment has not finished rolling back after {wait:.0} s; it goes on doing so (run `ftctl chaos abort` again to keep waiting)."
            );
            return Ok(ExitCode::from(1));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Loopback endpoints (the local emulators) need no confirmation; anything else is a real
/// system that somebody depends on.
pub(super) fn endpoints_are_loopback() -> bool {
    [
        "EC2",
        "AUTO_SCALING",
        "ELASTIC_LOAD_BALANCING_V2",
        "RDS",
        crate::aws::ssm::ENDPOINT_VAR,
    ]
    .iter()
    .all(|service| is_loopback_url(&endpoint_for(service)))
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host_port = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Resolves `--stop-on` keys to alarm names: a deployment alarm by name or logical id, or any
/// other existing alarm by name. Gives each alarm's name and ARN.
async fn stop_conditions(lab: &AwsLab, keys: &[String]) -> Result<BTreeMap<String, String>> {
    let names: Vec<String> = keys
        .iter()
        .map(|k| {
            lab.inventory
                .alarm(k)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| k.clone())
        })
        .collect();
    let found = lab.alarm_arns(&names).await?;
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !found.contains_key(*n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!(
            "--stop-on: no alarm named {} (the deployment's alarms: {})",
            missing.join(", "),
            lab.inventory
                .alarms
                .iter()
                .map(|a| a.logical_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(found)
}

async fn experiment(run: &RunArgs, what: What, duration: Option<f64>) -> Result<ExitCode> {
    // A bad URL is bad input: refused before anything is read.
    if let Some(Err(e)) = run.load.as_deref().map(crate::chaos::load::check_url) {
        eprintln!("refused: {e}");
        return Ok(ExitCode::from(2));
    }
    let (cloud, inv, observed) = inventory_observed(&run.target).await?;
    let ran = experiment_on(run, what, duration, cloud, inv, &observed).await?;
    Ok(ExitCode::from(ran.code))
}

/// How one experiment ended: its exit code and, when it ran, its evidence and report.
pub(super) struct Ran {
    pub code: u8,
    pub evidence: Option<crate::evidence::Evidence>,
    pub report: Option<PathBuf>,
}

impl Ran {
    fn code(code: u8) -> Ran {
        Ran {
            code,
            evidence: None,
            report: None,
        }
    }
}

/// One experiment on a deployment already read: its lock, the run and its evidence.
pub(super) async fn experiment_on(
    run: &RunArgs,
    what: What,
    duration: Option<f64>,
    cloud: AwsCloud,
    inv: Inventory,
    observed: &[crate::resource::Observed],
) -> Result<Ran> {
    if run.dry_run {
        let known = Known::read(&cloud, &inv, observed, &what).await;
        return experiment_locked(run, what, duration, cloud, inv, None, known).await;
    }
    // Held from before the baseline to the end, so no apply changes what the experiment is
    // judging (and no experiment starts under an apply); `chaos abort` reaches the run through it.
    let backend = super::lock_backend_in(&run.lock, &cloud)?;
    let key = lock::Key {
        env: inv.env.clone(),
        region: cloud.region(),
    };
    let held = lock::Lock::acquire(backend.clone(), key.clone(), &super::command_line()).await?;
    let holder = held.holder().id.clone();
    // Read under the lock: no apply can change the configuration between this and the verdict.
    let known = Known::read(&cloud, &inv, observed, &what).await;
    let ran = experiment_locked(
        run,
        what,
        duration,
        cloud,
        inv,
        Some((backend, key, holder)),
        known,
    )
    .await;
    if let Err(e) = held.release().await {
        eprintln!("warning: the deployment lock was not released: {e:#}");
    }
    ran
}

/// What the evidence bucket says before a run: the configuration the deployment is in, the
/// objectives of what the experiment touches, and the logical ids the fault itself names.
pub(super) struct Known {
    applied: Option<crate::evidence::Applied>,
    touched: std::collections::BTreeSet<String>,
    objective: crate::stack::Objective,
    observed: Vec<crate::resource::Observed>,
}

impl Known {
    async fn read(
        cloud: &AwsCloud,
        inv: &Inventory,
        observed: &[crate::resource::Observed],
        what: &What,
    ) -> Known {
        let applied = match crate::aws::s3::evidence::Store::of(&cloud.clients, &inv.env).await {
            Ok(store) => store.applied().await,
            Err(e) => Err(e),
        };
        let applied = match applied {
            Ok(a) => a,
            Err(e) => {
                eprintln!("warning: the deployment's evidence bucket could not be read, so this run is tied to no configuration: {e:#}");
                None
            }
        };
        let touched = match what {
            What::Fault(f) => crate::evidence::fault_touches(f, inv, observed),
            What::Scenario(_) => Default::default(),
        };
        let objective = applied
            .as_ref()
            .map(|a| a.objective_for(&touched))
            .unwrap_or_default();
        Known {
            applied,
            touched,
            objective,
            observed: observed.to_vec(),
        }
    }
}

/// The experiment once its lock is held (none for a dry run): baseline, design, run, report,
/// evidence.
async fn experiment_locked(
    run: &RunArgs,
    what: What,
    duration: Option<f64>,
    cloud: AwsCloud,
    mut inv: Inventory,
    held: Option<(lock::Backend, lock::Key, String)>,
    known: Known,
) -> Result<Ran> {
    // The stack's objectives stand in where the command line says nothing: the budget (of
    // faults judged on recovery), the error rate users may see, the data a table may lose.
    if let Some(applied) = &known.applied {
        for t in inv.tables.iter_mut().filter(|t| t.rpo_seconds.is_none()) {
            let id: std::collections::BTreeSet<String> = [format!("table.{}", t.name)].into();
            t.rpo_seconds = applied.objective_for(&id).rpo_seconds;
        }
    }
    let judged_on_recovery = match &what {
        What::Fault(f) => !matches!(
            f,
            Fault::Latency { .. }
                | Fault::PacketLoss { .. }
                | Fault::CpuStress { .. }
                | Fault::PauseReplication { .. }
        ),
        What::Scenario(_) => false,
    };
    let objective_budget = known.objective.rto_seconds.filter(|_| judged_on_recovery);
    let target = cloud.target();
    let mut lab = AwsLab::new(&cloud, &inv);
    let keys: Vec<String> = run.stop_on.iter().chain(what.stop_on()).cloned().collect();
    let stop_on: Vec<String> = stop_conditions(&lab, &keys).await?.into_keys().collect();
    for name in &stop_on {
        if !lab.alarm_names.contains(name) {
            lab.alarm_names.push(name.clone());
        }
    }
    let baseline = crate::chaos::run::Lab::probe(&lab).await?;
    let mut design = match what.design(&inv, &baseline, run.budget.or(objective_budget)) {
        Ok(d) => d,
        Err(Refusal(msg)) => {
            eprintln!("refused: {msg}");
            return Ok(Ran::code(2));
        }
    };
    if run.budget.is_none() && objective_budget.is_some() {
        design.budget.source = "the stack's objective rto_seconds".to_string();
    }
    // The alarms the fault is meant to set off (a paused replica's replication latency) are
    // still read and shown, but do not count against steady state.
    let expected = design::replication::expected_alarms(&design, &inv);
    let deployment_alarms: Vec<String> = inv
        .alarms
        .iter()
        .map(|a| a.name.clone())
        .filter(|name| !expected.contains(name))
        .collect();
    let problems = baseline.snapshot.problems(&deployment_alarms);
    let out = Out::new(run.json || run.progress_to_stderr);
    out.line(&describe_design(
        &inv, &target, &design, &baseline, &problems,
    ));
    if !expected.is_empty() {
        out.line(&format!(
            "Expected to go to ALARM while the fault runs (shown, not counted against steady state): {}",
            expected.join(", ")
        ));
    }

    // Said before anything runs, so the dry run says it too.
    let markers = users::marker_targets(run, &design, &inv, &cloud.clients, &out);
    let (max_error_rate, max_p99_ms) = what.load_limits(run);
    let max_error_rate = max_error_rate.or(known.objective.max_error_rate);
    let load_url = match (&run.load, run.no_load) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => None,
        (None, false) => inv.public_endpoint.clone(),
    };
    out.line(&match &load_url {
        Some(url) => format!(
            "Load: {} GET/s to {} during the steady-state check, the fault and the recovery{}{}.",
            run.load_rate,
            crate::chaos::load::redact(url),
            max_error_rate
                .map(|r| format!("; at most {:.1}% may fail", r * 100.0))
                .unwrap_or_default(),
            max_p99_ms
                .map(|ms| format!("; p99 at most {ms:.0} ms"))
                .unwrap_or_default(),
        ),
        None if run.no_load => "Load: none (--no-load).".to_string(),
        None => "Load: none: the deployment has no internet-facing load balancer; --load URL sends some.".to_string(),
    });
    if run.dry_run {
        out.line(if problems.is_empty() {
            "Dry run: nothing was changed. The deployment is steady, so the experiment would run."
        } else {
            "Dry run: nothing was changed. The deployment is NOT steady, so the experiment would be refused."
        });
        if run.json {
            let doc = serde_json::json!({
                "dry_run": true,
                "deployment": inv.env,
                "target": target,
                "design": design,
                "steady": problems.is_empty(),
                "problems": problems,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        return Ok(Ran::code(if problems.is_empty() { 0 } else { 2 }));
    }
    if !problems.is_empty() {
        eprintln!(
            "refused: deployment {} is not in steady state, so a fault now would prove nothing:\n  {}",
            inv.env,
            problems.join("\n  ")
        );
        return Ok(Ran::code(2));
    }
    if !endpoints_are_loopback() {
        confirm(
            run.yes,
            &format!("run {} against {target}", design.experiment),
        )?;
    }
    // The load starts first: users must be served well before the fault, or it proves nothing.
    let load = match users::start_load(run, load_url.as_deref(), max_error_rate).await? {
        Ok(load) => load,
        Err(refused) => return Ok(Ran::code(refused)),
    };
    let started = SystemTime::now();
    let stamp = aws_smithy_types::DateTime::from(started)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let dir = run.report_dir.clone().unwrap_or_else(|| {
        let compact: String = stamp
            .chars()
            .take(19)
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        PathBuf::from("chaos-reports").join(format!("{}-{}-{compact}Z", inv.env, design.experiment))
    });
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating report directory {}", dir.display()))?;
    let duration = what.duration(duration, &design);
    let settings = Settings {
        interval: run.interval,
        settle: run.settle,
        duration,
        stop_on,
        after_timeout: run.after_timeout.unwrap_or(design.budget.seconds),
    };
    let journal = Journal::new(&inv, &target, stamp, design, settings);
    let sink = FileSink(dir.join("journal.json"));
    sink.save(&journal);
    out.line(&format!(
        "Journal: {} (kept up to date; if ftctl is killed, `pending_undo` there lists what to put back)\n",
        sink.0.display()
    ));

    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = std::sync::Arc::new(tx);
    let ctrl_c = tokio::spawn({
        let tx = tx.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nInterrupted: rolling back (Ctrl-C again to exit at once, leaving the journal to say what is still changed).");
                let _ = tx.send(true);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        }
    });
    // `ftctl chaos abort` from elsewhere: read beside the lock between probes.
    let aborted_by = std::sync::Arc::new(Mutex::new(None::<String>));
    let abort_watch = held.map(|(backend, key, holder)| {
        let (tx, aborted_by) = (tx.clone(), aborted_by.clone());
        let every = Duration::from_secs_f64(run.interval.max(1.0));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match lock::abort_requested(&backend, &key, &holder).await {
                    Ok(Some(by)) => {
                        eprintln!("\nAbort requested by {by}: rolling back.");
                        *aborted_by.lock().unwrap_or_else(|e| e.into_inner()) = Some(by);
                        let _ = tx.send(true);
                        return;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!("could not read abort requests: {e:#}"),
                }
            }
        })
    });
    let writers = users::MarkerRun::start(markers, &inv.env, run.marker_rate);
    let watcher = ConsoleWatcher::new(run.json || run.progress_to_stderr);
    let runner = Runner {
        lab: &lab,
        watcher: &watcher,
        sink: &sink,
        deployment_alarms,
        interrupt: rx,
    };
    let runner_zero = std::time::Instant::now();
    let mut journal = runner.run(journal, baseline).await;
    if let Some(load) = load {
        users::judge_load(
            run,
            load,
            runner_zero,
            (max_error_rate, max_p99_ms),
            &mut journal,
        )
        .await;
        sink.save(&journal);
    }
    writers.judge(run, &mut journal, &sink, &out).await;
    ctrl_c.abort();
    if let Some(watch) = abort_watch {
        watch.abort();
    }
    watcher.finish();
    let by = aborted_by.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let (Some(by), Some(Outcome::Aborted)) = (by, journal.outcome) {
        journal.reason = format!("aborted by `ftctl chaos abort` ({by})");
        sink.save(&journal);
    }

    let report_path = write_report(&dir, &journal)?;
    if run.publish_metrics {
        match publish_result(&cloud.clients, &journal).await {
            Ok(()) => out.line("Published the result to CloudWatch (namespace ftctl/Chaos)."),
            Err(e) => eprintln!("warning: {e:#}"),
        }
    }
    if run.json {
        println!("{}", serde_json::to_string_pretty(&journal)?);
    }
    out.line(&summary(&journal, &report_path));
    let evidence = record_evidence(&cloud, &inv, &what, &journal, known, &out).await;
    let mut code = journal.outcome.map(Outcome::exit_code).unwrap_or(2);
    if !journal.pending_undo.is_empty() {
        // Something the experiment changed is still changed: that is an error, whatever the verdict.
        code = 2;
    }
    Ok(Ran {
        code,
        evidence,
        report: Some(report_path),
    })
}

/// Writes the run's evidence into the deployment's evidence bucket. A run whose evidence could
/// not be written still stands (its journal and report are on disk): a warning says so.
async fn record_evidence(
    cloud: &AwsCloud,
    inv: &Inventory,
    what: &What,
    journal: &Journal,
    known: Known,
    out: &Out,
) -> Option<crate::evidence::Evidence> {
    let design = &journal.design;
    let mode = match what {
        What::Fault(f) => crate::evidence::failure_mode(f, inv, design.zone.as_deref()),
        What::Scenario(s) => format!("scenario {}", s.header.name),
    };
    let mut touched = known.touched;
    touched.extend(crate::evidence::resolve_handles(
        crate::evidence::action_handles(&design.actions),
        &known.observed,
    ));
    let evidence = crate::evidence::Evidence::from_journal(
        journal,
        &mode,
        known.applied.as_ref(),
        &touched,
        known.objective,
    );
    let written = match crate::aws::s3::evidence::Store::of(&cloud.clients, &inv.env).await {
        Ok(store) => store.record(&evidence).await,
        Err(e) => Err(e),
    };
    match written {
        Ok(at) if evidence.radius.is_empty() => out.line(&format!(
            "Evidence: {at} (tied to no configuration: the deployment's last apply did not finish, or was made before ftctl kept evidence; apply the stack, then run this again)"
        )),
        Ok(at) => out.line(&format!(
            "Evidence: {at} ({}, blast radius of {} resources, {})",
            evidence.failure_mode,
            evidence.radius.len(),
            evidence.fingerprint.get(..19).unwrap_or(&evidence.fingerprint)
        )),
        Err(e) => eprintln!("warning: the run's evidence was not recorded: {e:#}"),
    }
    Some(evidence)
}
