//! Gray failures on a tier: added latency and jitter, packet loss or CPU stress on a share of its
//! instances for a while, through Systems Manager Run Command with the documents AWS FIS itself
//! runs for these faults. Nothing is lost, so the group should not need to heal: the verdict is
//! whether steady state held while the fault ran (`verdict::hold`), not a time to recover.
//!
//! AWS facts relied on (AWS FIS User Guide, "Use Systems Manager SSM documents with AWS FIS",
//! section "Pre-configured AWS FIS SSM documents"):
//! - `AWSFIS-Run-Network-Latency-Sources` takes `DelayMilliseconds`, `JitterMilliseconds`,
//!   `Sources` (required; `ALL` allowed), `TrafficType` (`ingress` | `egress`), `Interface`
//!   (`DEFAULT` is the primary interface), `DurationSeconds` (required), `InstallDependencies`.
//!   The plain `AWSFIS-Run-Network-Latency` has no jitter and defaults `Interface` to `eth0`,
//!   which is not the primary interface's name on Nitro instances running Amazon Linux 2023
//!   (`ens5`), so the `-Sources` variants are used for both network faults.
//! - `AWSFIS-Run-Network-Packet-Loss-Sources`: `LossPercent`, `Sources`, `TrafficType`,
//!   `Interface`, `DurationSeconds`, `InstallDependencies`.
//! - `AWSFIS-Run-CPU-Stress`: `DurationSeconds` (required), `CPU` (0 = all), `LoadPercent`
//!   (0-100), `InstallDependencies`.
//! - Their ARN is `arn:aws:ssm:REGION::document/NAME`; the network documents cannot run in
//!   parallel on one instance (one command per instance here).
//! - Rollback: each document writes a rollback script before it injects, which removes the
//!   fault "even if the action fails or is terminated unexpectedly" ("Rollback scripts"), and
//!   the documents end the fault themselves after `DurationSeconds`. So undoing is cancelling
//!   the command (SSM `CancelCommand`, as FIS does on a stop) and checking that every
//!   invocation reached a final state; no separate cleanup command is needed.
//!
//! FIS action `aws:ssm:send-command` (FIS Actions reference): parameters `documentArn`,
//! `documentParameters` (a JSON object of strings, passed as a string), `duration` (ISO 8601,
//! one minute to 12 hours); target resource type `aws:ec2:instance`.

use super::{shuffled, Action, Budget, Design, Fault, Refusal};
use crate::chaos::{Instance, Inventory, Observation};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const LATENCY: &str = "latency";
pub const PACKET_LOSS: &str = "packet-loss";
pub const CPU_STRESS: &str = "cpu-stress";
/// The experiments judged by whether steady state held, not by a recovery.
pub const EXPERIMENTS: [&str; 3] = [LATENCY, PACKET_LOSS, CPU_STRESS];

pub const LATENCY_DOCUMENT: &str = "AWSFIS-Run-Network-Latency-Sources";
pub const PACKET_LOSS_DOCUMENT: &str = "AWSFIS-Run-Network-Packet-Loss-Sources";
pub const CPU_STRESS_DOCUMENT: &str = "AWSFIS-Run-CPU-Stress";

/// FIS action durations run from one minute to 12 hours; a fault here is bounded the same way
/// so that its FIS export is valid too.
pub const MAX_DURATION: u32 = 12 * 3600;
pub const MIN_DURATION: u32 = 60;
/// tc netem takes any delay, but past a minute it is an outage, not a gray failure.
pub const MAX_DELAY_MS: u32 = 60_000;
/// SendCommand takes up to 50 instance ids per call (SSM API Reference, SendCommand).
const MAX_INSTANCES_PER_COMMAND: usize = 50;

/// Which instances a gray failure hits and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// Tiers by name (or group name); none: every tier Systems Manager reaches.
    pub tiers: Vec<String>,
    pub count: Option<u32>,
    pub percent: Option<u32>,
    /// Orders the candidates, so a run can be repeated exactly; by default derived from the
    /// deployment and its running instances (`design::default_seed`), as for kill-instance.
    pub seed: Option<String>,
    /// Seconds the fault lasts (`DurationSeconds` of the document).
    pub duration: u32,
}

/// The experiment's name, its share, its document and the document's own parameters.
type Parts<'a> = (
    &'static str,
    &'a Share,
    &'static str,
    Vec<(&'static str, String)>,
);

/// The share and the document, with its own parameters, of a gray fault.
fn parts(fault: &Fault) -> Option<Parts<'_>> {
    let network = |extra: Vec<(&'static str, String)>| {
        let mut p = extra;
        // Every flow leaving the instance: its answers to the balancer and to users, and its
        // calls to what it depends on.
        p.push(("Sources", "ALL".into()));
        p.push(("TrafficType", "egress".into()));
        p.push(("Interface", "DEFAULT".into()));
        p
    };
    match fault {
        Fault::Latency {
            on,
            delay_ms,
            jitter_ms,
        } => Some((
            LATENCY,
            on,
            LATENCY_DOCUMENT,
            network(vec![
                ("DelayMilliseconds", delay_ms.to_string()),
                ("JitterMilliseconds", jitter_ms.to_string()),
            ]),
        )),
        Fault::PacketLoss { on, loss_percent } => Some((
            PACKET_LOSS,
            on,
            PACKET_LOSS_DOCUMENT,
            network(vec![("LossPercent", loss_percent.to_string())]),
        )),
        Fault::CpuStress { on, load_percent } => Some((
            CPU_STRESS,
            on,
            CPU_STRESS_DOCUMENT,
            vec![
                ("LoadPercent", load_percent.to_string()),
                // Every vCPU: a partial stress would leave the others to absorb it.
                ("CPU", "0".into()),
            ],
        )),
        _ => None,
    }
}

/// The document parameters of a gray fault, as SendCommand takes them (every value a list).
pub fn parameters(fault: &Fault) -> Option<BTreeMap<String, Vec<String>>> {
    let (_, on, _, own) = parts(fault)?;
    let mut p: BTreeMap<String, Vec<String>> = own
        .into_iter()
        .map(|(k, v)| (k.to_string(), vec![v]))
        .collect();
    p.insert("DurationSeconds".into(), vec![on.duration.to_string()]);
    // The tools (tc, stress-ng, atd, dig) are installed when missing: the instance needs a
    // route to its package repositories for that (see docs/chaos-guide.md).
    p.insert("InstallDependencies".into(), vec!["True".into()]);
    Some(p)
}

/// Bad input refused before anything is read or changed: the command line already bounds each
/// number, this holds the combinations and guards callers other than the command line.
pub fn check(fault: &Fault) -> Result<(), Refusal> {
    let Some((experiment, on, _, _)) = parts(fault) else {
        return Ok(());
    };
    let bad = |m: String| Err(Refusal(format!("{experiment}: {m}")));
    if let Some(p) = on.percent {
        if !(1..=100).contains(&p) {
            return bad(format!("--percent {p} is not a share from 1 to 100"));
        }
    }
    if on.count == Some(0) {
        return bad("--count 0 would hit no instance".into());
    }
    if !(MIN_DURATION..=MAX_DURATION).contains(&on.duration) {
        return bad(format!(
            "--duration {} is outside {MIN_DURATION}..={MAX_DURATION} seconds (what an FIS action may last)",
            on.duration
        ));
    }
    match fault {
        Fault::Latency {
            delay_ms,
            jitter_ms,
            ..
        } => {
            if !(1..=MAX_DELAY_MS).contains(delay_ms) {
                return bad(format!(
                    "--delay-ms {delay_ms} is outside 1..={MAX_DELAY_MS}"
                ));
            }
            if jitter_ms > delay_ms {
                return bad(format!(
                    "--jitter-ms {jitter_ms} is more than the delay ({delay_ms} ms): packets would be reordered more than delayed"
                ));
            }
        }
        Fault::PacketLoss { loss_percent, .. } if !(1..=100).contains(loss_percent) => {
            return bad(format!("--loss-percent {loss_percent} is outside 1..=100"));
        }
        Fault::CpuStress { load_percent, .. } if !(1..=100).contains(load_percent) => {
            return bad(format!("--load-percent {load_percent} is outside 1..=100"));
        }
        _ => {}
    }
    Ok(())
}

/// Whether a fault is a gray failure (judged by `verdict::hold`).
pub fn is_gray(fault: &Fault) -> bool {
    parts(fault).is_some()
}

/// A gray failure is judged over its duration: that is its budget.
pub fn budget(fault: &Fault) -> Option<Budget> {
    let (_, on, _, _) = parts(fault)?;
    Some(Budget {
        seconds: on.duration as f64,
        source: "the fault's duration: a gray failure is judged over it (steady state must hold), not by a time to recover".into(),
    })
}

/// What the fault does to one instance, for people.
fn effect(fault: &Fault) -> String {
    match fault {
        Fault::Latency {
            delay_ms,
            jitter_ms,
            ..
        } => format!("add {delay_ms} ms ± {jitter_ms} ms latency to"),
        Fault::PacketLoss { loss_percent, .. } => format!("drop {loss_percent}% of the packets of"),
        Fault::CpuStress { load_percent, .. } => format!("load the CPUs at {load_percent}% on"),
        _ => String::new(),
    }
}

/// The SendCommand comment that marks this run's commands, so rollback finds them by it (the
/// command id only exists once the command is sent, and rollback is recorded before that).
fn marker(experiment: &str, env: &str, seed: &str, victims: &[String]) -> String {
    let digest = Sha256::digest(format!("{env}/{seed}/{}", victims.join(",")).as_bytes());
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    // Comment is at most 100 characters (SSM API Reference, SendCommand).
    let mut text = format!("ftctl chaos {experiment} {env} {short}");
    text.truncate(100);
    text
}

pub fn design(fault: &Fault, inv: &Inventory, baseline: &Observation) -> Result<Design, Refusal> {
    check(fault)?;
    let Some((experiment, on, document, _)) = parts(fault) else {
        return Err(Refusal("not a gray failure".into()));
    };
    if inv.groups.is_empty() {
        return Err(Refusal(format!(
            "deployment {} has no tier to degrade",
            inv.env
        )));
    }
    let groups: Vec<&crate::chaos::Group> = if on.tiers.is_empty() {
        inv.groups
            .iter()
            .filter(|g| inv.ssm_tiers.contains(&g.tier))
            .collect()
    } else {
        super::groups_for(inv, &on.tiers)?
    };
    let seed = match &on.seed {
        Some(s) => s.clone(),
        None => super::default_seed(
            &inv.env,
            baseline
                .instances
                .iter()
                .filter(|i| i.state == "running")
                .map(|i| i.id.as_str()),
        ),
    };
    for g in &groups {
        if !inv.ssm_tiers.contains(&g.tier) {
            return Err(Refusal(format!(
                "tier {}'s instance role does not carry AmazonSSMManagedInstanceCore, so Systems \
                 Manager cannot run the fault on its instances: set ssm = true on the tier and apply",
                g.tier
            )));
        }
    }
    if groups.is_empty() {
        return Err(Refusal(format!(
            "no tier of deployment {} is managed by Systems Manager (ssm = true on a tier)",
            inv.env
        )));
    }
    let parameters = parameters(fault).unwrap_or_default();
    let mut actions = Vec::new();
    let mut hit = 0;
    let mut tiers = Vec::new();
    let mut warnings = Vec::new();
    for g in groups {
        let live: Vec<&Instance> = baseline
            .instances
            .iter()
            .filter(|i| i.tier == g.tier && i.state == "running")
            .collect();
        let n = live.len() as u32;
        if n == 0 {
            warnings.push(format!("tier {} has no running instance", g.tier));
            continue;
        }
        let take = super::how_many(n, on.count, on.percent);
        if take >= n && on.percent != Some(100) {
            return Err(Refusal(format!(
                "that would degrade all {n} instance{} of tier {}: the blast radius is capped \
                 below a whole group unless you pass --percent 100",
                if n == 1 { "" } else { "s" },
                g.tier
            )));
        }
        let mut victims: Vec<String> = shuffled(live, &seed, |i: &super::Instance| &i.id)
            .iter()
            .take(take.min(n) as usize)
            .map(|i| i.id.clone())
            .collect();
        victims.sort();
        hit += victims.len();
        for chunk in victims.chunks(MAX_INSTANCES_PER_COMMAND) {
            let chunk = chunk.to_vec();
            actions.push(Action::SendCommand {
                document: document.to_string(),
                comment: marker(experiment, &inv.env, &seed, &chunk),
                instances: chunk,
                parameters: parameters.clone(),
            });
        }
        tiers.push(g.tier.clone());
    }
    if actions.is_empty() {
        return Err(Refusal("no running instance to degrade".into()));
    }
    Ok(Design {
        experiment: experiment.into(),
        summary: format!(
            "{} {hit} instance{} of tier{} {} for {} s",
            effect(fault),
            if hit == 1 { "" } else { "s" },
            if tiers.len() == 1 { "" } else { "s" },
            tiers.join(", "),
            on.duration,
        ),
        zone: None,
        tiers,
        actions,
        budget: budget(fault).unwrap_or(Budget {
            seconds: on.duration as f64,
            source: String::new(),
        }),
        warnings,
        seed: Some(seed),
        steps: Vec::new(),
    })
}

/// The gray experiments `chaos list` offers: each tier Systems Manager reaches.
pub fn applicable(inv: &Inventory) -> Vec<super::Applicable> {
    let mut out = Vec::new();
    for g in inv
        .groups
        .iter()
        .filter(|g| inv.ssm_tiers.contains(&g.tier))
    {
        let on = Share {
            tiers: vec![g.tier.clone()],
            count: None,
            percent: None,
            seed: None,
            duration: 300,
        };
        for (experiment, what, flags, fault) in [
            (
                LATENCY,
                "added latency and jitter",
                "--delay-ms 100 --jitter-ms 10",
                Fault::Latency {
                    on: on.clone(),
                    delay_ms: 100,
                    jitter_ms: 10,
                },
            ),
            (
                PACKET_LOSS,
                "packet loss",
                "--loss-percent 7",
                Fault::PacketLoss {
                    on: on.clone(),
                    loss_percent: 7,
                },
            ),
            (
                CPU_STRESS,
                "CPU stress",
                "--load-percent 80",
                Fault::CpuStress {
                    on: on.clone(),
                    load_percent: 80,
                },
            ),
        ] {
            out.push(super::Applicable {
                experiment: experiment.into(),
                command: format!(
                    "ftctl chaos {experiment} --env {} --group {} {flags} --duration 300",
                    inv.env, g.tier
                ),
                targets: format!("group {} ({what}, through Systems Manager)", g.name),
                // Judged over its duration, as the run would be.
                budget: budget(&fault),
                fault,
            });
        }
    }
    out
}

/// ISO 8601 duration of whole seconds, as FIS takes it.
/// The FIS targets and `aws:ssm:send-command` actions of a gray fault: the same document with
/// the same parameters, on the same share of each tier, chosen by tag when the experiment starts.
pub fn fis(
    fault: &Fault,
    design: &Design,
    inv: &Inventory,
    targets: &mut serde_json::Map<String, serde_json::Value>,
    actions: &mut serde_json::Map<String, serde_json::Value>,
) {
    use serde_json::json;
    let Some((experiment, on, document, _)) = parts(fault) else {
        return;
    };
    let parameters: BTreeMap<String, String> = parameters(fault)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.join(",")))
        .collect();
    // documentParameters is a string holding a JSON object (FIS Actions reference).
    let document_parameters = serde_json::to_string(&parameters).unwrap_or_default();
    let region = if inv.region.is_empty() {
        "REGION"
    } else {
        inv.region.as_str()
    };
    for tier in &design.tiers {
        let Some(group) = inv.groups.iter().find(|g| &g.tier == tier) else {
            continue;
        };
        let name = format!("{tier}-instances");
        targets.insert(
            name.clone(),
            crate::chaos::fis::tier_instances(inv, group, on.count, on.percent),
        );
        actions.insert(
            format!("{experiment}-{tier}"),
            json!({
                "actionId": "aws:ssm:send-command",
                "description": format!("{} tier {tier}'s instances", effect(fault)),
                "parameters": {
                    "documentArn": format!("arn:aws:ssm:{region}::document/{document}"),
                    "documentParameters": document_parameters,
                    "duration": crate::chaos::fis::iso_duration(f64::from(on.duration)),
                },
                "targets": { "Instances": name },
            }),
        );
    }
}
