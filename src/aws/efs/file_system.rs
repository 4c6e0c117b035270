//! EFS file systems: encrypted, General Purpose, elastic throughput by default, in AWS Backup's
//! daily plan. The creation token is the ftctl name, so a retried create cannot make two.

use super::tags::{efs_owner, efs_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, coded, delete_waiting, error_code, observed_from_spec, s, updated_in_place,
    wait_for,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_efs::types::{
    BackupPolicy, FileSystemDescription, LifeCycleState, PerformanceMode, Status, ThroughputMode,
};
use std::time::Duration;

/// Every attribute of an efs file system: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::EfsFileSystem,
    &[
        Attr::new("backup"),
        Attr::new("encrypted").replaces(),
        Attr::new("performance_mode").replaces(),
        Attr::new("throughput_mode"),
    ],
);

pub struct EfsFileSystemProvider;

const READY_WAIT: Duration = Duration::from_secs(600);

fn gone(state: Option<&LifeCycleState>) -> bool {
    matches!(
        state,
        Some(LifeCycleState::Deleting | LifeCycleState::Deleted)
    )
}

async fn describe(ctx: &Ctx<'_>, id: &str) -> Result<Option<FileSystemDescription>> {
    match ctx
        .clients
        .efs
        .describe_file_systems()
        .file_system_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.file_systems().first().cloned()),
        Err(e) if error_code(&e).as_deref() == Some("FileSystemNotFound") => Ok(None),
        Err(e) => Err(aws_error(&format!("reading file system {id}"), e)),
    }
}

async fn set_backup(ctx: &Ctx<'_>, id: &str, on: bool) -> Result<()> {
    ctx.clients
        .efs
        .put_backup_policy()
        .file_system_id(id)
        .backup_policy(
            BackupPolicy::builder()
                .status(if on {
                    Status::Enabled
                } else {
                    Status::Disabled
                })
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws_error(&format!("setting the backup policy of {id}"), e))?;
    Ok(())
}

#[async_trait]
impl Provider for EfsFileSystemProvider {
    fn kind(&self) -> Kind {
        Kind::EfsFileSystem
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let efs = &ctx.clients.efs;
        let all: Vec<_> = efs
            .describe_file_systems()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing file systems", e))?;
        let mut found = Vec::new();
        for fs in all {
            if gone(Some(fs.life_cycle_state())) {
                continue;
            }
            let Some((id, stack)) = efs_owner(ctx, fs.tags()) else {
                continue;
            };
            let fs_id = fs.file_system_id();
            let backup = match efs
                .describe_backup_policy()
                .file_system_id(fs_id)
                .send()
                .await
            {
                Ok(p) => p
                    .backup_policy()
                    .is_some_and(|b| matches!(b.status(), Status::Enabled | Status::Enabling)),
                Err(e) if error_code(&e).as_deref() == Some("PolicyNotFound") => false,
                Err(e) => return Err(aws_error(&format!("reading backup policy of {fs_id}"), e)),
            };
            let mut o = Observed::new(&id, Kind::EfsFileSystem, fs_id)
                .prop("encrypted", Val::Bool(fs.encrypted().unwrap_or(false)))
                .prop("performance_mode", Val::str(fs.performance_mode().as_str()))
                .prop(
                    "throughput_mode",
                    Val::str(fs.throughput_mode().map(|t| t.as_str()).unwrap_or_default()),
                )
                .prop("backup", Val::Bool(backup))
                .output("arn", fs.file_system_arn().unwrap_or_default());
            o.name = fs.name().unwrap_or(fs.creation_token()).to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let name = spec.name.as_str();
        let out = ctx
            .clients
            .efs
            .create_file_system()
            .creation_token(name)
            .encrypted(b(spec, "encrypted")?)
            .performance_mode(PerformanceMode::from(s(spec, "performance_mode")?))
            .throughput_mode(ThroughputMode::from(s(spec, "throughput_mode")?))
            .backup(b(spec, "backup")?)
            .set_tags(Some(efs_tags(ctx, spec)?))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating file system {name}"), e))?;
        let id = out.file_system_id().to_string();
        wait_for(
            &format!("file system {id} becoming available"),
            READY_WAIT,
            || async {
                Ok(describe(ctx, &id)
                    .await?
                    .is_some_and(|fs| fs.life_cycle_state() == &LifeCycleState::Available))
            },
        )
        .await?;
        Ok(observed_from_spec(spec, &id).output("arn", out.file_system_arn().unwrap_or_default()))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let id = current.physical_id.as_str();
        if current.props.get("throughput_mode") != spec.props.get("throughput_mode") {
            ctx.clients
                .efs
                .update_file_system()
                .file_system_id(id)
                .throughput_mode(ThroughputMode::from(s(spec, "throughput_mode")?))
                .send()
                .await
                .map_err(|e| aws_error(&format!("changing throughput of {id}"), e))?;
        }
        if current.props.get("backup") != spec.props.get("backup") {
            set_backup(ctx, id, b(spec, "backup")?).await?;
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.clone();
        // In use until its mount targets are gone, which takes a minute or two.
        delete_waiting(&["FileSystemInUse"], "FileSystemNotFound", || async {
            ctx.clients
                .efs
                .delete_file_system()
                .file_system_id(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting file system {id}"), e))
        })
        .await
    }
}
