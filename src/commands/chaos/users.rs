//! What users and their data felt during an experiment: the load sent beside it (refusing a run
//! whose users are not served before the fault) and the marker writes, read back afterwards in
//! every region. Both are judged after the run and can turn a recovered run into USERS NOTICED
//! or DATA LOST.

use super::*;
use crate::aws::dynamodb::markers::{self, Writer};
use crate::chaos::sender::Load;
use std::time::Instant;

/// The tables markers go into: those the experiment pauses (unless --no-markers), or every
/// table of the deployment with --markers. A table whose keys cannot hold markers is said so.
pub(super) fn marker_targets(
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
                    "Markers: {:.1} writes/s into table {} ({} = ftctl-marker#...), read back in {} region{} and removed afterwards.",
                    run.marker_rate,
                    t.table_name,
                    keys.partition_key,
                    regions.len(),
                    if regions.len() == 1 { "" } else { "s" }
                ));
                targets.push(std::sync::Arc::new(markers::Target {
                    keys,
                    regions,
                    rpo_seconds: t.rpo_seconds,
                }));
            }
            Err(why) => out.line(&format!("Markers: {why}")),
        }
    }
    targets
}

/// Starts the load and waits a few seconds (at least five requests): when more of them fail
/// than the run allows (5% without a limit), the run is refused (`Err`, the exit code).
pub(super) async fn start_load(
    run: &RunArgs,
    url: Option<&str>,
    max_error_rate: Option<f64>,
) -> Result<Result<Option<Running>, u8>> {
    let Some(url) = url else {
        return Ok(Ok(None));
    };
    let clock = Instant::now();
    let timeout = Duration::from_secs_f64(run.load_timeout);
    let load = Load::start(url, run.load_rate, timeout, clock)?;
    let warm_up = (5.0 / run.load_rate).max(3.0);
    tokio::time::sleep(Duration::from_secs_f64(warm_up) + timeout.min(Duration::from_secs(2)))
        .await;
    let before = load.so_far();
    let (error_rate, _) = crate::chaos::load::window(&before.iter().collect::<Vec<_>>());
    let allowed = max_error_rate.unwrap_or(0.05);
    if before.is_empty() || error_rate > allowed {
        eprintln!(
            "refused: users are not served well before the fault: {:.0}% of {} requests to {} failed in {warm_up:.0} s (at most {:.0}% may), so a fault now would prove nothing",
            error_rate * 100.0,
            before.len(),
            crate::chaos::load::redact(url),
            allowed * 100.0
        );
        load.finish(timeout).await;
        return Ok(Err(2));
    }
    Ok(Ok(Some(Running {
        load,
        url: crate::chaos::load::redact(url),
        clock,
        timeout,
    })))
}

/// The load while the experiment runs.
pub(super) struct Running {
    load: Load,
    /// Redacted: the only form kept.
    url: String,
    clock: Instant,
    timeout: Duration,
}

/// Stops the load and judges it: past the limits, a run that recovered or held is USERS
/// NOTICED. `runner_zero` is the journal's clock: what was sent before it is the steady-state
/// check.
pub(super) async fn judge_load(
    run: &RunArgs,
    running: Running,
    runner_zero: Instant,
    (max_error_rate, max_p99_ms): (Option<f64>, Option<f64>),
    journal: &mut Journal,
) {
    let shift = runner_zero.duration_since(running.clock).as_secs_f64();
    let samples: Vec<_> = running
        .load
        .finish(running.timeout)
        .await
        .into_iter()
        .map(|mut s| {
            s.at -= shift;
            s
        })
        .collect();
    let felt = crate::chaos::load::assess(
        &running.url,
        run.load_rate,
        &samples,
        journal.injected_at.unwrap_or(0.0),
        max_error_rate,
        max_p99_ms,
    );
    if felt.noticed.is_some() && matches!(journal.outcome, Some(Outcome::Recovered | Outcome::Held))
    {
        journal.outcome = Some(Outcome::UsersNoticed);
        journal.reason = format!("{}; but {}", journal.reason, felt.describe());
    }
    journal.load = Some(felt);
}

/// The marker writers of one run.
pub(super) struct MarkerRun {
    run: String,
    clock: Instant,
    interval: f64,
    writers: Vec<(std::sync::Arc<markers::Target>, Writer)>,
}

impl MarkerRun {
    /// Starts a writer per table; `clock` starts now, next to the run's own.
    pub(super) fn start(
        targets: Vec<std::sync::Arc<markers::Target>>,
        env: &str,
        rate: f64,
    ) -> MarkerRun {
        let run = format!("{env}-{}", std::process::id());
        let clock = Instant::now();
        let interval = 1.0 / rate;
        let writers = targets
            .into_iter()
            .map(|t| {
                let writer = Writer::start(t.clone(), run.clone(), interval, clock);
                (t, writer)
            })
            .collect();
        MarkerRun {
            run,
            clock,
            interval,
            writers,
        }
    }

    /// Stops the writers, reads every region back until it holds every acknowledged marker (or
    /// `--converge-timeout`), judges the loss against `--rpo-seconds` (a run that recovered or
    /// held and lost more is DATA LOST) and removes the markers.
    pub(super) async fn judge(
        self,
        run: &RunArgs,
        journal: &mut Journal,
        sink: &FileSink,
        out: &Out,
    ) {
        for (target, writer) in self.writers {
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
                &target,
                &self.run,
                &acks,
                Duration::from_secs_f64(run.converge_timeout),
                self.clock,
            )
            .await;
            let ended = journal
                .fault_ended_at
                .unwrap_or_else(|| self.clock.elapsed().as_secs_f64());
            let mut found = crate::chaos::markers::assess(
                &target.keys.table_name,
                attempted,
                &acks,
                &reads,
                self.interval,
                ended,
                // The command line's objective, else the stack's.
                run.rpo_seconds.or(target.rpo_seconds),
            );
            found.left_behind = markers::remove(&target, &self.run, attempted).await;
            if found.left_behind > 0 {
                eprintln!(
                    "warning: {} marker item{} could not be removed from {} (keys start ftctl-marker#{}#)",
                    found.left_behind,
                    if found.left_behind == 1 { "" } else { "s" },
                    target.keys.table_name,
                    self.run
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
            sink.save(journal);
        }
    }
}
