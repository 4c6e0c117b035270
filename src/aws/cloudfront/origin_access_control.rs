//! CloudFront origin access controls: how a distribution signs its requests to an S3 origin
//! (SigV4, always), so the bucket can stay private and admit only that distribution. They carry
//! no tags: found by their name, which the deployment and its region make unique in the account.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, coded, delete_waiting, error_code, s, updated_in_place};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};

static SCHEMA: Schema = Schema::new(Kind::OriginAccessControl, &[Attr::new("description")]);

pub struct OriginAccessControlProvider;

/// The one origin access control of a deployment: the maintenance page's.
const LOGICAL_ID: &str = "edge.oac";

fn config(spec: &ResourceSpec) -> Result<OriginAccessControlConfig> {
    Ok(OriginAccessControlConfig::builder()
        .name(&spec.name)
        .description(s(spec, "description")?)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        // Sign every request: the behaviour AWS recommends (CloudFront Developer Guide,
        // "Create a new origin access control").
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()?)
}

#[async_trait]
impl Provider for OriginAccessControlProvider {
    fn kind(&self) -> Kind {
        Kind::OriginAccessControl
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let pages: Vec<_> = ctx
            .clients
            .cloudfront
            .list_origin_access_controls()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing origin access controls", e))?;
        let wanted = crate::deployment::global_name(ctx.env(), &ctx.clients.region, "edge", 64);
        Ok(pages
            .iter()
            .filter_map(|p| p.origin_access_control_list())
            .flat_map(|l| l.items())
            .filter(|c| c.name() == wanted)
            .map(|c| {
                let mut o = Observed::new(LOGICAL_ID, Kind::OriginAccessControl, c.id())
                    .prop("description", Val::str(c.description()))
                    .output("id", c.id());
                o.name = c.name().to_string();
                o
            })
            .collect())
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .cloudfront
            .create_origin_access_control()
            .origin_access_control_config(config(spec)?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating origin access control {}", spec.name), e))?;
        let id = out
            .origin_access_control()
            .map(|c| c.id().to_string())
            .ok_or_else(|| anyhow!("CreateOriginAccessControl returned no id"))?;
        let mut o = crate::aws::sdk::observed_from_spec(spec, &id);
        o.outputs.insert("id".into(), id);
        Ok(o)
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let cf = &ctx.clients.cloudfront;
        let id = &current.physical_id;
        let etag = cf
            .get_origin_access_control()
            .id(id)
            .send()
            .await
            .map_err(|e| aws_error(&format!("reading origin access control {id}"), e))?
            .e_tag
            .unwrap_or_default();
        cf.update_origin_access_control()
            .id(id)
            .if_match(etag)
            .origin_access_control_config(config(spec)?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("updating origin access control {id}"), e))?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let cf = &ctx.clients.cloudfront;
        let id = current.physical_id.clone();
        // A control stays in use until the distribution that names it is gone or no longer
        // does (OriginAccessControlInUse); a distribution's delete is seen a while after it
        // returns (terraform-aws-modules/terraform-aws-cloudfront#135).
        let attempt = || async {
            // Deletes take the control's current ETag (DeleteOriginAccessControl, IfMatch).
            let etag = match cf.get_origin_access_control().id(&id).send().await {
                Ok(out) => out.e_tag.unwrap_or_default(),
                Err(e) if error_code(&e).as_deref() == Some("NoSuchOriginAccessControl") => {
                    return Ok(())
                }
                Err(e) => return Err(coded(&format!("reading origin access control {id}"), e)),
            };
            cf.delete_origin_access_control()
                .id(&id)
                .if_match(etag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting origin access control {id}"), e))
        };
        delete_waiting(
            &["OriginAccessControlInUse", "PreconditionFailed"],
            "NoSuchOriginAccessControl",
            attempt,
        )
        .await
    }
}
