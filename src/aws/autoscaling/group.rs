//! Auto Scaling groups: spread over the private subnets, ELB health checks, a target-tracking
//! CPU policy and one-minute group metrics (the capacity alarms read them).

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, coded, count_within, f, i, observed_from_spec, retry_propagation, s, str_list,
    strs, waiter_error, IAM_PROPAGATION, INSTANCE_PROFILE_PROPAGATING,
};
use crate::deployment::TAG_DEPLOYMENT;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Compare, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_autoscaling::client::Waiters;
use aws_sdk_autoscaling::types::{
    Filter, InstancesDistribution, LaunchTemplate, LaunchTemplateOverrides,
    LaunchTemplateSpecification, MetricType, MixedInstancesPolicy, PredefinedMetricSpecification,
    Tag, TargetTrackingConfiguration,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::HashMap;
use std::time::Duration;

/// Every attribute of an autoscaling group: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::AutoScalingGroup,
    &[
        Attr::new("desired_capacity"),
        Attr::new("health_check_grace_period"),
        Attr::new("health_check_type"),
        Attr::new("initial_capacity").create_only(),
        Attr::new("launch_template_id"),
        Attr::new("max_size"),
        Attr::new("metrics_collection"),
        Attr::new("min_size"),
        // Instance types in order of preference (a `prioritized` mixed instances policy): the
        // order is the setting, unlike the other lists, which are sets.
        Attr::new("mixed_instance_types").compare(Compare::Ordered),
        Attr::new("subnet_ids"),
        Attr::new("target_cpu_percent"),
        Attr::new("target_group_arns"),
    ],
);

pub struct AutoScalingGroupProvider;

/// The group metrics ftctl's alarms, dashboards and chaos reports read, named explicitly so the
/// set does not change when AWS adds metrics.
const GROUP_METRICS: [&str; 8] = [
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
];

fn policy_name(group: &str) -> String {
    format!("{group}-cpu-target")
}

async fn put_policy(ctx: &Ctx<'_>, group: &str, target: f64) -> Result<()> {
    ctx.clients
        .autoscaling
        .put_scaling_policy()
        .auto_scaling_group_name(group)
        .policy_name(policy_name(group))
        .policy_type("TargetTrackingScaling")
        .target_tracking_configuration(
            TargetTrackingConfiguration::builder()
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
                        .build(),
                )
                .target_value(target)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error(&format!("setting the CPU target of {group}"), e))?;
    Ok(())
}

async fn set_metrics(ctx: &Ctx<'_>, group: &str, on: bool) -> Result<()> {
    if on {
        ctx.clients
            .autoscaling
            .enable_metrics_collection()
            .auto_scaling_group_name(group)
            .set_metrics(Some(GROUP_METRICS.iter().map(|m| m.to_string()).collect()))
            .granularity("1Minute")
            .send()
            .await
            .map_err(|e| aws_error(&format!("enabling metrics of {group}"), e))?;
    } else {
        ctx.clients
            .autoscaling
            .disable_metrics_collection()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(|e| aws_error(&format!("disabling metrics of {group}"), e))?;
    }
    Ok(())
}

fn launch_template(spec: &ResourceSpec) -> Result<LaunchTemplateSpecification> {
    Ok(LaunchTemplateSpecification::builder()
        .launch_template_id(s(spec, "launch_template_id")?)
        .version("$Default")
        .build())
}

/// With two or more instance types the group launches through a mixed instances policy: the
/// launch template with the types as overrides, all On-Demand, in the stack's order of
/// preference (`prioritized`), so a type out of capacity in a zone does not stop the tier
/// (Security Hub AutoScaling.6; Auto Scaling API reference, MixedInstancesPolicy).
fn mixed_policy(spec: &ResourceSpec) -> Result<Option<MixedInstancesPolicy>> {
    let types = strs(spec, "mixed_instance_types");
    if types.len() < 2 {
        return Ok(None);
    }
    Ok(Some(
        MixedInstancesPolicy::builder()
            .launch_template(
                LaunchTemplate::builder()
                    .launch_template_specification(launch_template(spec)?)
                    .set_overrides(Some(
                        types
                            .iter()
                            .map(|t| LaunchTemplateOverrides::builder().instance_type(t).build())
                            .collect(),
                    ))
                    .build(),
            )
            .instances_distribution(
                InstancesDistribution::builder()
                    .on_demand_allocation_strategy("prioritized")
                    .on_demand_base_capacity(0)
                    .on_demand_percentage_above_base_capacity(100)
                    .build(),
            )
            .build(),
    ))
}

/// How the group launches: through its launch template, or (with several instance types)
/// through the mixed instances policy that holds it. One of the two is sent, never both.
/// Template → policy is documented (UpdateAutoScalingGroup: "When you update a group to specify
/// a mixed instances policy instead of a launch configuration or template..."); policy →
/// template by sending the template alone is what terraform-provider-aws does, and is not
/// described in the API reference.
type LaunchSettings = (
    Option<LaunchTemplateSpecification>,
    Option<MixedInstancesPolicy>,
);

fn launch_settings(spec: &ResourceSpec) -> Result<LaunchSettings> {
    Ok(match mixed_policy(spec)? {
        Some(policy) => (None, Some(policy)),
        None => (Some(launch_template(spec)?), None),
    })
}

#[async_trait]
impl Provider for AutoScalingGroupProvider {
    fn kind(&self) -> Kind {
        Kind::AutoScalingGroup
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let groups: Vec<_> = ctx
            .clients
            .autoscaling
            .describe_auto_scaling_groups()
            .filters(
                Filter::builder()
                    .name(format!("tag:{TAG_DEPLOYMENT}"))
                    .values(ctx.env())
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing auto scaling groups", e))?;
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        // All target-tracking policies in one listing, matched to groups by name.
        let policies: Vec<_> = ctx
            .clients
            .autoscaling
            .describe_policies()
            .policy_types("TargetTrackingScaling")
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing scaling policies", e))?;
        let mut cpu_target: HashMap<String, f64> = HashMap::new();
        for p in policies {
            if let (Some(group), Some(conf)) = (
                p.auto_scaling_group_name(),
                p.target_tracking_configuration(),
            ) {
                if p.policy_name() == Some(policy_name(group).as_str()) {
                    cpu_target.insert(group.to_string(), conf.target_value().unwrap_or(0.0));
                }
            }
        }
        let mut found = Vec::new();
        for g in groups {
            let Some((id, stack)) = ctx.owner(
                g.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
            ) else {
                continue;
            };
            let name = g.auto_scaling_group_name().unwrap_or_default();
            let subnets = zone_list(g.vpc_zone_identifier());
            let mixed = g.mixed_instances_policy().and_then(|p| p.launch_template());
            let template = mixed
                .and_then(|m| m.launch_template_specification())
                .or(g.launch_template())
                .and_then(|t| t.launch_template_id())
                .unwrap_or_default();
            let types: Vec<String> = mixed
                .map(|m| m.overrides())
                .unwrap_or_default()
                .iter()
                .filter_map(|o| o.instance_type().map(str::to_string))
                .collect();
            let mut o = Observed::new(&id, Kind::AutoScalingGroup, name)
                .prop("launch_template_id", Val::str(template))
                .prop("mixed_instance_types", str_list(types))
                .prop("min_size", Val::Int(g.min_size().unwrap_or(0).into()))
                .prop("max_size", Val::Int(g.max_size().unwrap_or(0).into()))
                .prop(
                    "desired_capacity",
                    Val::Int(g.desired_capacity().unwrap_or(0).into()),
                )
                .prop("subnet_ids", str_list(subnets))
                .prop(
                    "target_group_arns",
                    str_list(g.target_group_arns().to_vec()),
                )
                .prop(
                    "health_check_type",
                    Val::str(g.health_check_type().unwrap_or_default()),
                )
                .prop(
                    "health_check_grace_period",
                    Val::Int(g.health_check_grace_period().unwrap_or(0).into()),
                )
                .prop(
                    "metrics_collection",
                    Val::Bool(!g.enabled_metrics().is_empty()),
                )
                .output("name", name)
                .output("arn", g.auto_scaling_group_arn().unwrap_or_default());
            if let Some(target) = cpu_target.get(name) {
                o = o.prop("target_cpu_percent", Val::Float(*target));
            }
            // X-Ray resources of the tier (see `xray`).
            for traced in [
                crate::aws::xray::Traced::Group,
                crate::aws::xray::Traced::SamplingRule,
            ] {
                if let Some(tag) = g.tags().iter().find(|t| t.key() == Some(traced.marker())) {
                    o = o.output(traced.output(), tag.value().unwrap_or_default());
                }
            }
            o.name = name.to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let name = spec.name.as_str();
        let tags: Vec<Tag> = ctx
            .tags(spec)
            .into_iter()
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .propagate_at_launch(true)
                    .resource_id(name)
                    .resource_type("auto-scaling-group")
                    .build()
            })
            .collect();
        let (template, mixed) = launch_settings(spec)?;
        let request = ctx
            .clients
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .set_launch_template(template)
            .set_mixed_instances_policy(mixed)
            .min_size(i(spec, "min_size")? as i32)
            .max_size(i(spec, "max_size")? as i32)
            .desired_capacity(i(spec, "initial_capacity")? as i32)
            .vpc_zone_identifier(strs(spec, "subnet_ids").join(","))
            .set_target_group_arns(Some(strs(spec, "target_group_arns")))
            .health_check_type(s(spec, "health_check_type")?)
            .health_check_grace_period(i(spec, "health_check_grace_period")? as i32)
            .set_tags(Some(tags));
        // The launch template names the tier's instance profile, made moments ago: Auto Scaling
        // refuses it until IAM has propagated it.
        retry_propagation(INSTANCE_PROFILE_PROPAGATING, IAM_PROPAGATION, || async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| coded(&format!("creating auto scaling group {name}"), e))
        })
        .await
        .map_err(|(_, e)| e)?;
        if b(spec, "metrics_collection")? {
            set_metrics(ctx, name, true).await?;
        }
        put_policy(ctx, name, f(spec, "target_cpu_percent")?).await?;
        ctx.clients
            .autoscaling
            .wait_until_group_in_service()
            .auto_scaling_group_names(name)
            .wait(Duration::from_secs(1200))
            .await
            .map_err(|e| {
                waiter_error(
                    &format!("waiting for the instances of {name} to be in service"),
                    e,
                )
            })?;
        Ok(observed_from_spec(spec, name).output("name", name))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let name = current.physical_id.as_str();
        // DesiredCapacity only when the current one falls outside the new range: the scaling
        // policy owns it inside (UpdateAutoScalingGroup leaves it alone when it is not sent).
        let have = current
            .props
            .get("desired_capacity")
            .and_then(Val::as_i64)
            .unwrap_or(0);
        let want = count_within(spec, "desired_capacity", have)?;
        let (template, mixed) = launch_settings(spec)?;
        let request = ctx
            .clients
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .set_launch_template(template)
            .set_mixed_instances_policy(mixed)
            .min_size(i(spec, "min_size")? as i32)
            .max_size(i(spec, "max_size")? as i32)
            .set_desired_capacity((want != have).then_some(want as i32))
            .vpc_zone_identifier(strs(spec, "subnet_ids").join(","))
            .health_check_type(s(spec, "health_check_type")?)
            .health_check_grace_period(i(spec, "health_check_grace_period")? as i32);
        // A new launch template version may name a profile made in this run.
        retry_propagation(INSTANCE_PROFILE_PROPAGATING, IAM_PROPAGATION, || async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| coded(&format!("updating auto scaling group {name}"), e))
        })
        .await
        .map_err(|(_, e)| e)?;
        let want_tgs = strs(spec, "target_group_arns");
        let have_tgs: Vec<String> = current
            .props
            .get("target_group_arns")
            .map(|v| {
                v.as_list()
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let attach: Vec<String> = want_tgs
            .iter()
            .filter(|t| !have_tgs.contains(t))
            .cloned()
            .collect();
        let detach: Vec<String> = have_tgs
            .iter()
            .filter(|t| !want_tgs.contains(t))
            .cloned()
            .collect();
        if !attach.is_empty() {
            ctx.clients
                .autoscaling
                .attach_load_balancer_target_groups()
                .auto_scaling_group_name(name)
                .set_target_group_arns(Some(attach))
                .send()
                .await
                .map_err(|e| aws_error(&format!("attaching target groups to {name}"), e))?;
        }
        if !detach.is_empty() {
            ctx.clients
                .autoscaling
                .detach_load_balancer_target_groups()
                .auto_scaling_group_name(name)
                .set_target_group_arns(Some(detach))
                .send()
                .await
                .map_err(|e| aws_error(&format!("detaching target groups from {name}"), e))?;
        }
        let metrics = b(spec, "metrics_collection")?;
        if current.props.get("metrics_collection") != Some(&Val::Bool(metrics)) {
            set_metrics(ctx, name, metrics).await?;
        }
        let target = f(spec, "target_cpu_percent")?;
        if !current
            .props
            .get("target_cpu_percent")
            .is_some_and(|v| v.same_as(&Val::Float(target)))
        {
            put_policy(ctx, name, target).await?;
        }
        Ok(observed_from_spec(spec, name).output("name", name))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current.physical_id.as_str();
        // ForceDelete terminates the instances with the group instead of draining first.
        match ctx
            .clients
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(name)
            .force_delete(true)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.message().is_some_and(|m| m.contains("not found")) => return Ok(()),
            Err(e) => return Err(aws_error(&format!("deleting auto scaling group {name}"), e)),
        }
        ctx.clients
            .autoscaling
            .wait_until_group_not_exists()
            .auto_scaling_group_names(name)
            .wait(Duration::from_secs(1200))
            .await
            .map_err(|e| waiter_error(&format!("waiting for {name} to be deleted"), e))?;
        Ok(())
    }
}

/// A group's zone list (`VPCZoneIdentifier`, comma-separated subnet ids) as subnet ids.
pub fn zone_list(vpc_zone_identifier: Option<&str>) -> Vec<String> {
    vpc_zone_identifier
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
