//! `ftctl status`: the deployment's health at a glance — every tier's capacity per zone, the
//! database, cache and service states, the alarms in ALARM with their reasons, and the latest
//! alarm changes. `--watch` redraws it in place.

use super::chaos::state_lines;
use super::InputError;
use crate::aws::chaos::AwsLab;
use crate::aws::cloudwatch::alarm_state::{alarm_history, firing, AlarmPlaces};
use crate::aws::{AwsCloud, DeleteOptions};
use crate::chaos::run::Lab;
use crate::chaos::Inventory;
use crate::cloud::Cloud;
use crate::deployment::{self, Deployment};
use crate::evidence::{ModeStanding, Standing};
use anyhow::{bail, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use std::process::ExitCode;
use std::time::Duration;

fn clock(unix: Option<i64>) -> String {
    unix.map(|t| {
        let s = crate::backup::utc_stamp(t);
        format!(
            "{}-{}-{} {}:{}:{}",
            &s[..4],
            &s[4..6],
            &s[6..8],
            &s[8..10],
            &s[10..12],
            &s[12..14]
        )
    })
    .unwrap_or_else(|| "-".into())
}

pub async fn run(
    env: &str,
    region: Option<&str>,
    watch: bool,
    interval: f64,
    json: bool,
) -> Result<ExitCode> {
    deployment::validate_env(env).map_err(InputError)?;
    let cloud = AwsCloud::connect(region, DeleteOptions::default()).await?;
    let observed = cloud
        .observe(&Deployment {
            env: env.to_string(),
            stack: String::new(),
        })
        .await?;
    let inv = Inventory::from_observed(env, &observed);
    if observed.is_empty() {
        bail!("deployment {env} owns nothing in {}", cloud.target());
    }
    // Read once: evidence changes only when an experiment runs, which takes the lock.
    let resilience = match super::verify::standings(&cloud, &inv, &observed).await {
        Ok((uri, _, standings)) => Some((uri, standings)),
        Err(e) => {
            eprintln!("warning: the deployment's evidence could not be read: {e:#}");
            None
        }
    };
    let names: Vec<String> = inv.alarms.iter().map(|a| a.name.clone()).collect();
    let places = AlarmPlaces::new(&cloud, &inv);
    let lab = AwsLab::new(&cloud, &inv);
    let term = console::Term::stdout();
    loop {
        let (obs, alarms, history) = tokio::try_join!(
            lab.probe(),
            firing(&places, &names),
            alarm_history(&places, &names, 10),
        )?;
        let now = crate::aws::unix_now() as i64;
        let problems = obs.snapshot.problems(&names);
        if json {
            let doc = serde_json::json!({
                "deployment": env,
                "stack": inv.stack,
                "target": cloud.target(),
                "at": now,
                "steady": problems.is_empty(),
                "problems": problems,
                "snapshot": obs.snapshot,
                "alarms_in_alarm": alarms,
                "recent_alarm_changes": history,
                "resilience": resilience.as_ref().map(|(uri, standings)| serde_json::json!({
                    "evidence": uri,
                    "score": crate::evidence::score(standings),
                    "score_definition": crate::verify::SCORE_DEFINITION,
                    "failure_modes": standings,
                })),
            });
            println!("{}", serde_json::to_string(&doc)?);
        } else {
            let mut s = format!(
                "Deployment {env} ({}) in {} at {} UTC\n\n",
                inv.stack,
                cloud.target(),
                clock(Some(now))
            );
            s.push_str(&state_lines(&obs.snapshot));
            s.push_str(&format!(
                "  steady: {}\n",
                if problems.is_empty() {
                    "yes".to_string()
                } else {
                    format!("NO ({})", problems.join("; "))
                }
            ));
            s.push_str(&format!(
                "\nAlarms in ALARM ({} of {}):\n",
                alarms.len(),
                names.len()
            ));
            if alarms.is_empty() {
                s.push_str("  none\n");
            }
            for a in &alarms {
                s.push_str(&format!(
                    "  {} since {}: {}\n",
                    a.name,
                    clock(a.since),
                    a.reason
                ));
            }
            s.push_str("\nRecent alarm changes:\n");
            if history.is_empty() {
                s.push_str("  none\n");
            }
            for h in &history {
                s.push_str(&format!("  {} {}: {}\n", clock(h.at), h.name, h.summary));
            }
            if let Some((uri, standings)) = &resilience {
                s.push_str(&resilience_lines(uri, standings, now));
            }
            if watch && term.is_term() {
                let _ = term.clear_screen();
            }
            print!("{s}");
        }
        if !watch {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(interval)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}

/// Each failure mode `chaos list` derives: whether valid passing evidence exists, how old it
/// is and what it measured; then the score.
fn resilience_lines(uri: &str, standings: &[ModeStanding], now: i64) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec!["failure mode", "evidence", "age", "measured"]);
    for m in standings {
        let standing = match &m.standing {
            Standing::Stale { changed } => format!("stale: {} changed", changed.join(", ")),
            other => other.label().to_string(),
        };
        let (age, measured) = match &m.evidence {
            Some(e) => {
                let at = aws_smithy_types::DateTime::from_str(
                    &e.at,
                    aws_smithy_types::date_time::Format::DateTime,
                )
                .map(|t| t.secs())
                .ok();
                let age = at
                    .map(|t| crate::evidence::age(now - t))
                    .unwrap_or_else(|| e.at.clone());
                (age, e.describe())
            }
            None => ("-".into(), format!("never run: {}", m.command)),
        };
        table.add_row(vec![m.failure_mode.clone(), standing, age, measured]);
    }
    format!(
        "\nResilience (evidence in {uri}): score {:.2}\n{table}\n",
        crate::evidence::score(standings)
    )
}
