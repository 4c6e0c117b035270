//! `ftctl chaos ...`: read the deployment, design the experiment, run it through the AWS lab,
//! write the journal and report. Every failure here exits 2 (refused, aborted or error), so
//! exit 1 always means "did not recover within budget".

use super::confirm;
use crate::aws::chaos::AwsLab;
use crate::aws::cloudwatch::alarm_state::AlarmPlaces;
use crate::aws::cloudwatch::metrics::publish_result;
use crate::aws::dynamodb::markers::{self, Writer};
use crate::aws::{endpoint_for, AwsCloud, DeleteOptions};
use crate::chaos::design::gray;
use crate::chaos::design::{self, Design, Fault, Refusal};
use crate::chaos::journal::{Event, Journal, Outcome, Settings};
use crate::chaos::run::{Phase, Runner, Sink, Watcher};
use crate::chaos::scenario::{self, Scenario};
use crate::chaos::sender::Load;
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
enum What {
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
    Ok((cloud, inv))
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
fn endpoints_are_loopback() -> bool {
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
    let (cloud, inv) = inventory(&run.target).await?;
    if run.dry_run {
        return experiment_locked(run, what, duration, cloud, inv, None).await;
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
    let ran = experiment_locked(
        run,
        what,
        duration,
        cloud,
        inv,
        Some((backend, key, holder)),
    )
    .await;
    if let Err(e) = held.release().await {
        eprintln!("warning: the deployment lock was not released: {e:#}");
    }
    ran
}

/// The experiment once its lock is held (none for a dry run): baseline, design, run, report.
async fn experiment_locked(
    run: &RunArgs,
    what: What,
    duration: Option<f64>,
    cloud: AwsCloud,
    inv: Inventory,
    held: Option<(lock::Backend, lock::Key, String)>,
) -> Result<ExitCode> {
    let target = cloud.target();
    let mut lab = AwsLab {
        clients: cloud.clients.clone(),
        alarm_names: inv.alarms.iter().map(|a| a.name.clone()).collect(),
        alarm_places: AlarmPlaces::new(&cloud, &inv),
        inventory: inv.clone(),
    };
    let keys: Vec<String> = run.stop_on.iter().chain(what.stop_on()).cloned().collect();
    let stop_on: Vec<String> = stop_conditions(&lab, &keys).await?.into_keys().collect();
    for name in &stop_on {
        if !lab.alarm_names.contains(name) {
            lab.alarm_names.push(name.clone());
        }
    }
    let baseline = crate::chaos::run::Lab::probe(&lab).await?;
    let design = match what.design(&inv, &baseline, run.budget) {
        Ok(d) => d,
        Err(Refusal(msg)) => {
            eprintln!("refused: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    let deployment_alarms: Vec<String> = inv.alarms.iter().map(|a| a.name.clone()).collect();
    let problems = baseline.snapshot.problems(&deployment_alarms);
    let out = Out::new(run.json);
    out.line(&describe_design(
        &inv, &target, &design, &baseline, &problems,
    ));

    // Said before anything runs, so the dry run says it too.
    let markers = marker_targets(run, &design, &inv, &cloud.clients, &out);
    let (max_error_rate, max_p99_ms) = what.load_limits(run);
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
        return Ok(ExitCode::from(if problems.is_empty() { 0 } else { 2 }));
    }
    if !problems.is_empty() {
        eprintln!(
            "refused: deployment {} is not in steady state, so a fault now would prove nothing:\n  {}",
            inv.env,
            problems.join("\n  ")
        );
        return Ok(ExitCode::from(2));
    }
    if !endpoints_are_loopback() {
        confirm(
            run.yes,
            &format!("run {} against {target}", design.experiment),
        )?;
    }
    // The load starts first: users must be served well before the fault, or it proves nothing.
    let load_clock = std::time::Instant::now();
    let load_timeout = Duration::from_secs_f64(run.load_timeout);
    let load = match &load_url {
        Some(url) => Some(Load::start(url, run.load_rate, load_timeout, load_clock)?),
        None => None,
    };
    if let Some(load) = &load {
        let warm_up = (5.0 / run.load_rate).max(3.0);
        tokio::time::sleep(
            Duration::from_secs_f64(warm_up) + load_timeout.min(Duration::from_secs(2)),
        )
        .await;
        let before: Vec<_> = load.so_far();
        let answered: Vec<&crate::chaos::load::Sample> = before.iter().collect();
        let (error_rate, _) = crate::chaos::load::window(&answered);
        let allowed = max_error_rate.unwrap_or(0.05);
        if before.is_empty() || error_rate > allowed {
            eprintln!(
                "refused: users are not served well before the fault: {:.0}% of {} requests to {} failed in {warm_up:.0} s (at most {:.0}% may), so a fault now would prove nothing",
                error_rate * 100.0,
                before.len(),
                crate::chaos::load::redact(load_url.as_deref().unwrap_or_default()),
                allowed * 100.0
            );
            return Ok(ExitCode::from(2));
        }
    }
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
    let marker_run = format!("{}-{}", inv.env, std::process::id());
    let clock = std::time::Instant::now();
    let interval = 1.0 / run.marker_rate;
    let writers: Vec<_> = markers
        .iter()
        .map(|t| Writer::start(t.clone(), marker_run.clone(), interval, clock))
        .collect();
    let watcher = ConsoleWatcher::new(run.json);
    let runner = Runner {
        lab: &lab,
        watcher: &watcher,
        sink: &sink,
        deployment_alarms,
        interrupt: rx,
    };
    let runner_zero = std::time::Instant::now();
    let mut journal = runner.run(journal, baseline).await;
    if let (Some(load), Some(url)) = (load, &load_url) {
        // On the journal's clock: what was sent before the run's zero is the steady-state check.
        let shift = runner_zero.duration_since(load_clock).as_secs_f64();
        let samples: Vec<_> = load
            .finish(load_timeout)
            .await
            .into_iter()
            .map(|mut s| {
                s.at -= shift;
                s
            })
            .collect();
        let felt = crate::chaos::load::assess(
            &crate::chaos::load::redact(url),
            run.load_rate,
            &samples,
            journal.injected_at.unwrap_or(0.0),
            max_error_rate,
            max_p99_ms,
        );
        if felt.noticed.is_some()
            && matches!(journal.outcome, Some(Outcome::Recovered | Outcome::Held))
        {
            journal.outcome = Some(Outcome::UsersNoticed);
            journal.reason = format!("{}; but {}", journal.reason, felt.describe());
        }
        journal.load = Some(felt);
        sink.save(&journal);
    }
    for (target, writer) in markers.iter().zip(writers) {
        let (attempted, acks) = writer.finish().await;
        out.line(&format!(
            "Reading back {} marker{} of table {} in {} (up to {:.0} s for replicas to catch up)",
            acks.len(),
            if acks.len() == 1 { "" } else { "s" },
            target.keys.table_name,
            target
                .regions
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            run.converge_timeout
        ));
        let reads = markers::read_back(
            target,
            &marker_run,
            &acks,
            Duration::from_secs_f64(run.converge_timeout),
            clock,
        )
        .await;
        let ended = journal
            .fault_ended_at
            .unwrap_or_else(|| clock.elapsed().as_secs_f64());
        let mut found = crate::chaos::markers::assess(
            &target.keys.table_name,
            attempted,
            &acks,
            &reads,
            interval,
            ended,
            run.rpo_seconds,
        );
        found.left_behind = markers::remove(target, &marker_run, attempted).await;
        if found.left_behind > 0 {
            eprintln!(
                "warning: {} marker item{} could not be removed from {} (keys start ftctl-marker#{marker_run}#)",
                found.left_behind,
                if found.left_behind == 1 { "" } else { "s" },
                target.keys.table_name
            );
        }
        if !found.within_objective()
            && matches!(journal.outcome, Some(Outcome::Recovered | Outcome::Held))
        {
            journal.outcome = Some(Outcome::DataLost);
            journal.reason = format!(
                "{}; but data was lost: {}",
                journal.reason,
                found.describe()
            );
        }
        journal.markers.push(found);
        sink.save(&journal);
    }
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
    let mut code = journal.outcome.map(Outcome::exit_code).unwrap_or(2);
    if !journal.pending_undo.is_empty() {
        // Something the experiment changed is still changed: that is an error, whatever the verdict.
        code = 2;
    }
    Ok(ExitCode::from(code))
}

fn describe_design(
    inv: &Inventory,
    target: &str,
    d: &Design,
    baseline: &Observation,
    problems: &[String],
) -> String {
    let mut s = format!(
        "Experiment {} on deployment {} ({}) in {target}\n  {}\n  budget: {:.0} s, from {}\n",
        d.experiment, inv.env, inv.stack, d.summary, d.budget.seconds, d.budget.source
    );
    if let Some(seed) = &d.seed {
        s.push_str(&format!(
            "  seed: {seed} (`--seed {seed}` chooses exactly these targets again)\n"
        ));
    }
    s.push_str("\nSteady state now:\n");
    s.push_str(&state_lines(&baseline.snapshot));
    if problems.is_empty() {
        s.push_str("  steady: yes\n");
    } else {
        s.push_str(&format!("  steady: NO ({})\n", problems.join("; ")));
    }
    for (i, step) in d.steps.iter().enumerate() {
        if let Some(seed) = &step.seed {
            s.push_str(&format!(
                "  step {} seed: {seed} (`seed = \"{seed}\"` in the step chooses exactly these targets again)\n",
                i + 1
            ));
        }
    }
    s.push_str("\nActions, in order:\n");
    // In the order they are sent: a scenario's steps by their start.
    let schedule = d.schedule();
    let mut n = 0;
    for start in &schedule {
        if schedule.len() > 1 {
            s.push_str(&format!("  at +{} s, {}:\n", start.at, start.label));
        }
        for a in &d.actions[start.actions.clone()] {
            n += 1;
            s.push_str(&format!("  {n}. {}\n", a.describe()));
            if let Some(u) = a.undo() {
                s.push_str(&format!("     undone by: {}\n", u.describe()));
            }
        }
    }
    for w in &d.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
}

pub(super) fn state_lines(snap: &Snapshot) -> String {
    let mut s = String::new();
    for t in &snap.tiers {
        let zones: Vec<String> = t
            .serving_by_zone
            .iter()
            .map(|(z, n)| format!("{z}: {n}"))
            .collect();
        s.push_str(&format!(
            "  tier {:<6} desired {} · in service {} · healthy {} · serving {} ({})\n",
            t.tier,
            t.desired,
            t.in_service,
            t.healthy,
            t.serving,
            zones.join(", ")
        ));
    }
    for d in &snap.databases {
        s.push_str(&format!(
            "  database {} {} in {}{}\n",
            d.name,
            d.status,
            d.zone,
            d.secondary_zone
                .as_ref()
                .map(|z| format!(", standby in {z}"))
                .unwrap_or_default()
        ));
    }
    for sv in &snap.services {
        s.push_str(&format!(
            "  service {} running {} of {} (pending {})\n",
            sv.name, sv.running, sv.desired, sv.pending
        ));
    }
    for c in &snap.caches {
        let shards: Vec<String> = c
            .shards
            .iter()
            .map(|sh| {
                format!(
                    "shard {} {} with {} node{}{}",
                    sh.id,
                    sh.status,
                    sh.members,
                    if sh.members == 1 { "" } else { "s" },
                    sh.primary_zone
                        .as_ref()
                        .map(|z| format!(", primary in {z}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        s.push_str(&format!(
            "  cache {} {} ({})\n",
            c.name,
            c.status,
            shards.join("; ")
        ));
    }
    if !snap.alarms_firing.is_empty() {
        s.push_str(&format!(
            "  alarms in ALARM: {}\n",
            snap.alarms_firing.join(", ")
        ));
    }
    s
}

fn write_report(dir: &Path, journal: &Journal) -> Result<PathBuf> {
    let svg = report::timeline_svg(journal).map_err(|e| anyhow!("drawing the timeline: {e}"))?;
    std::fs::write(dir.join("timeline.svg"), svg)
        .with_context(|| format!("writing {}", dir.join("timeline.svg").display()))?;
    let path = dir.join("report.md");
    std::fs::write(&path, report::markdown(journal, "timeline.svg"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn summary(j: &Journal, report_path: &Path) -> String {
    let v = j.verdict.as_ref();
    let secs = report::secs;
    let mut s = format!(
        "\n{}: {}\n  time to detect  {}\n  time to recover {}\n  budget          {:.0} s ({})\n",
        report::outcome_label(j.outcome),
        j.reason,
        secs(v.and_then(|v| v.detected_after)),
        secs(v.and_then(|v| v.recovered_after)),
        j.design.budget.seconds,
        j.design.budget.source,
    );
    if let (Some(zone), Some(last)) = (&j.design.zone, j.probes.last()) {
        s.push_str(&format!("  outside {zone}, at the end:\n"));
        for line in last.snapshot.outside_zone(zone) {
            s.push_str(&format!("    {line}\n"));
        }
    }
    for m in &j.markers {
        s.push_str(&format!("  data            {}\n", m.describe()));
    }
    if let Some(l) = &j.load {
        s.push_str(&format!("  users           {}\n", l.describe()));
    }
    if let Some(v) = v.filter(|v| v.relapses > 0) {
        s.push_str(&format!(
            "  relapses        {} (recovered, then lost again)\n",
            v.relapses
        ));
    }
    let label = if j.events.iter().any(|e| e.kind == "rollback") {
        "after rollback"
    } else {
        "at the end    "
    };
    match &j.after_rollback {
        Some(a) if a.steady => s.push_str(&format!("  {label}  steady at {:.1} s\n", a.at)),
        Some(a) => s.push_str(&format!(
            "  {label}  NOT steady: {}\n",
            a.problems.join("; ")
        )),
        None => {}
    }
    if !j.pending_undo.is_empty() {
        s.push_str(&format!(
            "  STILL CHANGED   {} (see the journal; put these back by hand)\n",
            j.pending_undo
                .iter()
                .map(|u| u.describe())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    for w in &j.design.warnings {
        s.push_str(&format!("  warning: {w}\n"));
    }
    s.push_str(&format!("Report: {}", report_path.display()));
    s
}

async fn export_fis(experiment: FisExperiment) -> Result<ExitCode> {
    let (fis_args, fault, duration) = match experiment {
        FisExperiment::Run { fis, file } => return export_fis_scenario(fis, &file).await,
        FisExperiment::KillTask { fis, task } => (fis, task_fault(&task), 300.0),
        FisExperiment::CacheFailover { fis, cache } => (fis, cache_fault(&cache), 300.0),
        FisExperiment::KillInstance { fis, instances } => {
            if !instances.instances.is_empty() {
                bail!("export-fis selects instances by tag when the experiment starts: use --group/--count/--percent, not --instance");
            }
            (fis, instance_fault(&instances), 300.0)
        }
        FisExperiment::KillAz { fis, az } => {
            let fault = Fault::KillAz {
                zone: az.az.clone(),
                mode: az.mode.into(),
            };
            (fis, fault, az.duration.unwrap_or(300.0))
        }
        FisExperiment::RdsFailover { fis, db } => (fis, db_fault(&db), 300.0),
        FisExperiment::Latency {
            fis,
            share,
            latency,
        } => (fis, latency_fault(&share, &latency), share.duration as f64),
        FisExperiment::PacketLoss { fis, share, loss } => {
            (fis, loss_fault(&share, &loss), share.duration as f64)
        }
        FisExperiment::CpuStress { fis, share, cpu } => {
            (fis, cpu_fault(&share, &cpu), share.duration as f64)
        }
        FisExperiment::PauseReplication { fis, replication } => (
            fis,
            replication_fault(&replication),
            replication.duration as f64,
        ),
    };
    if let Err(Refusal(msg)) = gray::check(&fault) {
        eprintln!("refused: {msg}");
        return Ok(ExitCode::from(2));
    }
    let (inv, lab, baseline) = fis_inputs(&fis_args).await?;
    // FIS has no recovery budget; passing one keeps a deployment without alarms exportable.
    let design = match design::design(&fault, &inv, &baseline, Some(duration)) {
        Ok(d) => d,
        Err(Refusal(msg)) => {
            eprintln!("refused: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    // Any existing alarm can be a stop condition, not only the deployment's.
    let stop_arns: Vec<String> = stop_conditions(&lab, &fis_args.stop_on)
        .await?
        .into_values()
        .collect();
    let doc = fis::template(
        &fault,
        &design,
        &inv,
        &fis_args.role_arn,
        duration,
        &stop_arns,
    );
    print_fis(&doc)
}

/// The deployment an FIS export is written for, and a probe of it to design from.
async fn fis_inputs(fis_args: &crate::cli::FisArgs) -> Result<(Inventory, AwsLab, Observation)> {
    let (cloud, inv) = inventory(&fis_args.target).await?;
    let lab = AwsLab {
        clients: cloud.clients.clone(),
        alarm_names: inv.alarms.iter().map(|a| a.name.clone()).collect(),
        alarm_places: AlarmPlaces::new(&cloud, &inv),
        inventory: inv.clone(),
    };
    let baseline = crate::chaos::run::Lab::probe(&lab).await?;
    Ok((inv, lab, baseline))
}

/// The template on stdout, once FIS's own rules find nothing wrong with it.
fn print_fis(doc: &serde_json::Value) -> Result<ExitCode> {
    let problems = fis::model::check(doc);
    if !problems.is_empty() {
        bail!(
            "the FIS template ftctl wrote would be refused by FIS (a bug in ftctl):\n  {}",
            problems.join("\n  ")
        );
    }
    println!("{}", serde_json::to_string_pretty(doc)?);
    Ok(ExitCode::SUCCESS)
}

/// `ftctl chaos export-fis run FILE`: the scenario's steps as one FIS template.
async fn export_fis_scenario(fis_args: crate::cli::FisArgs, file: &Path) -> Result<ExitCode> {
    let scenario = match scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (inv, lab, baseline) = fis_inputs(&fis_args).await?;
    let duration = scenario.header.duration.unwrap_or(300.0);
    let steps = match scenario::step_designs(&scenario, &inv, &baseline, Some(duration)) {
        Ok(steps) => steps,
        Err(Refusal(msg)) => {
            eprintln!("refused: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    let keys: Vec<String> = fis_args
        .stop_on
        .iter()
        .chain(&scenario.header.stop_on)
        .cloned()
        .collect();
    let stop_arns: Vec<String> = stop_conditions(&lab, &keys).await?.into_values().collect();
    let doc = fis::scenario_template(
        &scenario,
        &steps,
        &inv,
        &fis_args.role_arn,
        duration,
        &stop_arns,
    );
    print_fis(&doc)
}

/// The tables markers go into: those the experiment pauses (unless --no-markers), or every
/// table of the deployment with --markers. A table whose keys cannot hold markers is said so.
fn marker_targets(
    run: &RunArgs,
    design: &Design,
    inv: &Inventory,
    clients: &crate::aws::Clients,
    out: &Out,
) -> Vec<std::sync::Arc<markers::Target>> {
    if run.no_markers {
        return Vec::new();
    }
    let paused: Vec<&str> = design
        .actions
        .iter()
        .filter_map(|a| match a {
            design::Action::PauseReplication { table, .. } => Some(table.as_str()),
            _ => None,
        })
        .collect();
    let mut targets = Vec::new();
    for t in &inv.tables {
        if !(run.markers || paused.contains(&t.table_name.as_str())) {
            continue;
        }
        match crate::chaos::markers::MarkerKeys::for_table(t) {
            Ok(keys) => {
                let mut regions = vec![(clients.region.clone(), clients.dynamodb.clone())];
                regions.extend(
                    t.replicas
                        .iter()
                        .map(|r| (r.region.clone(), clients.dynamodb_in(&r.region))),
                );
                out.line(&format!(
                    "Markers: {:.1} writes/s into table {} (keys {}ftctl-marker#...), read back in {} region{} and removed afterwards.",
                    run.marker_rate,
                    t.table_name,
                    format_args!("{} = ", keys.partition_key),
                    regions.len(),
                    if regions.len() == 1 { "" } else { "s" }
                ));
                targets.push(std::sync::Arc::new(markers::Target { keys, regions }));
            }
            Err(why) => out.line(&format!("Markers: {why}")),
        }
    }
    targets
}

/// Human output: stdout normally, stderr when stdout carries JSON.
struct Out {
    to_stderr: bool,
}

impl Out {
    fn new(json: bool) -> Out {
        Out { to_stderr: json }
    }

    fn line(&self, text: &str) {
        if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

/// Writes the journal after every change, so it is current if ftctl dies.
struct FileSink(PathBuf);

impl Sink for FileSink {
    fn save(&self, journal: &Journal) {
        let write = serde_json::to_vec_pretty(journal)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                let tmp = self.0.with_extension("json.tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &self.0)
            });
        if let Err(e) = write {
            tracing::warn!("could not save the journal to {}: {e}", self.0.display());
        }
    }
}

/// The live line: a spinner on a terminal, otherwise a line whenever the state changes. It
/// goes where the human output goes (`Out`).
struct ConsoleWatcher {
    bar: Option<ProgressBar>,
    out: Out,
    last: Mutex<String>,
}

impl ConsoleWatcher {
    fn new(json: bool) -> Self {
        let out = Out::new(json);
        let (tty, target) = if out.to_stderr {
            (
                std::io::stderr().is_terminal(),
                ProgressDrawTarget::stderr(),
            )
        } else {
            (
                std::io::stdout().is_terminal(),
                ProgressDrawTarget::stdout(),
            )
        };
        let bar = tty.then(|| {
            let bar = ProgressBar::with_draw_target(None, target);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        ConsoleWatcher {
            bar,
            out,
            last: Mutex::new(String::new()),
        }
    }

    fn print(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => self.out.line(text),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Watcher for ConsoleWatcher {
    fn probe(&self, snapshot: &Snapshot, phase: Phase) {
        let mut parts: Vec<String> = snapshot
            .tiers
            .iter()
            .map(|t| {
                format!(
                    "{} serving {}/{} (in service {}, healthy {})",
                    t.tier, t.serving, t.desired, t.in_service, t.healthy
                )
            })
            .collect();
        for d in &snapshot.databases {
            parts.push(format!("db {} {}", d.name, d.status));
        }
        for c in &snapshot.caches {
            parts.push(format!("cache {} {}", c.name, c.status));
        }
        for s in &snapshot.services {
            parts.push(format!(
                "svc {} running {}/{}",
                s.name, s.running, s.desired
            ));
        }
        if !snapshot.alarms_firing.is_empty() {
            parts.push(format!("ALARM: {}", snapshot.alarms_firing.join(",")));
        }
        let state = parts.join(" · ");
        let clock = match phase {
            Phase::Fault { since, budget } => format!("{since:>6.1}s / {budget:.0}s"),
            Phase::Settling { since, timeout } => {
                format!("after rollback {since:>5.1}s / {timeout:.0}s")
            }
            Phase::Final => "at the end".to_string(),
        };
        match &self.bar {
            Some(bar) => bar.set_message(format!("{clock}  {state}")),
            None => {
                let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
                if *last != state {
                    self.print(&format!("  [{clock}] {state}"));
                    *last = state;
                }
            }
        }
    }

    fn event(&self, event: &Event) {
        self.print(&format!(
            "  {:>7.2}s {:<14} {}{}",
            event.at,
            event.kind,
            event.detail,
            if event.ok { "" } else { "  FAILED" }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_url;

    #[test]
    fn only_loopback_endpoints_skip_confirmation() {
        assert!(is_loopback_url("http://127.0.0.1:4568"));
        assert!(is_loopback_url("http://localhost:4566/"));
        assert!(is_loopback_url("http://[::1]:4566"));
        assert!(!is_loopback_url("AWS"));
        assert!(!is_loopback_url("https://ec2.us-east-1.amazonaws.com"));
        assert!(!is_loopback_url("http://10.0.0.5:4566"));
        assert!(!is_loopback_url("http://127.0.0.1.evil.example:80"));
    }
}
