//! CloudFront distributions in front of a balancer. The default behaviour sends every request,
//! every method, to the balancer uncached with everything the viewer sent (AWS's managed
//! CachingDisabled and AllViewer policies), HTTPS to the viewer; `/maintenance/*` comes from the
//! maintenance bucket through its origin access control, cached; the balancer's failures (the
//! stack's codes) are answered with the maintenance page.
//!
//! UpdateDistribution replaces the whole configuration and takes the ETag of the one it
//! replaces (API reference, UpdateDistribution): each change reads the configuration first and
//! keeps its CallerReference, which cannot change, and tries once more when another change got
//! in between (PreconditionFailed; hashicorp/terraform-provider-aws#24537). A distribution is
//! deleted only once disabled and deployed (DeleteDistribution: DistributionNotDisabled), which
//! takes the propagation time of the disable. Found by its comment, which carries the deployment
//! and its region, then its tags: the listing carries no tags (ListDistributions).

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, coded, delete_waiting, error_code, i, retry_while, s, strs, unix_now,
    updated_in_place, waiter_error,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_cloudfront::client::Waiters;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomErrorResponse,
    CustomErrorResponses, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
    DistributionConfigWithTags, DistributionSummary, HttpVersion, Method, MinimumProtocolVersion,
    Origin, OriginProtocolPolicy, OriginSslProtocols, Origins, PriceClass, S3OriginConfig,
    SslProtocol, SslSupportMethod, Tag, Tags, ViewerCertificate, ViewerProtocolPolicy,
};
use std::time::Duration;

static SCHEMA: Schema = Schema::new(
    Kind::Distribution,
    &[
        Attr::new("aliases"),
        Attr::new("certificate_arn"),
        Attr::new("enabled"),
        Attr::new("maintenance_access"),
        Attr::new("maintenance_cache_seconds"),
        Attr::new("maintenance_domain"),
        Attr::new("maintenance_on"),
        Attr::new("maintenance_page"),
        Attr::new("maintenance_paths"),
        Attr::new("origin_domain"),
        Attr::new("origin_port"),
        Attr::new("origin_protocol"),
        Attr::new("price_class"),
        Attr::new("viewer_protocol"),
    ],
);

pub struct DistributionProvider;

const BALANCER_ORIGIN: &str = "balancer";
const MAINTENANCE_ORIGIN: &str = "maintenance";

/// AWS's managed policies, by their documented ids (CloudFront Developer Guide, "Use managed
/// cache policies" and "Use managed origin request policies").
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// Every header, cookie and query string, the viewer's Host included: the balancer's
/// certificate is for the name viewers use, and the application sees what they asked for.
const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";

/// How long a change may take to reach every edge location. AWS gives no figure ("might take
/// a few minutes", Developer Guide, "Update a distribution"); practitioners report 15–20
/// minutes and longer for a disable (hashicorp/terraform#13309).
const DEPLOY_WAIT: Duration = Duration::from_secs(45 * 60);

/// The configuration `spec` stands for. `caller_reference` is the distribution's own (it
/// cannot change); `enabled` overrides the spec's while a delete disables it.
fn config(
    spec: &ResourceSpec,
    caller_reference: &str,
    enabled: bool,
) -> Result<DistributionConfig> {
    let protocol = s(spec, "origin_protocol")?;
    let port = i(spec, "origin_port")? as i32;
    let https = protocol == "https-only";
    let balancer = Origin::builder()
        .id(BALANCER_ORIGIN)
        .domain_name(s(spec, "origin_domain")?)
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(if https { 80 } else { port })
                .https_port(if https { port } else { 443 })
                .origin_protocol_policy(OriginProtocolPolicy::from(protocol))
                .origin_ssl_protocols(
                    OriginSslProtocols::builder()
                        .quantity(1)
                        .items(SslProtocol::TlSv12)
                        .build()?,
                )
                .build()?,
        )
        .build()?;
    let maintenance = Origin::builder()
        .id(MAINTENANCE_ORIGIN)
        .domain_name(s(spec, "maintenance_domain")?)
        // With origin access control, the legacy identity is sent empty (API reference,
        // S3OriginConfig).
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .origin_access_control_id(s(spec, "maintenance_access")?)
        .build()?;
    let viewer = ViewerProtocolPolicy::from(s(spec, "viewer_protocol")?);
    let all = [
        Method::Get,
        Method::Head,
        Method::Options,
        Method::Put,
        Method::Post,
        Method::Patch,
        Method::Delete,
    ];
    let get_head = [Method::Get, Method::Head];
    let cached = || {
        CachedMethods::builder()
            .quantity(2)
            .set_items(Some(get_head.to_vec()))
            .build()
    };
    let default = DefaultCacheBehavior::builder()
        .target_origin_id(BALANCER_ORIGIN)
        .viewer_protocol_policy(viewer.clone())
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(all.len() as i32)
                .set_items(Some(all.to_vec()))
                .cached_methods(cached()?)
                .build()?,
        )
        // No compression: CachingDisabled turns it off (it is a cache policy setting).
        .cache_policy_id(CACHING_DISABLED)
        .origin_request_policy_id(ALL_VIEWER)
        .build()?;
    let page = s(spec, "maintenance_page")?;
    let maintenance_behavior = CacheBehavior::builder()
        .path_pattern(s(spec, "maintenance_paths")?)
        .target_origin_id(MAINTENANCE_ORIGIN)
        .viewer_protocol_policy(viewer)
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(2)
                .set_items(Some(get_head.to_vec()))
                .cached_methods(cached()?)
                .build()?,
        )
        .cache_policy_id(CACHING_OPTIMIZED)
        .compress(true)
        .build()?;
    let caching = i(spec, "maintenance_cache_seconds")?;
    let codes: Vec<i64> = spec
        .props
        .get("maintenance_on")
        .map(|v| v.as_list().iter().filter_map(Val::as_i64).collect())
        .unwrap_or_default();
    let errors = codes
        .iter()
        .map(|code| {
            CustomErrorResponse::builder()
                .error_code(*code as i32)
                .response_page_path(page)
                // The viewer still learns it failed: the page comes with the failure's code.
                .response_code(code.to_string())
                .error_caching_min_ttl(caching)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let aliases = strs(spec, "aliases");
    let certificate = match spec.props.get("certificate_arn").and_then(Val::as_str) {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
        // The *.cloudfront.net certificate; its minimum protocol cannot be chosen.
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    };
    Ok(DistributionConfig::builder()
        .caller_reference(caller_reference)
        .comment(&spec.name)
        .enabled(enabled)
        .aliases(
            Aliases::builder()
                .quantity(aliases.len() as i32)
                .set_items(Some(aliases))
                .build()?,
        )
        .default_root_object("")
        .origins(
            Origins::builder()
                .quantity(2)
                .items(balancer)
                .items(maintenance)
                .build()?,
        )
        .default_cache_behavior(default)
        .cache_behaviors(
            CacheBehaviors::builder()
                .quantity(1)
                .items(maintenance_behavior)
                .build()?,
        )
        .custom_error_responses(
            CustomErrorResponses::builder()
                .quantity(errors.len() as i32)
                .set_items(Some(errors))
                .build()?,
        )
        .price_class(PriceClass::from(s(spec, "price_class")?))
        .viewer_certificate(certificate)
        .http_version(HttpVersion::Http2and3)
        .is_ipv6_enabled(true)
        .build()?)
}

/// A distribution as listed, in the spec's terms.
fn observed(id: &str, stack: String, d: &DistributionSummary) -> Observed {
    let origins = d.origins().map(|o| o.items()).unwrap_or_default();
    let origin = |name: &str| origins.iter().find(|o| o.id() == name);
    let mut o = Observed::new(id, Kind::Distribution, d.id())
        .output("id", d.id())
        .output("arn", d.arn())
        .output("domain_name", d.domain_name())
        .prop("enabled", Val::Bool(d.enabled()))
        .prop("price_class", Val::str(d.price_class().as_str()));
    if let Some(balancer) = origin(BALANCER_ORIGIN) {
        o = o.prop("origin_domain", Val::str(balancer.domain_name()));
        if let Some(c) = balancer.custom_origin_config() {
            let protocol = c.origin_protocol_policy();
            let port = if protocol == &OriginProtocolPolicy::HttpsOnly {
                c.https_port()
            } else {
                c.http_port()
            };
            o = o
                .prop("origin_protocol", Val::str(protocol.as_str()))
                .prop("origin_port", Val::Int(port.into()));
        }
    }
    if let Some(m) = origin(MAINTENANCE_ORIGIN) {
        o = o
            .prop("maintenance_domain", Val::str(m.domain_name()))
            .prop(
                "maintenance_access",
                Val::str(m.origin_access_control_id().unwrap_or_default()),
            );
    }
    if let Some(b) = d.cache_behaviors().and_then(|c| {
        c.items()
            .iter()
            .find(|b| b.target_origin_id() == MAINTENANCE_ORIGIN)
    }) {
        o = o.prop("maintenance_paths", Val::str(b.path_pattern()));
    }
    if let Some(b) = d.default_cache_behavior() {
        o = o.prop(
            "viewer_protocol",
            Val::str(b.viewer_protocol_policy().as_str()),
        );
    }
    let errors = d
        .custom_error_responses()
        .map(|e| e.items())
        .unwrap_or_default();
    o = o.prop(
        "maintenance_on",
        Val::list(errors.iter().map(|e| Val::Int(e.error_code().into()))),
    );
    if let Some(first) = errors.first() {
        o = o
            .prop(
                "maintenance_page",
                Val::str(first.response_page_path().unwrap_or_default()),
            )
            .prop(
                "maintenance_cache_seconds",
                Val::Int(first.error_caching_min_ttl().unwrap_or_default()),
            );
    }
    let aliases = d.aliases().map(|a| a.items()).unwrap_or_default();
    if !aliases.is_empty() {
        o = o.prop("aliases", Val::list(aliases.iter().map(Val::str)));
    }
    if let Some(arn) = d.viewer_certificate().and_then(|c| c.acm_certificate_arn()) {
        o = o.prop("certificate_arn", Val::str(arn));
    }
    o.name = d.comment().to_string();
    o.stack = stack;
    o
}

/// Waits until every edge location has the distribution's last change.
async fn deployed(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    tracing::info!(
        "distribution {id}: waiting for CloudFront to deploy the change to its edge locations \
         (AWS gives no figure; often a quarter of an hour)"
    );
    ctx.clients
        .cloudfront
        .wait_until_distribution_deployed()
        .id(id)
        .wait(DEPLOY_WAIT)
        .await
        .map_err(|e| waiter_error(&format!("deploying distribution {id}"), e))?;
    Ok(())
}

/// Writes `edit`'s configuration over the distribution's (what `edit` makes of the one there),
/// with the ETag of the configuration it replaces, once more when another change got in first.
async fn rewrite<F>(ctx: &Ctx<'_>, id: &str, doing: &str, edit: F) -> Result<()>
where
    F: Fn(&DistributionConfig) -> Result<DistributionConfig>,
{
    let cf = &ctx.clients.cloudfront;
    retry_while(&["PreconditionFailed"], Duration::from_secs(30), || async {
        let current = cf
            .get_distribution_config()
            .id(id)
            .send()
            .await
            .map_err(|e| coded(&format!("reading distribution {id}"), e))?;
        let there = current.distribution_config().ok_or_else(|| {
            (
                None,
                anyhow!("GetDistributionConfig returned no configuration for {id}"),
            )
        })?;
        let wanted = edit(there).map_err(|e| (None, e))?;
        cf.update_distribution()
            .id(id)
            .if_match(current.e_tag().unwrap_or_default())
            .distribution_config(wanted)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| coded(&format!("{doing} distribution {id}"), e))
    })
    .await
    .map_err(|(_, e)| e)
}

#[async_trait]
impl Provider for DistributionProvider {
    fn kind(&self) -> Kind {
        Kind::Distribution
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let cf = &ctx.clients.cloudfront;
        let pages: Vec<_> = cf
            .list_distributions()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing CloudFront distributions", e))?;
        let comment = crate::deployment::global_name(ctx.env(), &ctx.clients.region, "edge", 128);
        let mut found = Vec::new();
        for d in pages
            .iter()
            .filter_map(|p| p.distribution_list())
            .flat_map(|l| l.items())
            .filter(|d| d.comment() == comment)
        {
            let tags = cf
                .list_tags_for_resource()
                .resource(d.arn())
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading tags of distribution {}", d.id()), e))?;
            let items = tags.tags().map(|t| t.items()).unwrap_or_default();
            let Some((id, stack)) = ctx.owner(
                items
                    .iter()
                    .map(|t| (t.key(), t.value().unwrap_or_default())),
            ) else {
                continue;
            };
            found.push(observed(&id, stack, d));
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        // Unique over time: a CallerReference once used cannot make another distribution
        // (DistributionAlreadyExists), also after that one is deleted.
        let caller = format!("{}-{}", spec.name, unix_now());
        let tags = ctx
            .tags(spec)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()?;
        let out = ctx
            .clients
            .cloudfront
            .create_distribution_with_tags()
            .distribution_config_with_tags(
                DistributionConfigWithTags::builder()
                    .distribution_config(config(spec, &caller, true)?)
                    .tags(Tags::builder().set_items(Some(tags)).build())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating distribution {}", spec.name), e))?;
        let d = out
            .distribution()
            .ok_or_else(|| anyhow!("CreateDistributionWithTags returned no distribution"))?;
        let mut o = crate::aws::sdk::observed_from_spec(spec, d.id());
        o.outputs.insert("id".into(), d.id().to_string());
        o.outputs.insert("arn".into(), d.arn().to_string());
        o.outputs
            .insert("domain_name".into(), d.domain_name().to_string());
        deployed(ctx, d.id()).await?;
        Ok(o)
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        // The CallerReference is the distribution's own: it cannot change.
        rewrite(ctx, &current.physical_id, "updating", |there| {
            config(spec, there.caller_reference(), true)
        })
        .await?;
        deployed(ctx, &current.physical_id).await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let cf = &ctx.clients.cloudfront;
        let id = current.physical_id.clone();
        let config = match cf.get_distribution_config().id(&id).send().await {
            Ok(out) => out,
            Err(e) if error_code(&e).as_deref() == Some("NoSuchDistribution") => return Ok(()),
            Err(e) => return Err(aws_error(&format!("reading distribution {id}"), e)),
        };
        // Disabling again what is disabled would cost another propagation
        // (hashicorp/terraform-provider-aws#3077).
        if config.distribution_config().is_some_and(|c| c.enabled()) {
            tracing::info!("distribution {id}: disabling it, which must deploy before it can go");
            rewrite(ctx, &id, "disabling", |there| {
                let mut disabled = there.clone();
                disabled.enabled = false;
                Ok(disabled)
            })
            .await?;
        }
        deployed(ctx, &id).await?;
        let attempt = || async {
            let etag = match cf.get_distribution().id(&id).send().await {
                Ok(out) => out.e_tag.unwrap_or_default(),
                Err(e) if error_code(&e).as_deref() == Some("NoSuchDistribution") => return Ok(()),
                Err(e) => return Err(coded(&format!("reading distribution {id}"), e)),
            };
            cf.delete_distribution()
                .id(&id)
                .if_match(etag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting distribution {id}"), e))
        };
        // A disable just deployed can still read as not disabled for a moment
        // (DistributionNotDisabled; rebuy-de/aws-nuke#155).
        delete_waiting(
            &["DistributionNotDisabled", "PreconditionFailed"],
            "NoSuchDistribution",
            attempt,
        )
        .await
    }
}
