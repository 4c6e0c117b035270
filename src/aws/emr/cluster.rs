//! EMR clusters: in a private subnet, logs to the cluster's encrypted bucket, sized by managed
//! scaling, running until the deployment is destroyed. No auto-termination: a cluster that ended
//! itself when idle would be missing from every later plan and re-created (and waited for) by
//! every apply. IAM roles made in the same run take seconds to reach EMR, so creation waits out
//! exactly EMR's "invalid instance profile" answers; a cluster that fails to start is reported
//! with EMR's own reason.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, coded, error_code, i, observed_from_spec, retry_propagation, s, str_list, strs,
    updated_in_place, waiter_error, IAM_PROPAGATION, INSTANCE_PROFILE_PROPAGATING,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_emr::client::Waiters;
use aws_sdk_emr::types::{
    Application, ClusterState, ComputeLimits, ComputeLimitsUnitType, InstanceGroupConfig,
    InstanceRoleType, JobFlowInstancesConfig, ManagedScalingPolicy, MarketType, Tag,
};
use std::time::Duration;

/// Every attribute of an emr cluster: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::EmrCluster,
    &[
        Attr::new("applications").replaces(),
        // The create-only ones: EMR reports instance groups, scaling and idle policies through
        // separate calls that not every endpoint implements; the counts also move with managed
        // scaling.
        Attr::new("auto_termination").create_only(),
        Attr::new("core_instance_count").create_only(),
        Attr::new("core_instance_type").replaces().create_only(),
        Attr::new("core_security_group").replaces(),
        Attr::new("instance_profile").replaces(),
        Attr::new("log_uri").replaces(),
        Attr::new("managed_max").create_only(),
        Attr::new("managed_min").create_only(),
        Attr::new("master_instance_type").replaces().create_only(),
        Attr::new("master_security_group").replaces(),
        Attr::new("release_label").replaces(),
        Attr::new("service_role").replaces(),
        Attr::new("service_security_group").replaces(),
        Attr::new("subnet_id").replaces(),
    ],
);

pub struct EmrClusterProvider;

/// EMR's code and message for why a cluster stopped, when it has stopped.
async fn why_ended(ctx: &Ctx<'_>, cid: &str) -> Option<String> {
    let out = ctx
        .clients
        .emr
        .describe_cluster()
        .cluster_id(cid)
        .send()
        .await
        .ok()?;
    let status = out.cluster()?.status()?;
    // Only an ended cluster has a reason worth giving (a waiter may give up on one still
    // starting).
    let state = status.state()?.as_str();
    if !state.starts_with("TERMINAT") {
        return None;
    }
    let reason = status.state_change_reason()?;
    let code = reason.code().map(|c| c.as_str()).unwrap_or("no code");
    Some(format!(
        "{state} ({code}): {}",
        reason.message().unwrap_or("EMR gave no message")
    ))
}

/// Provisioning and bootstrapping take about ten minutes; termination a few.
const CLUSTER_WAIT: Duration = Duration::from_secs(3600);

/// Calls an endpoint may not implement (older APIs, emulators): the attribute is then not read.
fn unsupported(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("InvalidAction" | "UnknownOperationException" | "NotImplemented")
    )
}

fn group(role: InstanceRoleType, instance_type: &str, count: i32) -> InstanceGroupConfig {
    InstanceGroupConfig::builder()
        .instance_role(role)
        .instance_type(instance_type)
        .instance_count(count)
        .market(MarketType::OnDemand)
        .build()
}

fn scaling(spec: &ResourceSpec) -> Result<Option<ManagedScalingPolicy>> {
    if !spec.props.contains_key("managed_min") {
        return Ok(None);
    }
    Ok(Some(
        ManagedScalingPolicy::builder()
            .compute_limits(
                ComputeLimits::builder()
                    .unit_type(ComputeLimitsUnitType::Instances)
                    .minimum_capacity_units(i(spec, "managed_min")? as i32)
                    .maximum_capacity_units(i(spec, "managed_max")? as i32)
                    .build(),
            )
            .build(),
    ))
}

#[async_trait]
impl Provider for EmrClusterProvider {
    fn kind(&self) -> Kind {
        Kind::EmrCluster
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let emr = &ctx.clients.emr;
        let summaries: Vec<_> = emr
            .list_clusters()
            .cluster_states(ClusterState::Starting)
            .cluster_states(ClusterState::Bootstrapping)
            .cluster_states(ClusterState::Running)
            .cluster_states(ClusterState::Waiting)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing EMR clusters", e))?;
        let prefix = ctx.name_prefix();
        let mut found = Vec::new();
        for summary in summaries
            .iter()
            .filter(|c| c.name().is_some_and(|n| n.starts_with(&prefix)))
        {
            let cid = summary.id().unwrap_or_default();
            let described = emr
                .describe_cluster()
                .cluster_id(cid)
                .send()
                .await
                .map_err(|e| aws_error(&format!("describing EMR cluster {cid}"), e))?;
            let Some(c) = described.cluster() else {
                continue;
            };
            let Some((id, stack)) = ctx.owner(
                c.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
            ) else {
                continue;
            };
            let attrs = c.ec2_instance_attributes();
            let mut o = Observed::new(&id, Kind::EmrCluster, cid)
                .prop(
                    "release_label",
                    Val::str(c.release_label().unwrap_or_default()),
                )
                .prop(
                    "applications",
                    str_list(c.applications().iter().filter_map(|a| a.name())),
                )
                .prop(
                    "subnet_id",
                    Val::str(attrs.and_then(|a| a.ec2_subnet_id()).unwrap_or_default()),
                )
                .prop(
                    "service_role",
                    Val::str(c.service_role().unwrap_or_default()),
                )
                .prop(
                    "master_security_group",
                    Val::str(
                        attrs
                            .and_then(|a| a.emr_managed_master_security_group())
                            .unwrap_or_default(),
                    ),
                )
                .prop(
                    "core_security_group",
                    Val::str(
                        attrs
                            .and_then(|a| a.emr_managed_slave_security_group())
                            .unwrap_or_default(),
                    ),
                )
                .prop(
                    "service_security_group",
                    Val::str(
                        attrs
                            .and_then(|a| a.service_access_security_group())
                            .unwrap_or_default(),
                    ),
                )
                .prop(
                    "instance_profile",
                    Val::str(
                        attrs
                            .and_then(|a| a.iam_instance_profile())
                            .unwrap_or_default(),
                    ),
                )
                .prop("log_uri", Val::str(c.log_uri().unwrap_or_default()))
                .output("arn", c.cluster_arn().unwrap_or_default());
            match emr
                .get_auto_termination_policy()
                .cluster_id(cid)
                .send()
                .await
            {
                Ok(p) => {
                    let idle = p.auto_termination_policy().and_then(|a| a.idle_timeout());
                    o = o.prop("auto_termination", Val::Bool(idle.is_some()));
                }
                // Not readable here: compared only where it can be read (create_only).
                Err(e) if unsupported(error_code(&e).as_deref()) => {}
                Err(e) => return Err(aws_error(&format!("reading idle policy of {cid}"), e)),
            }
            match emr
                .get_managed_scaling_policy()
                .cluster_id(cid)
                .send()
                .await
            {
                Ok(p) => {
                    if let Some(limits) =
                        p.managed_scaling_policy().and_then(|m| m.compute_limits())
                    {
                        let units = |u: Option<i32>| Val::Int(u.unwrap_or(0).into());
                        o = o
                            .prop("managed_min", units(limits.minimum_capacity_units()))
                            .prop("managed_max", units(limits.maximum_capacity_units()));
                    }
                }
                Err(e) if unsupported(error_code(&e).as_deref()) => {}
                Err(e) => return Err(aws_error(&format!("reading scaling of {cid}"), e)),
            }
            o.name = c.name().unwrap_or_default().to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let name = spec.name.as_str();
        let emr = &ctx.clients.emr;
        let tags: Vec<Tag> = ctx
            .tags(spec)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let applications: Vec<Application> = strs(spec, "applications")
            .into_iter()
            .map(|a| Application::builder().name(a).build())
            .collect();
        let instances = JobFlowInstancesConfig::builder()
            .instance_groups(group(
                InstanceRoleType::Master,
                s(spec, "master_instance_type")?,
                1,
            ))
            .instance_groups(group(
                InstanceRoleType::Core,
                s(spec, "core_instance_type")?,
                i(spec, "core_instance_count")? as i32,
            ))
            .ec2_subnet_id(s(spec, "subnet_id")?)
            .emr_managed_master_security_group(s(spec, "master_security_group")?)
            .emr_managed_slave_security_group(s(spec, "core_security_group")?)
            .service_access_security_group(s(spec, "service_security_group")?)
            .keep_job_flow_alive_when_no_steps(true)
            .termination_protected(false)
            .build();
        let out = retry_propagation(INSTANCE_PROFILE_PROPAGATING, IAM_PROPAGATION, || async {
            emr.run_job_flow()
                .name(name)
                .release_label(s(spec, "release_label").map_err(|e| (None, e))?)
                .log_uri(s(spec, "log_uri").map_err(|e| (None, e))?)
                .set_applications(Some(applications.clone()))
                .instances(instances.clone())
                .service_role(s(spec, "service_role").map_err(|e| (None, e))?)
                .job_flow_role(s(spec, "instance_profile").map_err(|e| (None, e))?)
                .set_managed_scaling_policy(scaling(spec).map_err(|e| (None, e))?)
                .visible_to_all_users(true)
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(|e| coded(&format!("creating EMR cluster {name}"), e))
        })
        .await
        .map_err(|(_, e)| e)?;
        let cid = out.job_flow_id().unwrap_or_default().to_string();
        let doing = format!("waiting for EMR cluster {name} ({cid}) to start");
        if let Err(e) = emr
            .wait_until_cluster_running()
            .cluster_id(&cid)
            .wait(CLUSTER_WAIT)
            .await
        {
            // The waiter only knows the state; EMR's StateChangeReason says why (a role it
            // cannot use, a bootstrap failure, no capacity).
            return Err(match why_ended(ctx, &cid).await {
                Some(reason) => anyhow!("{doing}: the cluster ended: {reason}"),
                None => waiter_error(&doing, e),
            });
        }
        Ok(observed_from_spec(spec, &cid).output("arn", out.cluster_arn().unwrap_or_default()))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let cid = current.physical_id.as_str();
        let emr = &ctx.clients.emr;
        if current.props.get("auto_termination") == Some(&Val::Bool(true)) {
            // Set outside ftctl (or by an older version): it would end the cluster when idle,
            // and the next apply would make it again.
            emr.remove_auto_termination_policy()
                .cluster_id(cid)
                .send()
                .await
                .map_err(|e| aws_error(&format!("removing the idle policy of {cid}"), e))?;
        }
        match scaling(spec)? {
            Some(policy) => {
                emr.put_managed_scaling_policy()
                    .cluster_id(cid)
                    .managed_scaling_policy(policy)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("setting managed scaling of {cid}"), e))?;
            }
            None => {
                emr.remove_managed_scaling_policy()
                    .cluster_id(cid)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("removing managed scaling of {cid}"), e))?;
            }
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let cid = current.physical_id.as_str();
        let emr = &ctx.clients.emr;
        emr.terminate_job_flows()
            .job_flow_ids(cid)
            .send()
            .await
            .map_err(|e| aws_error(&format!("terminating EMR cluster {cid}"), e))?;
        emr.wait_until_cluster_terminated()
            .cluster_id(cid)
            .wait(CLUSTER_WAIT)
            .await
            .map_err(|e| waiter_error(&format!("waiting for EMR cluster {cid} to terminate"), e))?;
        Ok(())
    }
}
