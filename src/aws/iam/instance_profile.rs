//! IAM instance profiles: how EC2 instances (EMR's nodes) get a role. Found under the
//! deployment's IAM path like roles.

use super::tags::iam_tags;
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, coded, delete_waiting, error_code, observed_from_spec, read_each, s,
    updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;

/// Every attribute of an iam instance profile: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(Kind::InstanceProfile, &[Attr::new("role_name").replaces()]);

pub struct InstanceProfileProvider;

#[async_trait]
impl Provider for InstanceProfileProvider {
    fn kind(&self) -> Kind {
        Kind::InstanceProfile
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let iam = &ctx.clients.iam;
        let profiles: Vec<_> = iam
            .list_instance_profiles()
            .path_prefix(ctx.iam_path())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing instance profiles", e))?;
        read_each(profiles, |p| async move {
            let name = p.instance_profile_name();
            // Listings carry no tags (IAM API reference, ListInstanceProfiles); the account's
            // roles read once may show them, else one read for this profile.
            let tags = match ctx.reads.profile_tags(ctx, name).await? {
                Some(tags) => tags,
                None => iam
                    .list_instance_profile_tags()
                    .instance_profile_name(name)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("reading tags of {name}"), e))?
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            };
            let Some((id, stack)) = ctx.owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            else {
                return Ok(None);
            };
            let role = p.roles().first().map(|r| r.role_name()).unwrap_or_default();
            let mut o = Observed::new(&id, Kind::InstanceProfile, name)
                .prop("role_name", Val::str(role))
                .output("name", name)
                .output("arn", p.arn());
            o.name = name.to_string();
            o.stack = stack;
            Ok(Some(o))
        })
        .await
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let iam = &ctx.clients.iam;
        let name = spec.name.as_str();
        let tags = iam_tags(ctx, spec)?;
        let out = iam
            .create_instance_profile()
            .instance_profile_name(name)
            .path(ctx.iam_path())
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating instance profile {name}"), e))?;
        iam.add_role_to_instance_profile()
            .instance_profile_name(name)
            .role_name(s(spec, "role_name")?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("adding the role to {name}"), e))?;
        let arn = out.instance_profile().map(|p| p.arn()).unwrap_or_default();
        Ok(observed_from_spec(spec, name)
            .output("name", name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        _ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        // The role forces a replacement; nothing else to change.
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let iam = &ctx.clients.iam;
        let name = current.physical_id.clone();
        if let Some(role) = current.props.get("role_name").and_then(Val::as_str) {
            match iam
                .remove_role_from_instance_profile()
                .instance_profile_name(&name)
                .role_name(role)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if error_code(&e).as_deref() == Some("NoSuchEntity") => {}
                Err(e) => return Err(aws_error(&format!("removing the role from {name}"), e)),
            }
        }
        delete_waiting(&["DeleteConflict"], "NoSuchEntity", || async {
            iam.delete_instance_profile()
                .instance_profile_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting instance profile {name}"), e))
        })
        .await
    }
}
