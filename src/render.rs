//! Plans and outcomes for people (Terraform-style text) and for programs (JSON).

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

/// Long or multi-line text (user data) is summarised so plans stay readable.
fn show(v: &Val) -> String {
    match v {
        Val::Str(s) if s.contains('\n') || s.len() > 100 => {
            let digest = Sha256::digest(s.as_bytes());
            let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
            format!("<{} lines, sha256:{hex}…>", s.lines().count())
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

pub fn plan_text(heading: &Heading<'_>, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Deployment {} (stack {}), {}",
        style(heading.deployment).bold(),
        heading.stack,
        heading.target
    );
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
