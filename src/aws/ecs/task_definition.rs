//! ECS task definitions: one container (`app`) on Fargate, logs to the service's log group, the
//! file system's access point mounted over TLS with IAM authorisation. Revisions are immutable:
//! a change registers a new revision (earlier ones stay, so a circuit-breaker rollback can use
//! them); deleting deregisters every revision of the family.

use super::tags::{ecs_owner, ecs_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, error_code, i, observed_from_spec, s, updated_in_place};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, EfsAuthorizationConfig, EfsAuthorizationConfigIam,
    EfsTransitEncryption, EfsVolumeConfiguration, LogConfiguration, LogDriver, MountPoint,
    NetworkMode, PortMapping, TaskDefinition, TaskDefinitionFamilyStatus, TaskDefinitionField,
    TaskDefinitionStatus, Volume,
};

/// Every attribute of an ecs task definition: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::TaskDefinition,
    &[
        Attr::new("access_point_id"),
        Attr::new("container_port"),
        Attr::new("cpu"),
        Attr::new("execution_role_arn"),
        Attr::new("file_system_id"),
        Attr::new("image"),
        Attr::new("log_group"),
        Attr::new("memory"),
        Attr::new("mount_path"),
        Attr::new("task_role_arn"),
    ],
);

pub struct TaskDefinitionProvider;

const CONTAINER: &str = "app";
const VOLUME: &str = "shared";

/// A task definition's physical id: its family, marked so it cannot be mistaken for the
/// service of the same name when ordering deletions.
fn physical(family: &str) -> String {
    format!("task-definition/{family}")
}

fn observed_task(t: &TaskDefinition, id: &str, family: &str) -> Observed {
    let container = t.container_definitions().first();
    let mut o = Observed::new(id, Kind::TaskDefinition, &physical(family))
        .prop(
            "cpu",
            Val::Int(t.cpu().and_then(|c| c.parse().ok()).unwrap_or(0)),
        )
        .prop(
            "memory",
            Val::Int(t.memory().and_then(|m| m.parse().ok()).unwrap_or(0)),
        )
        .prop(
            "image",
            Val::str(container.and_then(|c| c.image()).unwrap_or_default()),
        )
        .prop(
            "container_port",
            Val::Int(
                container
                    .and_then(|c| c.port_mappings().first())
                    .and_then(|p| p.container_port())
                    .unwrap_or(0)
                    .into(),
            ),
        )
        .prop(
            "execution_role_arn",
            Val::str(t.execution_role_arn().unwrap_or_default()),
        )
        .prop(
            "task_role_arn",
            Val::str(t.task_role_arn().unwrap_or_default()),
        )
        .prop(
            "log_group",
            Val::str(
                container
                    .and_then(|c| c.log_configuration())
                    .and_then(|l| l.options())
                    .and_then(|o| o.get("awslogs-group"))
                    .map(String::as_str)
                    .unwrap_or_default(),
            ),
        )
        .output("family", family)
        .output("arn", t.task_definition_arn().unwrap_or_default());
    if let Some(efs) = t
        .volumes()
        .iter()
        .find(|v| v.name() == Some(VOLUME))
        .and_then(|v| v.efs_volume_configuration())
    {
        o = o
            .prop("file_system_id", Val::str(efs.file_system_id()))
            .prop(
                "access_point_id",
                Val::str(
                    efs.authorization_config()
                        .and_then(|a| a.access_point_id())
                        .unwrap_or_default(),
                ),
            )
            .prop(
                "mount_path",
                Val::str(
                    container
                        .and_then(|c| c.mount_points().first())
                        .and_then(|m| m.container_path())
                        .unwrap_or_default(),
                ),
            );
    }
    o.name = family.to_string();
    o
}

async fn register(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<String> {
    let family = spec.name.as_str();
    let port = i(spec, "container_port")? as i32;
    let mut container = ContainerDefinition::builder()
        .name(CONTAINER)
        .image(s(spec, "image")?)
        .essential(true)
        .port_mappings(PortMapping::builder().container_port(port).build())
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", s(spec, "log_group")?)
                .options("awslogs-region", &ctx.clients.region)
                .options("awslogs-stream-prefix", CONTAINER)
                .build()?,
        );
    let mut req = ctx
        .clients
        .ecs
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(i(spec, "cpu")?.to_string())
        .memory(i(spec, "memory")?.to_string())
        .execution_role_arn(s(spec, "execution_role_arn")?)
        .task_role_arn(s(spec, "task_role_arn")?)
        .set_tags(Some(ecs_tags(ctx, spec)));
    if spec.props.contains_key("file_system_id") {
        container = container.mount_points(
            MountPoint::builder()
                .source_volume(VOLUME)
                .container_path(s(spec, "mount_path")?)
                .read_only(false)
                .build(),
        );
        req = req.volumes(
            Volume::builder()
                .name(VOLUME)
                .efs_volume_configuration(
                    EfsVolumeConfiguration::builder()
                        .file_system_id(s(spec, "file_system_id")?)
                        .transit_encryption(EfsTransitEncryption::Enabled)
                        .authorization_config(
                            EfsAuthorizationConfig::builder()
                                .access_point_id(s(spec, "access_point_id")?)
                                .iam(EfsAuthorizationConfigIam::Enabled)
                                .build(),
                        )
                        .build()?,
                )
                .build(),
        );
    }
    let out = req
        .container_definitions(container.build())
        .send()
        .await
        .map_err(|e| aws_error(&format!("registering task definition {family}"), e))?;
    Ok(out
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_string())
}

#[async_trait]
impl Provider for TaskDefinitionProvider {
    fn kind(&self) -> Kind {
        Kind::TaskDefinition
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let ecs = &ctx.clients.ecs;
        let families: Vec<String> = ecs
            .list_task_definition_families()
            .family_prefix(ctx.name_prefix())
            .status(TaskDefinitionFamilyStatus::Active)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing task definition families", e))?;
        let mut found = Vec::new();
        for family in families {
            let out = match ecs
                .describe_task_definition()
                .task_definition(&family)
                .include(TaskDefinitionField::Tags)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if error_code(&e).as_deref() == Some("ClientException") => continue,
                Err(e) => {
                    return Err(aws_error(
                        &format!("describing task definition {family}"),
                        e,
                    ))
                }
            };
            let Some(t) = out.task_definition() else {
                continue;
            };
            if t.status() != Some(&TaskDefinitionStatus::Active) {
                continue;
            }
            let Some((id, stack)) = ecs_owner(ctx, out.tags()) else {
                continue;
            };
            let mut o = observed_task(t, &id, &family);
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let arn = register(ctx, spec).await?;
        Ok(observed_from_spec(spec, &physical(&spec.name))
            .output("family", &spec.name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let arn = register(ctx, spec).await?;
        Ok(updated_in_place(spec, current).output("arn", arn))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let ecs = &ctx.clients.ecs;
        let family = current
            .physical_id
            .strip_prefix("task-definition/")
            .unwrap_or(&current.physical_id);
        let revisions: Vec<String> = ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error(&format!("listing revisions of {family}"), e))?;
        for arn in revisions {
            // The prefix also matches longer family names: only this family's revisions.
            if !arn.contains(&format!(":task-definition/{family}:")) {
                continue;
            }
            ecs.deregister_task_definition()
                .task_definition(&arn)
                .send()
                .await
                .map_err(|e| aws_error(&format!("deregistering {arn}"), e))?;
        }
        Ok(())
    }
}
