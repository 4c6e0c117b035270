//! RDS DB parameter groups: the engine settings ftctl's databases run with — TLS required of
//! every client (Security Hub RDS.39 for MySQL's `require_secure_transport`, RDS.38 for
//! PostgreSQL's `rds.force_ssl`) and the logs RDS.9 wants exported actually written.
//!
//! Only the parameters ftctl sets are compared: `DescribeDBParameters` with `Source=user` lists
//! what differs from the engine's defaults (RDS API reference, DescribeDBParameters).

use super::tags::{rds_owner, rds_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, coded, delete_waiting, observed_from_spec, parameters_to_set, s, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, Parameter};

/// Every attribute of a rds db parameter group: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::DbParameterGroup,
    &[
        // Neither can be changed after creation (RDS API reference, ModifyDBParameterGroup).
        Attr::new("description").replaces(),
        Attr::new("family").replaces(),
        Attr::new("parameters"),
    ],
);

pub struct DbParameterGroupProvider;

/// The parameters to set, as RDS takes them. Every one ftctl sets is dynamic, so it applies at
/// once ("You can use the immediate value with dynamic parameters only").
fn as_parameters(values: Vec<(String, String)>) -> Vec<Parameter> {
    values
        .into_iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v)
                .apply_method(ApplyMethod::Immediate)
                .build()
        })
        .collect()
}

async fn set_parameters(ctx: &Ctx<'_>, name: &str, params: Vec<Parameter>) -> Result<()> {
    // At most 20 parameters per call (RDS API reference, ModifyDBParameterGroup).
    for chunk in params.chunks(20) {
        ctx.clients
            .rds
            .modify_db_parameter_group()
            .db_parameter_group_name(name)
            .set_parameters(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting parameters of {name}"), e))?;
    }
    Ok(())
}

/// The parameters of `name` set by ModifyDBParameterGroup (`Source=user`): ftctl's, and any set
/// by hand, which an update then resets (the stack owns the whole group).
async fn user_parameters(ctx: &Ctx<'_>, name: &str) -> Result<Val> {
    let params: Vec<Parameter> = ctx
        .clients
        .rds
        .describe_db_parameters()
        .db_parameter_group_name(name)
        .source("user")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error(&format!("reading parameters of {name}"), e))?;
    Ok(Val::map(params.iter().filter_map(|p| {
        Some((
            p.parameter_name()?.to_string(),
            Val::str(p.parameter_value().unwrap_or_default()),
        ))
    })))
}

#[async_trait]
impl Provider for DbParameterGroupProvider {
    fn kind(&self) -> Kind {
        Kind::DbParameterGroup
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = ctx.name_prefix();
        let groups: Vec<_> = ctx
            .clients
            .rds
            .describe_db_parameter_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing DB parameter groups", e))?;
        let mut found = Vec::new();
        for g in groups.iter().filter(|g| {
            g.db_parameter_group_name()
                .is_some_and(|n| n.starts_with(&prefix))
        }) {
            let arn = g.db_parameter_group_arn().unwrap_or_default();
            let Some((id, stack)) = rds_owner(ctx, arn).await? else {
                continue;
            };
            let name = g.db_parameter_group_name().unwrap_or_default();
            let mut o = Observed::new(&id, Kind::DbParameterGroup, name)
                .prop(
                    "family",
                    Val::str(g.db_parameter_group_family().unwrap_or_default()),
                )
                .prop("description", Val::str(g.description().unwrap_or_default()))
                .prop("parameters", user_parameters(ctx, name).await?)
                .output("name", name)
                .output("arn", arn);
            o.name = name.to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(&spec.name)
            .db_parameter_group_family(s(spec, "family")?)
            .description(s(spec, "description")?)
            .set_tags(Some(rds_tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating DB parameter group {}", spec.name), e))?;
        set_parameters(
            ctx,
            &spec.name,
            as_parameters(parameters_to_set(spec, None)?),
        )
        .await?;
        let arn = out
            .db_parameter_group()
            .and_then(|g| g.db_parameter_group_arn())
            .unwrap_or_default();
        Ok(observed_from_spec(spec, &spec.name)
            .output("name", &spec.name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let name = current.physical_id.as_str();
        // Only the parameters whose value differs.
        let differing = as_parameters(parameters_to_set(spec, Some(current))?);
        set_parameters(ctx, name, differing).await?;
        // A parameter ftctl no longer sets goes back to the engine's default.
        let keep = spec.props.get("parameters").and_then(Val::as_map);
        let dropped: Vec<Parameter> = current
            .props
            .get("parameters")
            .and_then(Val::as_map)
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|k| !keep.is_some_and(|m| m.contains_key(*k)))
            .map(|k| {
                Parameter::builder()
                    .parameter_name(k)
                    .apply_method(ApplyMethod::Immediate)
                    .build()
            })
            .collect();
        for chunk in dropped.chunks(20) {
            ctx.clients
                .rds
                .reset_db_parameter_group()
                .db_parameter_group_name(name)
                .set_parameters(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error(&format!("resetting parameters of {name}"), e))?;
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current.physical_id.clone();
        // Refused while a database still uses it (one being deleted, still): wait that out.
        delete_waiting(
            &["InvalidDBParameterGroupState"],
            "DBParameterGroupNotFound",
            || async {
                ctx.clients
                    .rds
                    .delete_db_parameter_group()
                    .db_parameter_group_name(&name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| coded(&format!("deleting DB parameter group {name}"), e))
            },
        )
        .await
    }
}
