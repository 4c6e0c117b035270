//! The deployment's CloudTrail trail: every API call, in every region, recorded with log-file
//! validation into the deployment's encrypted, non-public bucket. The trail is named
//! `<deployment>-trail`, which is how it is found (trail listings carry no tags).

use crate::aws::clients::Clients;
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, b, error_code, observed_from_spec, s, updated_in_place};
use crate::deployment::trail_name;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;

/// Every attribute of a cloudtrail trail: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::Trail,
    &[
        Attr::new("bucket"),
        Attr::new("global_service_events"),
        Attr::new("log_file_validation"),
        Attr::new("logging"),
        Attr::new("multi_region"),
    ],
);

pub struct TrailProvider;

#[async_trait]
impl Provider for TrailProvider {
    fn kind(&self) -> Kind {
        Kind::Trail
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let ct = &ctx.clients.cloudtrail;
        let name = trail_name(ctx.env(), &ctx.clients.region);
        // Only trails whose home is this region: another region's multi-region trail shows
        // here as a shadow trail that can be neither updated nor deleted from here.
        let out = ct
            .describe_trails()
            .trail_name_list(&name)
            .include_shadow_trails(false)
            .send()
            .await
            .map_err(|e| aws_error("listing trails", e))?;
        let Some(trail) = out.trail_list().iter().find(|t| {
            t.name() == Some(name.as_str())
                && t.home_region().is_none_or(|r| r == ctx.clients.region)
        }) else {
            return Ok(Vec::new());
        };
        let logging = ct
            .get_trail_status()
            .name(&name)
            .send()
            .await
            .map_err(|e| aws_error(&format!("reading the status of trail {name}"), e))?
            .is_logging()
            .unwrap_or(false);
        let mut o = Observed::new("audit.trail", Kind::Trail, &name)
            .prop(
                "bucket",
                Val::str(trail.s3_bucket_name().unwrap_or_default()),
            )
            .prop(
                "multi_region",
                Val::Bool(trail.is_multi_region_trail().unwrap_or(false)),
            )
            .prop(
                "log_file_validation",
                Val::Bool(trail.log_file_validation_enabled().unwrap_or(false)),
            )
            .prop(
                "global_service_events",
                Val::Bool(trail.include_global_service_events().unwrap_or(false)),
            )
            .prop("logging", Val::Bool(logging))
            .output("arn", trail.trail_arn().unwrap_or_default());
        o.name = name;
        Ok(vec![o])
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let ct = &ctx.clients.cloudtrail;
        let name = spec.name.as_str();
        let tags: Vec<aws_sdk_cloudtrail::types::Tag> = ctx
            .tags(spec)
            .into_iter()
            .map(|(k, v)| {
                aws_sdk_cloudtrail::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
            })
            .collect::<Result<_, _>>()?;
        let out = ct
            .create_trail()
            .name(name)
            .s3_bucket_name(s(spec, "bucket")?)
            .is_multi_region_trail(b(spec, "multi_region")?)
            .enable_log_file_validation(b(spec, "log_file_validation")?)
            .include_global_service_events(b(spec, "global_service_events")?)
            .set_tags_list(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating trail {name}"), e))?;
        if b(spec, "logging")? {
            ct.start_logging()
                .name(name)
                .send()
                .await
                .map_err(|e| aws_error(&format!("starting trail {name}"), e))?;
        }
        Ok(observed_from_spec(spec, name).output("arn", out.trail_arn().unwrap_or_default()))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let ct = &ctx.clients.cloudtrail;
        let name = current.physical_id.as_str();
        ct.update_trail()
            .name(name)
            .s3_bucket_name(s(spec, "bucket")?)
            .is_multi_region_trail(b(spec, "multi_region")?)
            .enable_log_file_validation(b(spec, "log_file_validation")?)
            .include_global_service_events(b(spec, "global_service_events")?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("updating trail {name}"), e))?;
        if b(spec, "logging")? {
            ct.start_logging()
                .name(name)
                .send()
                .await
                .map_err(|e| aws_error(&format!("starting trail {name}"), e))?;
        } else {
            ct.stop_logging()
                .name(name)
                .send()
                .await
                .map_err(|e| aws_error(&format!("stopping trail {name}"), e))?;
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current.physical_id.as_str();
        match ctx
            .clients
            .cloudtrail
            .delete_trail()
            .name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("TrailNotFoundException") => Ok(()),
            Err(e) => Err(aws_error(&format!("deleting trail {name}"), e)),
        }
    }
}

/// The account's trails that record this region's management events now (multi-region trails
/// homed anywhere, and this region's own), as "name (home region)": what `check --live` reports
/// for a deployment without a trail of its own.
pub async fn recording_here(clients: &Clients) -> Result<Vec<String>> {
    let ct = &clients.cloudtrail;
    let out = ct
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| aws_error("listing the account's trails", e))?;
    let mut found = Vec::new();
    for t in out.trail_list() {
        let home = t.home_region().unwrap_or_default();
        if !(t.is_multi_region_trail().unwrap_or(false) || home == clients.region) {
            continue;
        }
        // A trail homed elsewhere is asked about by ARN (a name only finds this region's).
        let id = t.trail_arn().or(t.name()).unwrap_or_default();
        let logging = match ct.get_trail_status().name(id).send().await {
            Ok(status) => status.is_logging().unwrap_or(false),
            Err(_) => false,
        };
        if logging {
            found.push(format!("{} ({home})", t.name().unwrap_or_default()));
        }
    }
    Ok(found)
}
