//! Plans and outcomes for people (Terraform-style text) and for programs (JSON).

use crate::check::Drift;
use crate::plan::{summary_line, Action, Change, Plan};
use crate::resource::Val;
use console::style;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Context printed above a plan.
pub struct Heading<'a> {
    pub deployment: &'a str,
    pub stack: &'a str,
    pub target: String,
}

/// The first `bytes` bytes of the text's sha256, in hex.
pub fn short_sha(text: &str, bytes: usize) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(bytes)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Long or multi-line text (user data) is summarised so plans stay readable.
fn show(v: &Val) -> String {
    match v {
        Val::Str(s) if s.contains('\n') || s.len() > 100 => {
            format!("<{} lines, sha256:{}…>", s.lines().count(), short_sha(s, 6))
        }
        other => other.render(),
    }
}

fn colour(action: Action, text: &str) -> String {
    match action {
        Action::Create => style(text).green().to_string(),
        Action::Update => style(text).yellow().to_string(),
        Action::Replace => style(text).magenta().to_string(),
        Action::Delete => style(text).red().to_string(),
        Action::NoOp => text.to_string(),
    }
}

fn change_text(out: &mut String, c: &Change) {
    let symbol = colour(c.action, c.action.symbol());
    let physical = c
        .physical_id
        .as_deref()
        .map(|p| format!(" [{p}]"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {symbol} {} ({} \"{}\"){physical}",
        style(&c.id).bold(),
        c.kind,
        c.name
    );
    if let Some(reason) = &c.reason {
        let _ = writeln!(out, "      # {reason}");
    }
    let width = c.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in &c.attributes {
        let line = match (&a.before, &a.after) {
            (None, Some(after)) if c.action == Action::Create => {
                format!("      {:width$} = {}", a.name, show(after))
            }
            (before, Some(after)) => format!(
                "      ~ {:width$} = {} -> {}{}",
                a.name,
                before.as_ref().map(show).unwrap_or_else(|| "(none)".into()),
                show(after),
                if a.forces_replacement {
                    style(" (forces replacement)").magenta().to_string()
                } else {
                    String::new()
                }
            ),
            _ => continue,
        };
        let _ = writeln!(out, "{line}");
    }
}

/// "Deployment NAME (stack STACK), TARGET": the first line of a plan and of a drift report.
fn heading_line(heading: &Heading<'_>) -> String {
    format!(
        "Deployment {} (stack {}), {}\n",
        style(heading.deployment).bold(),
        heading.stack,
        heading.target
    )
}

pub fn plan_text(heading: &Heading<'_>, plan: &Plan) -> String {
    let mut out = heading_line(heading);
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "\nNo changes. The deployment matches the stack ({} resources).",
            plan.unchanged.len()
        );
        return out;
    }
    let _ = writeln!(
        out,
        "\nftctl will perform these actions ({} resources unchanged):\n",
        plan.unchanged.len()
    );
    for c in &plan.changes {
        change_text(&mut out, c);
    }
    let _ = writeln!(out, "\nPlan: {}", summary_line(&plan.summary));
    out
}

pub fn plan_json(heading: &Heading<'_>, region: &str, plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "deployment": heading.deployment,
        "stack": heading.stack,
        "region": region,
        "changes": plan.changes,
        "summary": plan.summary,
        "unchanged": plan.unchanged.len(),
    })
}

/// `plan --refresh-only`: what differs from the stack, attribute by attribute; no proposal.
pub fn drift_text(heading: &Heading<'_>, drift: &[Drift], matching: usize) -> String {
    let mut out = heading_line(heading);
    if drift.is_empty() {
        let _ = writeln!(
            out,
            "\nNo drift. The deployment matches the stack ({matching} resources)."
        );
        return out;
    }
    let _ = writeln!(
        out,
        "\nDrift: {} resource{} differ{} from the stack ({matching} match):\n",
        drift.len(),
        if drift.len() == 1 { "" } else { "s" },
        if drift.len() == 1 { "s" } else { "" }
    );
    for d in drift {
        let (symbol, note) = match d.status {
            "missing" => ("!", " # in the stack, missing in AWS"),
            "not_in_stack" => ("?", " # in AWS, not in the stack"),
            _ => ("~", ""),
        };
        let physical = d
            .physical_id
            .as_deref()
            .map(|p| format!(" [{p}]"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {} ({} \"{}\"){physical}{note}",
            colour(Action::Update, symbol),
            style(&d.id).bold(),
            d.kind,
            d.name
        );
        let width = d.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
        for a in &d.attributes {
            let _ = writeln!(
                out,
                "      {:width$}  live {}, stack {}",
                a.name,
                a.live.as_ref().map(show).unwrap_or_else(|| "(none)".into()),
                a.stack
                    .as_ref()
                    .map(show)
                    .unwrap_or_else(|| "(none)".into()),
            );
        }
    }
    let _ = writeln!(
        out,
        "\nNothing is proposed or changed. `ftctl apply` would set the stack's values again; to keep the live ones, put them into the stack file."
    );
    out
}

pub fn drift_json(
    heading: &Heading<'_>,
    region: &str,
    drift: &[Drift],
    matching: usize,
) -> serde_json::Value {
    serde_json::json!({
        "deployment": heading.deployment,
        "stack": heading.stack,
        "region": region,
        "refresh_only": true,
        "drift": drift,
        "matching": matching,
    })
}
