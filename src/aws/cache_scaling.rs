//! Application Auto Scaling of a cache's replica count: a scalable target on the replication
//! group and a target-tracking policy on the replicas' engine CPU.

use super::cache::TAG_SCALED_BY;
use super::*;
use crate::resource::Val;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

pub struct CacheScalingProvider;

fn resource_id(group: &str) -> String {
    format!("replication-group/{group}")
}

/// Sets or removes the marker tag on the replication group.
async fn mark(ctx: &Ctx<'_>, group_arn: &str, policy: Option<&str>) -> Result<()> {
    let cache = &ctx.clients.elasticache;
    match policy {
        Some(policy) => cache
            .add_tags_to_resource()
            .resource_name(group_arn)
            .tags(
                aws_sdk_elasticache::types::Tag::builder()
                    .key(TAG_SCALED_BY)
                    .value(policy)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error(&format!("tagging {group_arn}"), e)),
        None => cache
            .remove_tags_from_resource()
            .resource_name(group_arn)
            .tag_keys(TAG_SCALED_BY)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error(&format!("untagging {group_arn}"), e)),
    }
}

async fn register(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<String> {
    let group = s(spec, "replication_group")?;
    let group_arn = s(spec, "replication_group_arn")?;
    let resource = resource_id(group);
    // Marked first: a target that exists is then always looked for, even after a crash here.
    mark(ctx, group_arn, Some(&spec.name)).await?;
    if let Err(e) = put_target(ctx, spec, &resource).await {
        // Nothing was registered: take the mark off again (best effort; a stale mark only
        // costs one lookup).
        let _ = mark(ctx, group_arn, None).await;
        return Err(e);
    }
    Ok(resource)
}

async fn put_target(ctx: &Ctx<'_>, spec: &ResourceSpec, resource: &str) -> Result<()> {
    let apps = &ctx.clients.autoscaling_apps;
    apps.register_scalable_target()
        .service_namespace(ServiceNamespace::Elasticache)
        .resource_id(resource)
        .scalable_dimension(ScalableDimension::ElastiCacheReplicationGroupReplicas)
        .min_capacity(i(spec, "min_capacity")? as i32)
        .max_capacity(i(spec, "max_capacity")? as i32)
        .send()
        .await
        .map_err(|e| aws_error(&format!("registering {resource} for auto scaling"), e))?;
    apps.put_scaling_policy()
        .policy_name(&spec.name)
        .service_namespace(ServiceNamespace::Elasticache)
        .resource_id(resource)
        .scalable_dimension(ScalableDimension::ElastiCacheReplicationGroupReplicas)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(f(spec, "target_cpu_percent")?)
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(MetricType::ElastiCacheReplicaEngineCpuUtilization)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws_error(&format!("putting the scaling policy on {resource}"), e))?;
    Ok(())
}

#[async_trait]
impl Provider for CacheScalingProvider {
    fn kind(&self) -> Kind {
        Kind::CacheScaling
    }

    /// Scalable targets carry no ownership tags in every API version: a target belongs to the
    /// deployment when the replication group it scales does.
    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let groups: Vec<&Observed> = found
            .iter()
            .filter(|o| {
                o.kind == Kind::CacheReplicationGroup && o.outputs.contains_key("scaled_by")
            })
            .collect();
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let apps = &ctx.clients.autoscaling_apps;
        let targets: Vec<_> = apps
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Elasticache)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing ElastiCache scalable targets", e))?;
        let mut out = Vec::new();
        for t in targets {
            let resource = t.resource_id();
            let Some(group) = groups
                .iter()
                .find(|g| resource_id(&g.physical_id) == resource)
            else {
                continue;
            };
            let policies = apps
                .describe_scaling_policies()
                .service_namespace(ServiceNamespace::Elasticache)
                .resource_id(resource)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading scaling policies of {resource}"), e))?;
            let mut o = Observed::new(
                &format!("{}.scaling", group.id),
                Kind::CacheScaling,
                resource,
            )
            .prop("replication_group", Val::str(&group.physical_id))
            .prop(
                "replication_group_arn",
                Val::str(
                    group
                        .outputs
                        .get("arn")
                        .map(String::as_str)
                        .unwrap_or_default(),
                ),
            )
            .prop("min_capacity", Val::Int(t.min_capacity().into()))
            .prop("max_capacity", Val::Int(t.max_capacity().into()));
            if let Some(target) = policies
                .scaling_policies()
                .iter()
                .filter_map(|p| p.target_tracking_scaling_policy_configuration())
                .map(|c| c.target_value())
                .next()
            {
                o = o.prop("target_cpu_percent", Val::Float(target));
            }
            o.name = format!("{}-replicas", group.physical_id);
            o.stack = group.stack.clone();
            out.push(o);
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let resource = register(ctx, spec).await?;
        Ok(observed_from_spec(spec, &resource))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        // Registering again updates the limits; putting the policy again replaces it.
        register(ctx, spec).await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let resource = current.physical_id.as_str();
        // Deregistering removes the target's policies with it.
        let result = match ctx
            .clients
            .autoscaling_apps
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Elasticache)
            .resource_id(resource)
            .scalable_dimension(ScalableDimension::ElastiCacheReplicationGroupReplicas)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("ObjectNotFoundException") => Ok(()),
            Err(e) => Err(aws_error(&format!("deregistering {resource}"), e)),
        };
        result?;
        if let Some(arn) = current
            .props
            .get("replication_group_arn")
            .and_then(Val::as_str)
        {
            mark(ctx, arn, None).await?;
        }
        Ok(())
    }
}
