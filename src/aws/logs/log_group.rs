//! CloudWatch Logs groups for service logs, with a retention period (logs are not kept for
//! ever by accident). Named `/ftctl/<deployment>/<service>`, which is how they are found.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, error_code, i, observed_from_spec, updated_in_place};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;

/// Every attribute of a logs log group: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(Kind::LogGroup, &[Attr::new("retention_days")]);

pub struct LogGroupProvider;

fn prefix(ctx: &Ctx<'_>) -> String {
    format!("/ftctl/{}/", ctx.env())
}

#[async_trait]
impl Provider for LogGroupProvider {
    fn kind(&self) -> Kind {
        Kind::LogGroup
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let logs = &ctx.clients.logs;
        let groups: Vec<_> = logs
            .describe_log_groups()
            .log_group_name_prefix(prefix(ctx))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing log groups", e))?;
        let mut found = Vec::new();
        for g in groups {
            let name = g.log_group_name().unwrap_or_default();
            let streams_arn = g.arn().unwrap_or_default();
            // `arn` ends in `:*` (the group's streams); the tagging API wants the group's own.
            let arn = g
                .log_group_arn()
                .map(str::to_string)
                .unwrap_or_else(|| streams_arn.trim_end_matches(":*").to_string());
            let tags = logs
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading tags of log group {name}"), e))?;
            let Some((id, stack)) = ctx.owner(
                tags.tags()
                    .iter()
                    .flat_map(|m| m.iter())
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ) else {
                continue;
            };
            let mut o = Observed::new(&id, Kind::LogGroup, name)
                .prop(
                    "retention_days",
                    Val::Int(g.retention_in_days().unwrap_or(0).into()),
                )
                .output("name", name)
                .output("arn", &arn)
                .output("streams_arn", streams_arn);
            o.name = name.to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let name = spec.name.as_str();
        let logs = &ctx.clients.logs;
        logs.create_log_group()
            .log_group_name(name)
            .set_tags(Some(ctx.tags(spec).into_iter().collect()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating log group {name}"), e))?;
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(i(spec, "retention_days")? as i32)
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting retention of log group {name}"), e))?;
        let described = logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .send()
            .await
            .map_err(|e| aws_error(&format!("reading log group {name}"), e))?;
        let g = described
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
            .ok_or_else(|| anyhow!("log group {name} was created but is not listed"))?;
        let streams_arn = g.arn().unwrap_or_default().to_string();
        let arn = g
            .log_group_arn()
            .map(str::to_string)
            .unwrap_or_else(|| streams_arn.trim_end_matches(":*").to_string());
        Ok(observed_from_spec(spec, name)
            .output("name", name)
            .output("arn", arn)
            .output("streams_arn", streams_arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let name = current.physical_id.as_str();
        ctx.clients
            .logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(i(spec, "retention_days")? as i32)
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting retention of log group {name}"), e))?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current.physical_id.as_str();
        match ctx
            .clients
            .logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(aws_error(&format!("deleting log group {name}"), e)),
        }
    }
}
