//! ECS Fargate services: tasks spread over the private subnets of every zone, registered with
//! their target group, replaced by a deployment circuit breaker that rolls back a failing
//! release. Found through the deployment's clusters.

use super::tags::{ecs_owner, ecs_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, count_within, error_code, i, s, str_list, strs, updated_in_place, wait_for,
    waiter_error,
};
use crate::deployment::TAG_SCALED_BY;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ecs::client::Waiters;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    LaunchType, LoadBalancer, NetworkConfiguration, PropagateTags, Service, ServiceField,
};
use std::time::Duration;

/// Every attribute of an ecs service: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::EcsService,
    &[
        Attr::new("circuit_breaker_rollback"),
        Attr::new("cluster_arn").replaces(),
        Attr::new("container_name").replaces(),
        Attr::new("container_port"),
        // A range `{ min, max }` when auto scaling moves it (any count inside matches).
        Attr::new("desired_count"),
        Attr::new("initial_count").create_only(),
        Attr::new("security_group_ids"),
        Attr::new("subnet_ids"),
        Attr::new("target_group_arn").replaces(),
        Attr::new("task_definition_arn"),
    ],
);

pub struct EcsServiceProvider;

/// How long a deployment may take to reach steady state (new tasks healthy behind the balancer).
const STABLE_WAIT: Duration = Duration::from_secs(1800);

/// Application Auto Scaling's name for a service.
pub fn scaling_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

fn network(spec: &ResourceSpec) -> Result<NetworkConfiguration> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(strs(spec, "subnet_ids")))
                .set_security_groups(Some(strs(spec, "security_group_ids")))
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()?,
        )
        .build())
}

fn deployment(spec: &ResourceSpec) -> Result<DeploymentConfiguration> {
    let rollback = b(spec, "circuit_breaker_rollback")?;
    // Never below the desired count while deploying: new tasks start before old ones stop.
    Ok(DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(rollback)
                .rollback(rollback)
                .build(),
        )
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .build())
}

fn observed_service(s: &Service, id: &str) -> Observed {
    let name = s.service_name().unwrap_or_default();
    let cluster_arn = s.cluster_arn().unwrap_or_default();
    let cluster = cluster_arn.rsplit('/').next().unwrap_or_default();
    let vpc = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    let lb = s.load_balancers().first();
    let breaker = s
        .deployment_configuration()
        .and_then(|d| d.deployment_circuit_breaker())
        .is_some_and(|c| c.enable() && c.rollback());
    // The ARN, not the name: a task definition family has the same name.
    let mut o = Observed::new(id, Kind::EcsService, s.service_arn().unwrap_or_default())
        .prop("cluster_arn", Val::str(cluster_arn))
        .prop(
            "task_definition_arn",
            Val::str(s.task_definition().unwrap_or_default()),
        )
        .prop("desired_count", Val::Int(s.desired_count().into()))
        .prop(
            "subnet_ids",
            str_list(vpc.map(|v| v.subnets().to_vec()).unwrap_or_default()),
        )
        .prop(
            "security_group_ids",
            str_list(
                vpc.map(|v| v.security_groups().to_vec())
                    .unwrap_or_default(),
            ),
        )
        .prop(
            "target_group_arn",
            Val::str(lb.and_then(|l| l.target_group_arn()).unwrap_or_default()),
        )
        .prop(
            "container_name",
            Val::str(lb.and_then(|l| l.container_name()).unwrap_or_default()),
        )
        .prop(
            "container_port",
            Val::Int(lb.and_then(|l| l.container_port()).unwrap_or(0).into()),
        )
        .prop("circuit_breaker_rollback", Val::Bool(breaker))
        .output("name", name)
        .output("arn", s.service_arn().unwrap_or_default())
        .output("cluster", cluster)
        .output("resource_id", scaling_resource_id(cluster, name));
    o.name = name.to_string();
    o
}

async fn wait_stable(ctx: &Ctx<'_>, cluster: &str, service: &str) -> Result<()> {
    ctx.clients
        .ecs
        .wait_until_services_stable()
        .cluster(cluster)
        .services(service)
        .wait(STABLE_WAIT)
        .await
        .map_err(|e| {
            waiter_error(
                &format!("waiting for service {service} to reach steady state"),
                e,
            )
        })?;
    Ok(())
}

#[async_trait]
impl Provider for EcsServiceProvider {
    fn kind(&self) -> Kind {
        Kind::EcsService
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::EcsCluster]
    }

    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let ecs = &ctx.clients.ecs;
        let mut out = Vec::new();
        for cluster in found.iter().filter(|o| o.kind == Kind::EcsCluster) {
            let arns: Vec<String> = ecs
                .list_services()
                .cluster(&cluster.physical_id)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| {
                    aws_error(&format!("listing services of {}", cluster.physical_id), e)
                })?;
            for chunk in arns.chunks(10) {
                let described = ecs
                    .describe_services()
                    .cluster(&cluster.physical_id)
                    .set_services(Some(chunk.to_vec()))
                    .include(ServiceField::Tags)
                    .send()
                    .await
                    .map_err(|e| aws_error("describing services", e))?;
                for s in described.services() {
                    // DRAINING is a service being deleted.
                    if s.status() != Some("ACTIVE") {
                        continue;
                    }
                    let Some((id, stack)) = ecs_owner(ctx, s.tags()) else {
                        continue;
                    };
                    let mut o = observed_service(s, &id);
                    o.stack = stack;
                    if let Some(policy) = s
                        .tags()
                        .iter()
                        .find(|t| t.key() == Some(TAG_SCALED_BY))
                        .and_then(|t| t.value())
                    {
                        o = o.output("scaled_by", policy);
                    }
                    out.push(o);
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let name = spec.name.as_str();
        let cluster = s(spec, "cluster_arn")?;
        let out = ctx
            .clients
            .ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(s(spec, "task_definition_arn")?)
            .desired_count(i(spec, "initial_count")? as i32)
            .launch_type(LaunchType::Fargate)
            .platform_version("LATEST")
            .network_configuration(network(spec)?)
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(s(spec, "target_group_arn")?)
                    .container_name(s(spec, "container_name")?)
                    .container_port(i(spec, "container_port")? as i32)
                    .build(),
            )
            .health_check_grace_period_seconds(60)
            .deployment_configuration(deployment(spec)?)
            .propagate_tags(PropagateTags::Service)
            .enable_ecs_managed_tags(true)
            .set_tags(Some(ecs_tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating service {name}"), e))?;
        let service = out
            .service()
            .ok_or_else(|| anyhow!("creating service {name}: no service in the answer"))?;
        let mut o = observed_service(service, &spec.id);
        wait_stable(ctx, cluster, name).await?;
        o.props = spec.props.clone();
        o.stack = ctx.deployment.stack.clone();
        Ok(o)
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let name = current.name.as_str();
        let cluster = s(spec, "cluster_arn")?;
        let have = current
            .props
            .get("desired_count")
            .and_then(Val::as_i64)
            .unwrap_or(0);
        // Never against the scaler: a range moves the count only into it.
        let want = count_within(spec, "desired_count", have)?;
        ctx.clients
            .ecs
            .update_service()
            .cluster(cluster)
            .service(name)
            .task_definition(s(spec, "task_definition_arn")?)
            .desired_count(want as i32)
            .network_configuration(network(spec)?)
            .deployment_configuration(deployment(spec)?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("updating service {name}"), e))?;
        wait_stable(ctx, cluster, name).await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current.name.as_str();
        let cluster = current.outputs.get("cluster").cloned().unwrap_or_default();
        match ctx
            .clients
            .ecs
            .delete_service()
            .cluster(&cluster)
            .service(name)
            // Force: stops the tasks instead of requiring a scale to zero first.
            .force(true)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if matches!(
                    error_code(&e).as_deref(),
                    Some("ServiceNotFoundException" | "ServiceNotActiveException")
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(aws_error(&format!("deleting service {name}"), e)),
        }
        // Not the SDK's services-inactive waiter: it counts a service already gone (MISSING)
        // as a failure, which is what a finished delete looks like once ECS forgets it.
        wait_for(&format!("service {name} draining"), STABLE_WAIT, || async {
            let out = ctx
                .clients
                .ecs
                .describe_services()
                .cluster(&cluster)
                .services(name)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading service {name}"), e))?;
            let missing = out.failures().iter().any(|f| f.reason() == Some("MISSING"));
            let inactive = out
                .services()
                .iter()
                .all(|s| s.status() == Some("INACTIVE"));
            Ok(missing || inactive)
        })
        .await
    }
}
