//! The deployment's ECS cluster (Fargate only, so it has no instances), with Container Insights
//! on: the running-task alarm reads its metrics.

use super::tags::{ecs_owner, ecs_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, b, coded, delete_waiting, observed_from_spec, updated_in_place};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName};

/// Every attribute of an ecs cluster: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(Kind::EcsCluster, &[Attr::new("container_insights")]);

pub struct EcsClusterProvider;

fn insights(on: bool) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(if on { "enabled" } else { "disabled" })
        .build()
}

#[async_trait]
impl Provider for EcsClusterProvider {
    fn kind(&self) -> Kind {
        Kind::EcsCluster
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let ecs = &ctx.clients.ecs;
        let arns: Vec<String> = ecs
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing ECS clusters", e))?;
        let prefix = format!(":cluster/{}", ctx.name_prefix());
        let ours: Vec<String> = arns.into_iter().filter(|a| a.contains(&prefix)).collect();
        let mut found = Vec::new();
        for chunk in ours.chunks(100) {
            let out = ecs
                .describe_clusters()
                .set_clusters(Some(chunk.to_vec()))
                .include(ClusterField::Tags)
                .include(ClusterField::Settings)
                .send()
                .await
                .map_err(|e| aws_error("describing ECS clusters", e))?;
            for c in out.clusters() {
                if c.status() == Some("INACTIVE") {
                    continue;
                }
                let Some((id, stack)) = ecs_owner(ctx, c.tags()) else {
                    continue;
                };
                let name = c.cluster_name().unwrap_or_default();
                let on = c.settings().iter().any(|s| {
                    s.name() == Some(&ClusterSettingName::ContainerInsights)
                        && s.value().is_some_and(|v| v != "disabled")
                });
                let mut o = Observed::new(&id, Kind::EcsCluster, name)
                    .prop("container_insights", Val::Bool(on))
                    .output("name", name)
                    .output("arn", c.cluster_arn().unwrap_or_default());
                o.name = name.to_string();
                o.stack = stack;
                found.push(o);
            }
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let name = spec.name.as_str();
        let out = ctx
            .clients
            .ecs
            .create_cluster()
            .cluster_name(name)
            .settings(insights(b(spec, "container_insights")?))
            .set_tags(Some(ecs_tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating ECS cluster {name}"), e))?;
        let arn = out
            .cluster()
            .and_then(|c| c.cluster_arn())
            .unwrap_or_default();
        Ok(observed_from_spec(spec, name)
            .output("name", name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let name = current.physical_id.as_str();
        ctx.clients
            .ecs
            .update_cluster_settings()
            .cluster(name)
            .settings(insights(b(spec, "container_insights")?))
            .send()
            .await
            .map_err(|e| aws_error(&format!("updating ECS cluster {name}"), e))?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current.physical_id.clone();
        // A service still draining keeps the cluster busy for a while.
        delete_waiting(
            &[
                "ClusterContainsServicesException",
                "ClusterContainsTasksException",
            ],
            "ClusterNotFoundException",
            || async {
                ctx.clients
                    .ecs
                    .delete_cluster()
                    .cluster(&name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| coded(&format!("deleting ECS cluster {name}"), e))
            },
        )
        .await
    }
}
