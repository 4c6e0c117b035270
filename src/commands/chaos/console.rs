//! What an experiment shows and keeps: the design as the operator reads it before the run, the
//! live progress, the journal file, the report and the closing summary.

use super::*;

pub(super) fn describe_design(
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

pub(in crate::commands) fn state_lines(snap: &Snapshot) -> String {
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
    for d in &snap.documents {
        s.push_str(&format!(
            "  document database {} {}, writer {}\n",
            d.name,
            d.status,
            if d.writer.is_empty() {
                "none"
            } else {
                &d.writer
            }
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

pub(super) fn write_report(dir: &Path, journal: &Journal) -> Result<PathBuf> {
    let svg = report::timeline_svg(journal).map_err(|e| anyhow!("drawing the timeline: {e}"))?;
    std::fs::write(dir.join("timeline.svg"), svg)
        .with_context(|| format!("writing {}", dir.join("timeline.svg").display()))?;
    let path = dir.join("report.md");
    std::fs::write(&path, report::markdown(journal, "timeline.svg"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

pub(super) fn summary(j: &Journal, report_path: &Path) -> String {
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

/// Human output: stdout normally, stderr when stdout carries JSON.
pub(super) struct Out {
    to_stderr: bool,
}

impl Out {
    pub(super) fn new(json: bool) -> Out {
        Out { to_stderr: json }
    }

    pub(super) fn line(&self, text: &str) {
        if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

/// Writes the journal after every change, so it is current if ftctl dies.
pub(super) struct FileSink(pub(super) PathBuf);

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
pub(super) struct ConsoleWatcher {
    bar: Option<ProgressBar>,
    out: Out,
    last: Mutex<String>,
}

impl ConsoleWatcher {
    pub(super) fn new(json: bool) -> Self {
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

    pub(super) fn finish(&self) {
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
        for d in &snapshot.documents {
            parts.push(format!("docdb {} {} writer {}", d.name, d.status, d.writer));
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
