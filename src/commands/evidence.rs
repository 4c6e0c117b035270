//! Evidence in plan, apply and destroy: the configuration `apply` records in the deployment's
//! evidence bucket (marked unfinished before the first change and finished after the last),
//! the passing proofs a plan or drift invalidates, and what `destroy` leaves behind. Reading
//! evidence never stops a plan (a warning says it could not be read); recording the start of
//! an apply does stop it, before any change: a configuration nobody recorded would let old
//! proofs pass for new ones.

use crate::deployment::Deployment;
use crate::evidence::{invalidated_by, Applied, Evidence, Stale};
use crate::plan::Plan;
use crate::resource::ResourceSpec;
use crate::session::Session;
use crate::stack::Stack;
use anyhow::{Context, Result};
use std::collections::BTreeSet;

fn now() -> String {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// The record of `desired` as applied to `deployment`, with the stack's objectives when there is
/// a stack (a saved plan brings its own).
pub(super) fn applied_of(
    deployment: &Deployment,
    desired: &[ResourceSpec],
    stack: Option<&Stack>,
) -> Applied {
    let applied = Applied::from_specs(&deployment.env, &deployment.stack, desired, &now());
    match stack {
        Some(stack) => applied.with_objectives(stack),
        None => applied,
    }
}

/// The newest proof of each failure mode, or none (with a warning) when they cannot be read.
pub(super) async fn proofs(session: &Session, env: &str) -> Vec<Evidence> {
    match session.evidence.latest(env).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warning: the deployment's evidence could not be read, so no proof is checked against this plan: {e:#}");
            Vec::new()
        }
    }
}

/// The passing proofs `plan` invalidates: its changes and its planned specs against each
/// proof's radius.
pub(super) fn invalidated<'a>(
    plan: &Plan,
    planned: &Applied,
    proofs: &'a [Evidence],
) -> Vec<Stale<'a>> {
    let changed: BTreeSet<String> = plan.changes.iter().map(|c| c.id.clone()).collect();
    invalidated_by(&changed, Some(planned), proofs)
}

pub(super) fn stale_json(stale: &[Stale<'_>]) -> serde_json::Value {
    serde_json::Value::Array(
        stale
            .iter()
            .map(|s| {
                serde_json::json!({
                    "failure_mode": s.evidence.failure_mode,
                    "proof": s.evidence.describe(),
                    "at": s.evidence.at,
                    "recovered_after": s.evidence.recovered_after,
                    "budget_seconds": s.evidence.budget_seconds,
                    "changed": s.changed,
                })
            })
            .collect(),
    )
}

/// Before the first change: the configuration is in flux until the apply finishes.
pub(super) async fn record_applying(session: &Session, applied: &Applied) -> Result<()> {
    let mut applying = applied.clone();
    applying.complete = false;
    session
        .evidence
        .record_applied(&applying)
        .await
        .context("recording the start of the apply in the deployment's evidence bucket (nothing was changed)")
}

/// After the last change.
pub(super) async fn record_applied(session: &Session, applied: &Applied) {
    if let Err(e) = session.evidence.record_applied(applied).await {
        eprintln!(
            "warning: the applied configuration was not recorded, so proofs cannot be tied to it until the next apply: {e:#}"
        );
    }
}

/// A plan with nothing to do: recorded only when the record says otherwise (first apply by a
/// version that keeps evidence, objectives changed, an apply that stopped half-way and was
/// finished by hand).
pub(super) async fn record_unchanged(session: &Session, applied: &Applied) {
    match session.evidence.applied(&applied.deployment).await {
        Ok(Some(known)) if known.same_configuration(applied) => {}
        Ok(_) => record_applied(session, applied).await,
        Err(e) => eprintln!("warning: the deployment's evidence could not be read: {e:#}"),
    }
}

/// After a destroy.
pub(super) async fn forget(session: &Session, env: &str, delete_evidence: bool) -> Result<()> {
    if let Some(said) = session.evidence.forget(env, delete_evidence).await? {
        println!("{said}");
    }
    Ok(())
}
