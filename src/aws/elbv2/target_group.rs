//! ELB target groups with explicit health checks.

use super::tags::{elb_owner, elb_tag_list, elb_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{arn_suffix, aws_error, coded, delete_waiting, i, observed_from_spec, s};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetTypeEnum};

/// Every attribute of an elbv2 target group: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::TargetGroup,
    &[
        Attr::new("health_check_interval_seconds"),
        Attr::new("health_check_path"),
        Attr::new("health_check_timeout_seconds"),
        Attr::new("healthy_threshold"),
        Attr::new("matcher"),
        Attr::new("port").replaces(),
        Attr::new("protocol").replaces(),
        Attr::new("target_type").replaces(),
        Attr::new("unhealthy_threshold"),
        Attr::new("vpc_id").replaces(),
    ],
);

pub struct TargetGroupProvider;

#[async_trait]
impl Provider for TargetGroupProvider {
    fn kind(&self) -> Kind {
        Kind::TargetGroup
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = ctx.name_prefix();
        let groups: Vec<_> = ctx
            .clients
            .elb
            .describe_target_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing target groups", e))?
            .into_iter()
            .filter(|g| {
                g.target_group_name()
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .collect();
        let arns: Vec<String> = groups
            .iter()
            .filter_map(|g| g.target_group_arn().map(str::to_string))
            .collect();
        let tags = elb_tags(ctx, &arns).await?;
        let mut found = Vec::new();
        for g in groups {
            let arn = g.target_group_arn().unwrap_or_default();
            let Some((id, stack)) = elb_owner(ctx, tags.get(arn)) else {
                continue;
            };
            let mut o = Observed::new(&id, Kind::TargetGroup, arn)
                .prop("vpc_id", Val::str(g.vpc_id().unwrap_or_default()))
                .prop("port", Val::Int(g.port().unwrap_or(0).into()))
                .prop(
                    "protocol",
                    Val::str(g.protocol().map(|p| p.as_str()).unwrap_or_default()),
                )
                .prop(
                    "target_type",
                    Val::str(g.target_type().map(|p| p.as_str()).unwrap_or("instance")),
                )
                .prop(
                    "health_check_path",
                    Val::str(g.health_check_path().unwrap_or_default()),
                )
                .prop(
                    "health_check_interval_seconds",
                    Val::Int(g.health_check_interval_seconds().unwrap_or(0).into()),
                )
                .prop(
                    "health_check_timeout_seconds",
                    Val::Int(g.health_check_timeout_seconds().unwrap_or(0).into()),
                )
                .prop(
                    "healthy_threshold",
                    Val::Int(g.healthy_threshold_count().unwrap_or(0).into()),
                )
                .prop(
                    "unhealthy_threshold",
                    Val::Int(g.unhealthy_threshold_count().unwrap_or(0).into()),
                )
                .prop(
                    "matcher",
                    Val::str(g.matcher().and_then(|m| m.http_code()).unwrap_or_default()),
                )
                .output("arn", arn)
                .output("arn_suffix", arn_suffix(arn))
                .output("name", g.target_group_name().unwrap_or_default());
            o.name = g.target_group_name().unwrap_or_default().to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .elb
            .create_target_group()
            .name(&spec.name)
            .vpc_id(s(spec, "vpc_id")?)
            .port(i(spec, "port")? as i32)
            .protocol(ProtocolEnum::from(s(spec, "protocol")?))
            .target_type(TargetTypeEnum::from(s(spec, "target_type")?))
            .health_check_enabled(true)
            .health_check_path(s(spec, "health_check_path")?)
            .health_check_interval_seconds(i(spec, "health_check_interval_seconds")? as i32)
            .health_check_timeout_seconds(i(spec, "health_check_timeout_seconds")? as i32)
            .healthy_threshold_count(i(spec, "healthy_threshold")? as i32)
            .unhealthy_threshold_count(i(spec, "unhealthy_threshold")? as i32)
            .matcher(Matcher::builder().http_code(s(spec, "matcher")?).build())
            .set_tags(Some(elb_tag_list(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating target group {}", spec.name), e))?;
        let arn = out
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .ok_or_else(|| anyhow!("CreateTargetGroup returned no ARN"))?;
        Ok(observed_from_spec(spec, arn)
            .output("arn", arn)
            .output("arn_suffix", arn_suffix(arn))
            .output("name", &spec.name))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let arn = current.physical_id.as_str();
        ctx.clients
            .elb
            .modify_target_group()
            .target_group_arn(arn)
            .health_check_path(s(spec, "health_check_path")?)
            .health_check_interval_seconds(i(spec, "health_check_interval_seconds")? as i32)
            .health_check_timeout_seconds(i(spec, "health_check_timeout_seconds")? as i32)
            .healthy_threshold_count(i(spec, "healthy_threshold")? as i32)
            .unhealthy_threshold_count(i(spec, "unhealthy_threshold")? as i32)
            .matcher(Matcher::builder().http_code(s(spec, "matcher")?).build())
            .send()
            .await
            .map_err(|e| aws_error(&format!("modifying target group {}", spec.name), e))?;
        let mut o = observed_from_spec(spec, arn);
        o.outputs = current.outputs.clone();
        Ok(o)
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let arn = current.physical_id.clone();
        delete_waiting(&["ResourceInUse"], "TargetGroupNotFound", || async {
            ctx.clients
                .elb
                .delete_target_group()
                .target_group_arn(&arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting target group {arn}"), e))
        })
        .await
    }
}
