//! Application Auto Scaling: a scalable target and a target-tracking policy on CPU, for a
//! cache's replica count and for a service's task count. Scalable targets carry no ownership
//! tags in every API version, so the scaled resource gets a marker tag (`ftctl:scaled-by`) and a
//! target belongs to the deployment when the resource it scales does; reading the deployment
//! asks Application Auto Scaling only about marked resources.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, error_code, f, i, observed_from_spec, s, updated_in_place};
use crate::deployment::TAG_SCALED_BY;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

/// Every attribute of a scalable target, the same for both things scaled: what expansion writes
/// and this provider reads.
const ATTRIBUTES: &[Attr] = &[
    Attr::new("max_capacity"),
    Attr::new("min_capacity"),
    Attr::new("parent_arn"),
    Attr::new("resource_id").replaces(),
    Attr::new("target_cpu_percent"),
];
static CACHE_SCALING: Schema = Schema::new(Kind::CacheScaling, ATTRIBUTES);
static SERVICE_SCALING: Schema = Schema::new(Kind::ServiceScaling, ATTRIBUTES);

/// What is scaled.
#[derive(Clone, Copy)]
pub enum Scaled {
    CacheReplicas,
    ServiceTasks,
}

pub struct ScalingProvider(pub Scaled);

impl Scaled {
    fn kind(self) -> Kind {
        match self {
            Scaled::CacheReplicas => Kind::CacheScaling,
            Scaled::ServiceTasks => Kind::ServiceScaling,
        }
    }
    fn parent(self) -> Kind {
        match self {
            Scaled::CacheReplicas => Kind::CacheReplicationGroup,
            Scaled::ServiceTasks => Kind::EcsService,
        }
    }
    fn namespace(self) -> ServiceNamespace {
        match self {
            Scaled::CacheReplicas => ServiceNamespace::Elasticache,
            Scaled::ServiceTasks => ServiceNamespace::Ecs,
        }
    }
    fn dimension(self) -> ScalableDimension {
        match self {
            Scaled::CacheReplicas => ScalableDimension::ElastiCacheReplicationGroupReplicas,
            Scaled::ServiceTasks => ScalableDimension::EcsServiceDesiredCount,
        }
    }
    fn metric(self) -> MetricType {
        match self {
            Scaled::CacheReplicas => MetricType::ElastiCacheReplicaEngineCpuUtilization,
            Scaled::ServiceTasks => MetricType::EcsServiceAverageCpuUtilization,
        }
    }

    /// Sets (`Some(policy)`) or removes the marker tag on the scaled resource.
    async fn mark(self, ctx: &Ctx<'_>, arn: &str, policy: Option<&str>) -> Result<()> {
        let done = match (self, policy) {
            (Scaled::CacheReplicas, Some(policy)) => ctx
                .clients
                .elasticache
                .add_tags_to_resource()
                .resource_name(arn)
                .tags(
                    aws_sdk_elasticache::types::Tag::builder()
                        .key(TAG_SCALED_BY)
                        .value(policy)
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(&format!("tagging {arn}"), e)),
            (Scaled::CacheReplicas, None) => match ctx
                .clients
                .elasticache
                .remove_tags_from_resource()
                .resource_name(arn)
                .tag_keys(TAG_SCALED_BY)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                // Already off (a run that stopped between deregistering and untagging).
                Err(e) if error_code(&e).as_deref() == Some("TagNotFound") => Ok(()),
                Err(e) => Err(aws_error(&format!("untagging {arn}"), e)),
            },
            (Scaled::ServiceTasks, Some(policy)) => ctx
                .clients
                .ecs
                .tag_resource()
                .resource_arn(arn)
                .tags(
                    aws_sdk_ecs::types::Tag::builder()
                        .key(TAG_SCALED_BY)
                        .value(policy)
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(&format!("tagging {arn}"), e)),
            (Scaled::ServiceTasks, None) => ctx
                .clients
                .ecs
                .untag_resource()
                .resource_arn(arn)
                .tag_keys(TAG_SCALED_BY)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(&format!("untagging {arn}"), e)),
        };
        done
    }

    async fn put_target(self, ctx: &Ctx<'_>, spec: &ResourceSpec, resource: &str) -> Result<()> {
        let apps = &ctx.clients.autoscaling_apps;
        apps.register_scalable_target()
            .service_namespace(self.namespace())
            .resource_id(resource)
            .scalable_dimension(self.dimension())
            .min_capacity(i(spec, "min_capacity")? as i32)
            .max_capacity(i(spec, "max_capacity")? as i32)
            .send()
            .await
            .map_err(|e| aws_error(&format!("registering {resource} for auto scaling"), e))?;
        apps.put_scaling_policy()
            .policy_name(&spec.name)
            .service_namespace(self.namespace())
            .resource_id(resource)
            .scalable_dimension(self.dimension())
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(
                TargetTrackingScalingPolicyConfiguration::builder()
                    .target_value(f(spec, "target_cpu_percent")?)
                    .predefined_metric_specification(
                        PredefinedMetricSpecification::builder()
                            .predefined_metric_type(self.metric())
                            .build()?,
                    )
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("putting the scaling policy on {resource}"), e))?;
        Ok(())
    }

    async fn register(self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<String> {
        let resource = s(spec, "resource_id")?.to_string();
        let parent = s(spec, "parent_arn")?;
        // Marked first: a target that exists is then always looked for, even after a crash.
        self.mark(ctx, parent, Some(&spec.name)).await?;
        if let Err(e) = self.put_target(ctx, spec, &resource).await {
            // Nothing was registered: take the mark off again (best effort; a stale mark only
            // costs one lookup).
            let _ = self.mark(ctx, parent, None).await;
            return Err(e);
        }
        Ok(resource)
    }
}

#[async_trait]
impl Provider for ScalingProvider {
    fn kind(&self) -> Kind {
        self.0.kind()
    }

    fn schema(&self) -> &'static Schema {
        match self.0 {
            Scaled::CacheReplicas => &CACHE_SCALING,
            Scaled::ServiceTasks => &SERVICE_SCALING,
        }
    }

    fn observe_after(&self) -> &'static [Kind] {
        match self.0 {
            Scaled::CacheReplicas => &[Kind::CacheReplicationGroup],
            Scaled::ServiceTasks => &[Kind::EcsService],
        }
    }

    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let scaled = self.0;
        let parents: Vec<&Observed> = found
            .iter()
            .filter(|o| o.kind == scaled.parent() && o.outputs.contains_key("scaled_by"))
            .collect();
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        let apps = &ctx.clients.autoscaling_apps;
        let targets: Vec<_> = apps
            .describe_scalable_targets()
            .service_namespace(scaled.namespace())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing scalable targets", e))?;
        let mut out = Vec::new();
        for t in targets {
            let resource = t.resource_id();
            let Some(parent) = parents
                .iter()
                .find(|p| p.outputs.get("resource_id").map(String::as_str) == Some(resource))
            else {
                continue;
            };
            let policies = apps
                .describe_scaling_policies()
                .service_namespace(scaled.namespace())
                .resource_id(resource)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading scaling policies of {resource}"), e))?;
            let mut o = Observed::new(&format!("{}.scaling", parent.id), scaled.kind(), resource)
                .prop("resource_id", Val::str(resource))
                .prop(
                    "parent_arn",
                    Val::str(
                        parent
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
            o.name = parent.outputs.get("scaled_by").cloned().unwrap_or_default();
            o.stack = parent.stack.clone();
            out.push(o);
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let resource = self.0.register(ctx, spec).await?;
        Ok(observed_from_spec(spec, &resource))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        // Registering again updates the limits; putting the policy again replaces it.
        self.0.register(ctx, spec).await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let scaled = self.0;
        let resource = current.physical_id.as_str();
        // Deregistering removes the target's policies with it.
        match ctx
            .clients
            .autoscaling_apps
            .deregister_scalable_target()
            .service_namespace(scaled.namespace())
            .resource_id(resource)
            .scalable_dimension(scaled.dimension())
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e).as_deref() == Some("ObjectNotFoundException") => {}
            Err(e) => return Err(aws_error(&format!("deregistering {resource}"), e)),
        }
        if let Some(arn) = current.props.get("parent_arn").and_then(Val::as_str) {
            scaled.mark(ctx, arn, None).await?;
        }
        Ok(())
    }
}
