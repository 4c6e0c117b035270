//! The AWS Backup plan of a deployment's databases (RDS.26): one daily rule into the
//! deployment's vault, and one selection naming the databases by ARN, assumed through a role
//! AWS Backup may use. Selections cannot be changed, so a changed one is replaced.

use super::tags::backup_owner;
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, changed, coded, error_code, i, observed_from_spec, read_each, retry_propagation, s,
    str_list, strs, updated_in_place, Propagating, IAM_PROPAGATION,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_backup::types::{BackupPlanInput, BackupRuleInput, BackupSelection, Lifecycle};

/// Every attribute of a backup plan: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::BackupPlan,
    &[
        Attr::new("delete_after_days"),
        Attr::new("iam_role_arn"),
        Attr::new("resources"),
        Attr::new("schedule"),
        Attr::new("vault_name"),
    ],
);

pub struct BackupPlanProvider;

/// AWS Backup refuses a role made moments before ("cannot be assumed", "is not authorized");
/// terraform-provider-aws retries CreateBackupSelection on the same answers.
const ROLE_PROPAGATING: &[Propagating] = &[
    ("InvalidParameterValueException", "cannot be assumed"),
    ("InvalidParameterValueException", "is not authorized"),
];

/// Starts within an hour of the scheduled time, done within 12 hours (AWS Backup defaults
/// are 8 hours and 7 days: a backup that late is not the night's backup).
const START_WINDOW_MINUTES: i64 = 60;
const COMPLETION_WINDOW_MINUTES: i64 = 720;

fn plan_input(spec: &ResourceSpec) -> Result<BackupPlanInput> {
    let rule = BackupRuleInput::builder()
        .rule_name("daily")
        .target_backup_vault_name(s(spec, "vault_name")?)
        .schedule_expression(s(spec, "schedule")?)
        .start_window_minutes(START_WINDOW_MINUTES)
        .completion_window_minutes(COMPLETION_WINDOW_MINUTES)
        .lifecycle(
            Lifecycle::builder()
                .delete_after_days(i(spec, "delete_after_days")?)
                .build(),
        )
        .build()?;
    Ok(BackupPlanInput::builder()
        .backup_plan_name(&spec.name)
        .rules(rule)
        .build()?)
}

async fn create_selection(ctx: &Ctx<'_>, spec: &ResourceSpec, plan_id: &str) -> Result<()> {
    let selection = BackupSelection::builder()
        .selection_name(format!("{}-databases", ctx.env()))
        .iam_role_arn(s(spec, "iam_role_arn")?)
        .set_resources(Some(strs(spec, "resources")))
        .build()?;
    retry_propagation(ROLE_PROPAGATING, IAM_PROPAGATION, || async {
        ctx.clients
            .backup
            .create_backup_selection()
            .backup_plan_id(plan_id)
            .backup_selection(selection.clone())
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                coded(
                    &format!("selecting the databases of backup plan {plan_id}"),
                    e,
                )
            })
    })
    .await
    .map_err(|(_, e)| e)
}

async fn selection_ids(ctx: &Ctx<'_>, plan_id: &str) -> Result<Vec<String>> {
    let list: Vec<_> = ctx
        .clients
        .backup
        .list_backup_selections()
        .backup_plan_id(plan_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error(&format!("listing selections of backup plan {plan_id}"), e))?;
    Ok(list
        .iter()
        .filter_map(|s| s.selection_id().map(str::to_string))
        .collect())
}

async fn delete_selections(ctx: &Ctx<'_>, plan_id: &str) -> Result<()> {
    for id in selection_ids(ctx, plan_id).await? {
        match ctx
            .clients
            .backup
            .delete_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(&id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(aws_error(&format!("deleting backup selection {id}"), e)),
        }
    }
    Ok(())
}

#[async_trait]
impl Provider for BackupPlanProvider {
    fn kind(&self) -> Kind {
        Kind::BackupPlan
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let plans: Vec<_> = ctx
            .clients
            .backup
            .list_backup_plans()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing backup plans", e))?;
        let prefix = ctx.name_prefix();
        let ours = plans
            .into_iter()
            .filter(|p| p.backup_plan_name().is_some_and(|n| n.starts_with(&prefix)));
        read_each(ours, |p| async move {
            let (Some(name), Some(arn), Some(plan_id)) = (
                p.backup_plan_name(),
                p.backup_plan_arn(),
                p.backup_plan_id(),
            ) else {
                return Ok(None);
            };
            let backup = &ctx.clients.backup;
            let what = format!("backup plan {name}");
            let Some((id, stack)) = backup_owner(ctx, arn, &what).await? else {
                return Ok(None);
            };
            let plan = backup
                .get_backup_plan()
                .backup_plan_id(plan_id)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading backup plan {name}"), e))?;
            let mut o = Observed::new(&id, Kind::BackupPlan, plan_id)
                .output("id", plan_id)
                .output("arn", arn);
            if let Some(rule) = plan.backup_plan().and_then(|b| b.rules().first()) {
                o = o
                    .prop("vault_name", Val::str(rule.target_backup_vault_name()))
                    .prop(
                        "schedule",
                        Val::str(rule.schedule_expression().unwrap_or_default()),
                    );
                if let Some(days) = rule.lifecycle().and_then(|l| l.delete_after_days()) {
                    o = o.prop("delete_after_days", Val::Int(days));
                }
            }
            if let Some(selection_id) = selection_ids(ctx, plan_id).await?.first() {
                let selection = backup
                    .get_backup_selection()
                    .backup_plan_id(plan_id)
                    .selection_id(selection_id)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("reading the selection of {name}"), e))?;
                if let Some(sel) = selection.backup_selection() {
                    o = o
                        .prop("iam_role_arn", Val::str(sel.iam_role_arn()))
                        .prop("resources", str_list(sel.resources().iter().cloned()));
                }
            }
            o.name = name.to_string();
            o.stack = stack;
            Ok(Some(o))
        })
        .await
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .backup
            .create_backup_plan()
            .backup_plan(plan_input(spec)?)
            .set_backup_plan_tags(Some(ctx.tags(spec).into_iter().collect()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating backup plan {}", spec.name), e))?;
        let plan_id = out
            .backup_plan_id()
            .ok_or_else(|| anyhow!("CreateBackupPlan returned no id"))?;
        create_selection(ctx, spec, plan_id).await?;
        Ok(observed_from_spec(spec, plan_id)
            .output("id", plan_id)
            .output("arn", out.backup_plan_arn().unwrap_or_default()))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let plan_id = current.physical_id.as_str();
        if ["vault_name", "schedule", "delete_after_days"]
            .iter()
            .any(|k| changed(spec, current, k))
        {
            ctx.clients
                .backup
                .update_backup_plan()
                .backup_plan_id(plan_id)
                .backup_plan(plan_input(spec)?)
                .send()
                .await
                .map_err(|e| aws_error(&format!("updating backup plan {}", spec.name), e))?;
        }
        if changed(spec, current, "resources") || changed(spec, current, "iam_role_arn") {
            delete_selections(ctx, plan_id).await?;
            create_selection(ctx, spec, plan_id).await?;
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let plan_id = current.physical_id.as_str();
        // AWS refuses to delete a plan that still has selections.
        delete_selections(ctx, plan_id).await?;
        match ctx
            .clients
            .backup
            .delete_backup_plan()
            .backup_plan_id(plan_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(aws_error(&format!("deleting backup plan {plan_id}"), e)),
        }
    }
}
