//! EFS mount targets, one in each private subnet, so a task mounts the file system in its own
//! zone. Mount targets carry no tags: they are found through the deployment's file systems and
//! named after the subnet they sit in.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, error_code, observed_from_spec, s, str_list, strs, updated_in_place, wait_for,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_efs::types::LifeCycleState;
use std::collections::HashMap;
use std::time::Duration;

/// Every attribute of an efs mount target: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::EfsMountTarget,
    &[
        Attr::new("file_system_id").replaces(),
        Attr::new("security_group_ids"),
        Attr::new("subnet_id").replaces(),
    ],
);

pub struct EfsMountTargetProvider;

const READY_WAIT: Duration = Duration::from_secs(600);

async fn state(ctx: &Ctx<'_>, id: &str) -> Result<Option<LifeCycleState>> {
    match ctx
        .clients
        .efs
        .describe_mount_targets()
        .mount_target_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .mount_targets()
            .first()
            .map(|m| m.life_cycle_state().clone())),
        Err(e) if error_code(&e).as_deref() == Some("MountTargetNotFound") => Ok(None),
        Err(e) => Err(aws_error(&format!("reading mount target {id}"), e)),
    }
}

#[async_trait]
impl Provider for EfsMountTargetProvider {
    fn kind(&self) -> Kind {
        Kind::EfsMountTarget
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::EfsFileSystem, Kind::Subnet]
    }

    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let efs = &ctx.clients.efs;
        // subnet id -> its index among the private subnets (logical id network.private.N).
        let private: HashMap<&str, &str> = found
            .iter()
            .filter(|o| o.kind == Kind::Subnet)
            .filter_map(|o| {
                let index = o.id.strip_prefix("network.private.")?;
                Some((o.physical_id.as_str(), index))
            })
            .collect();
        let mut out = Vec::new();
        for fs in found.iter().filter(|o| o.kind == Kind::EfsFileSystem) {
            let targets = efs
                .describe_mount_targets()
                .file_system_id(&fs.physical_id)
                .send()
                .await
                .map_err(|e| {
                    aws_error(&format!("listing mount targets of {}", fs.physical_id), e)
                })?;
            for m in targets.mount_targets() {
                if matches!(
                    m.life_cycle_state(),
                    LifeCycleState::Deleting | LifeCycleState::Deleted
                ) {
                    continue;
                }
                let Some(index) = private.get(m.subnet_id()) else {
                    continue;
                };
                let mt = m.mount_target_id();
                let sgs = efs
                    .describe_mount_target_security_groups()
                    .mount_target_id(mt)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("reading security groups of {mt}"), e))?;
                let mut o = Observed::new(
                    &format!("{}.mount.{index}", fs.id),
                    Kind::EfsMountTarget,
                    mt,
                )
                .prop("file_system_id", Val::str(&fs.physical_id))
                .prop("subnet_id", Val::str(m.subnet_id()))
                .prop(
                    "security_group_ids",
                    str_list(sgs.security_groups().to_vec()),
                )
                .output(
                    "availability_zone",
                    m.availability_zone_name().unwrap_or_default(),
                );
                o.name = format!("{}-mount-{index}", fs.name);
                o.stack = fs.stack.clone();
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .efs
            .create_mount_target()
            .file_system_id(s(spec, "file_system_id")?)
            .subnet_id(s(spec, "subnet_id")?)
            .set_security_groups(Some(strs(spec, "security_group_ids")))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating mount target {}", spec.id), e))?;
        let id = out.mount_target_id().to_string();
        wait_for(
            &format!("mount target {id} becoming available"),
            READY_WAIT,
            || async { Ok(state(ctx, &id).await? == Some(LifeCycleState::Available)) },
        )
        .await?;
        Ok(observed_from_spec(spec, &id))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let id = current.physical_id.as_str();
        ctx.clients
            .efs
            .modify_mount_target_security_groups()
            .mount_target_id(id)
            .set_security_groups(Some(strs(spec, "security_group_ids")))
            .send()
            .await
            .map_err(|e| aws_error(&format!("changing security groups of {id}"), e))?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.clone();
        match ctx
            .clients
            .efs
            .delete_mount_target()
            .mount_target_id(&id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e).as_deref() == Some("MountTargetNotFound") => return Ok(()),
            Err(e) => return Err(aws_error(&format!("deleting mount target {id}"), e)),
        }
        // Its network interface holds the subnet and security group until it is gone.
        wait_for(&format!("mount target {id} going"), READY_WAIT, || async {
            Ok(state(ctx, &id)
                .await?
                .is_none_or(|s| s == LifeCycleState::Deleted))
        })
        .await
    }
}
