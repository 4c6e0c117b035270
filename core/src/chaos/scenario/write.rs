//! Writing scenario files: a fault as the step that runs it, and `chaos list --export`'s files,
//! laid out as the documentation shows them (the inverse of `check`).

use super::*;

/// The step a fault is, targets named by logical id (the inverse of what `check` reads).
pub fn step_of(at: f64, fault: &Fault) -> StepSpec {
    let ids = |prefix: &str, names: &[String]| -> Vec<String> {
        names.iter().map(|n| format!("{prefix}.{n}")).collect()
    };
    let share = |on: &gray::Share| GrayStep {
        targets: ids("tier", &on.tiers),
        count: on.count,
        percent: on.percent,
        seed: on.seed.clone(),
        duration: Some(on.duration),
        ..GrayStep::default()
    };
    let mut s = StepSpec {
        at,
        ..StepSpec::default()
    };
    match fault {
        Fault::KillInstance {
            tiers,
            count,
            percent,
            seed,
            ..
        } => {
            s.kill_instance = Some(PickStep {
                targets: ids("tier", tiers),
                count: *count,
                percent: *percent,
                seed: seed.clone(),
            })
        }
        Fault::KillAz { zone, mode } => {
            s.kill_az = Some(AzStep {
                zone: zone.clone(),
                mode: Some(*mode),
            })
        }
        Fault::RdsFailover { databases } => {
            s.rds_failover = Some(TargetsStep {
                targets: ids("db", databases),
            })
        }
        Fault::DocdbFailover { documents } => {
            s.docdb_failover = Some(TargetsStep {
                targets: ids("docdb", documents),
            })
        }
        Fault::CacheFailover { caches, shard } => {
            s.cache_failover = Some(CacheStep {
                targets: ids("cache", caches),
                shard: shard.clone(),
            })
        }
        Fault::KillTask {
            services,
            count,
            percent,
            seed,
        } => {
            s.kill_task = Some(PickStep {
                targets: ids("svc", services),
                count: *count,
                percent: *percent,
                seed: seed.clone(),
            })
        }
        Fault::Latency {
            on,
            delay_ms,
            jitter_ms,
        } => {
            s.latency = Some(GrayStep {
                delay_ms: Some(*delay_ms),
                jitter_ms: Some(*jitter_ms),
                ..share(on)
            })
        }
        Fault::PacketLoss { on, loss_percent } => {
            s.packet_loss = Some(GrayStep {
                loss_percent: Some(*loss_percent),
                ..share(on)
            })
        }
        Fault::CpuStress { on, load_percent } => {
            s.cpu_stress = Some(GrayStep {
                load_percent: Some(*load_percent),
                ..share(on)
            })
        }
        Fault::PauseReplication {
            tables,
            regions,
            duration,
        } => {
            s.pause_replication = Some(ReplicationStep {
                targets: ids("table", tables),
                regions: regions.clone(),
                duration: Some(*duration),
            })
        }
    }
    s
}

/// A derived experiment (`chaos list`) as a scenario file a user can start from: its file name
/// and text.
pub fn export(inv: &Inventory, a: &design::Applicable) -> (String, String) {
    let step = step_of(0.0, &a.fault);
    let suffix = match &a.fault {
        Fault::KillAz { zone, .. } => zone.clone().unwrap_or_default(),
        Fault::KillInstance { tiers: names, .. }
        | Fault::RdsFailover { databases: names }
        | Fault::DocdbFailover { documents: names }
        | Fault::CacheFailover { caches: names, .. }
        | Fault::KillTask {
            services: names, ..
        }
        | Fault::Latency {
            on: gray::Share { tiers: names, .. },
            ..
        }
        | Fault::PacketLoss {
            on: gray::Share { tiers: names, .. },
            ..
        }
        | Fault::CpuStress {
            on: gray::Share { tiers: names, .. },
            ..
        }
        | Fault::PauseReplication { tables: names, .. } => {
            names.first().cloned().unwrap_or_default()
        }
    };
    let mut name: String = format!("{}-{suffix}", a.experiment)
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name = name.trim_end_matches('-').chars().take(40).collect();
    let budget = a
        .budget
        .as_ref()
        .map(|b| format!("{:.0} s ({})", b.seconds, b.source))
        .unwrap_or_else(|| "none: set `budget` below or pass --budget".into());
    let comment = format!(
        "{} on deployment {}: {}.\n\
         Written by `ftctl chaos list --export`; it runs what `{}` runs.\n\
         Run it: ftctl chaos run {name}.toml --env {} --dry-run (then without --dry-run).\n\
         Budget when this was written: {budget}.\n\
         Add steps ([[step]] with `at = SECONDS`) to compose faults; see docs/chaos-guide.md.",
        a.experiment, inv.env, a.targets, a.command, inv.env
    );
    let file = ScenarioFile {
        scenario: Header {
            name: name.clone(),
            description: format!("{} ({})", a.experiment, a.targets),
            budget: None,
            duration: None,
            stop_on: Vec::new(),
            max_error_rate: None,
            max_p99_ms: None,
        },
        step: vec![step],
    };
    (format!("{name}.toml"), render(&comment, &file))
}

/// A scenario file's text: a comment saying what it is, then the header and the steps. Written
/// by hand rather than by a TOML serializer so the comment survives and the layout is the one
/// the documentation shows.
pub fn render(comment: &str, file: &ScenarioFile) -> String {
    let mut out = String::new();
    for line in comment.lines() {
        out.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
    }
    out.push_str("\n[scenario]\n");
    out.push_str(&format!("name = {}\n", quoted(&file.scenario.name)));
    if !file.scenario.description.is_empty() {
        out.push_str(&format!(
            "description = {}\n",
            quoted(&file.scenario.description)
        ));
    }
    if let Some(b) = file.scenario.budget {
        out.push_str(&format!("budget = {b}\n"));
    }
    if let Some(d) = file.scenario.duration {
        out.push_str(&format!("duration = {d}\n"));
    }
    if let Some(r) = file.scenario.max_error_rate {
        out.push_str(&format!("max_error_rate = {r}\n"));
    }
    if let Some(ms) = file.scenario.max_p99_ms {
        out.push_str(&format!("max_p99_ms = {ms}\n"));
    }
    if !file.scenario.stop_on.is_empty() {
        out.push_str(&format!("stop_on = {}\n", list(&file.scenario.stop_on)));
    }
    for s in &file.step {
        out.push_str("\n[[step]]\n");
        if s.at != 0.0 {
            out.push_str(&format!("at = {}\n", s.at));
        }
        let value = serde_json::to_value(s).unwrap_or_default();
        if let Some(map) = value.as_object() {
            for (key, options) in map.iter().filter(|(k, _)| k.as_str() != "at") {
                out.push_str(&format!("{key} = {}\n", inline_table(options)));
            }
        }
    }
    out
}

/// A TOML basic string. JSON's escapes (`\"`, `\\`, `\n`, `\uXXXX`, ...) are all valid TOML
/// escapes, and JSON escapes every control character TOML requires escaped except DEL.
fn quoted(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('\u{7f}', "\\u007f")
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| quoted(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn inline_table(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{k} = {}", inline_table(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(inline_table)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::String(s) => quoted(s),
        other => other.to_string(),
    }
}
