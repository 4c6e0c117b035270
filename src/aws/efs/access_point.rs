//! EFS access points: every client is rooted in one directory as one POSIX user, whatever the
//! container runs as. Immutable: a change replaces it.

use super::tags::{efs_owner, efs_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, error_code, i, observed_from_spec, s, updated_in_place};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_efs::types::{CreationInfo, LifeCycleState, PosixUser, RootDirectory};

/// Every attribute of an efs access point: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::EfsAccessPoint,
    &[
        Attr::new("file_system_id").replaces(),
        Attr::new("posix_gid").replaces(),
        Attr::new("posix_uid").replaces(),
        Attr::new("root_path").replaces(),
    ],
);

pub struct EfsAccessPointProvider;

#[async_trait]
impl Provider for EfsAccessPointProvider {
    fn kind(&self) -> Kind {
        Kind::EfsAccessPoint
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::EfsFileSystem]
    }

    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for fs in found.iter().filter(|o| o.kind == Kind::EfsFileSystem) {
            let points = ctx
                .clients
                .efs
                .describe_access_points()
                .file_system_id(&fs.physical_id)
                .send()
                .await
                .map_err(|e| {
                    aws_error(&format!("listing access points of {}", fs.physical_id), e)
                })?;
            for p in points.access_points() {
                if matches!(
                    p.life_cycle_state(),
                    Some(LifeCycleState::Deleting | LifeCycleState::Deleted)
                ) {
                    continue;
                }
                let Some((id, stack)) = efs_owner(ctx, p.tags()) else {
                    continue;
                };
                let ap = p.access_point_id().unwrap_or_default();
                let user = p.posix_user();
                let mut o = Observed::new(&id, Kind::EfsAccessPoint, ap)
                    .prop("file_system_id", Val::str(&fs.physical_id))
                    .prop("posix_uid", Val::Int(user.map(|u| u.uid()).unwrap_or(0)))
                    .prop("posix_gid", Val::Int(user.map(|u| u.gid()).unwrap_or(0)))
                    .prop(
                        "root_path",
                        Val::str(p.root_directory().and_then(|r| r.path()).unwrap_or("/")),
                    )
                    .output("arn", p.access_point_arn().unwrap_or_default());
                o.name = p.name().unwrap_or_default().to_string();
                o.stack = stack;
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let uid = i(spec, "posix_uid")?;
        let gid = i(spec, "posix_gid")?;
        let out = ctx
            .clients
            .efs
            .create_access_point()
            // The client token makes a retried create return the same access point.
            .client_token(&spec.name)
            .file_system_id(s(spec, "file_system_id")?)
            .posix_user(PosixUser::builder().uid(uid).gid(gid).build()?)
            .root_directory(
                RootDirectory::builder()
                    .path(s(spec, "root_path")?)
                    .creation_info(
                        CreationInfo::builder()
                            .owner_uid(uid)
                            .owner_gid(gid)
                            .permissions("750")
                            .build()?,
                    )
                    .build(),
            )
            .set_tags(Some(efs_tags(ctx, spec)?))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating access point {}", spec.name), e))?;
        let id = out.access_point_id().unwrap_or_default();
        Ok(observed_from_spec(spec, id).output("arn", out.access_point_arn().unwrap_or_default()))
    }

    async fn update(
        &self,
        _ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        // Every attribute forces a replacement; nothing is left to change in place.
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.as_str();
        match ctx
            .clients
            .efs
            .delete_access_point()
            .access_point_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("AccessPointNotFound") => Ok(()),
            Err(e) => Err(aws_error(&format!("deleting access point {id}"), e)),
        }
    }
}
