//! Route 53 hosted zones, public or private (answering only inside the VPC). A zone's comment
//! names the deployment and logical id that own it: zones are found by it (listing zones
//! returns comments, not tags); tags are set as well, for people and cost reports.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, coded, delete_waiting, observed_from_spec, s, unix_now, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_route53::types::{HostedZoneConfig, Tag, TagResourceType, Vpc, VpcRegion};

/// Every attribute of a route53 hosted zone: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::HostedZone,
    &[
        Attr::new("private").replaces(),
        // Route 53 lists a private zone's VPCs only in GetHostedZone.
        Attr::new("vpc_id").replaces().create_only(),
        Attr::new("zone_name").replaces(),
    ],
);

pub struct HostedZoneProvider;

/// Route 53 is global: the region keeps two regions' deployments of one name apart.
fn comment(ctx: &Ctx<'_>, spec_id: &str) -> String {
    format!(
        "ftctl deployment={} region={} id={spec_id} stack={}",
        ctx.env(),
        ctx.clients.region,
        ctx.deployment.stack
    )
}

/// (logical id, stack) from a zone comment, when it is this deployment's.
pub(super) fn owner_of_comment(ctx: &Ctx<'_>, comment: &str) -> Option<(String, String)> {
    let mut fields = comment
        .strip_prefix("ftctl ")?
        .split(' ')
        .filter_map(|kv| kv.split_once('='));
    let mut env = None;
    let mut region = None;
    let mut id = None;
    let mut stack = String::new();
    for (k, v) in fields.by_ref() {
        match k {
            "deployment" => env = Some(v),
            "region" => region = Some(v),
            "id" => id = Some(v.to_string()),
            "stack" => stack = v.to_string(),
            _ => {}
        }
    }
    // A zone made before ftctl wrote the region counts as the home region's, as a resource
    // without the region tag does (`Ctx::owner`): otherwise its next apply would make a second
    // zone with other name servers.
    (env? == ctx.env() && region.unwrap_or(&ctx.clients.region) == ctx.home_region).then_some(())?;
    Some((id?, stack))
}

/// The name servers Route 53 gave a public zone (GetHostedZone's DelegationSet), comma-separated.
async fn name_servers(ctx: &Ctx<'_>, zid: &str) -> Result<String> {
    let out = ctx
        .clients
        .route53
        .get_hosted_zone()
        .id(zid)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading hosted zone {zid}"), e))?;
    Ok(out
        .delegation_set()
        .map(|d| d.name_servers().join(","))
        .unwrap_or_default())
}

pub(super) fn zone_id(raw: &str) -> String {
    raw.trim_start_matches("/hostedzone/").to_string()
}

#[async_trait]
impl Provider for HostedZoneProvider {
    fn kind(&self) -> Kind {
        Kind::HostedZone
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let mut marker: Option<String> = None;
        let mut found = Vec::new();
        loop {
            let page = ctx
                .clients
                .route53
                .list_hosted_zones()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| aws_error("listing hosted zones", e))?;
            for z in page.hosted_zones() {
                let config = z.config();
                let Some((id, stack)) =
                    owner_of_comment(ctx, config.and_then(|c| c.comment()).unwrap_or_default())
                else {
                    continue;
                };
                let zid = zone_id(z.id());
                let private = config.is_some_and(|c| c.private_zone());
                let name_servers = if private {
                    String::new()
                } else {
                    name_servers(ctx, &zid).await?
                };
                let mut o = Observed::new(&id, Kind::HostedZone, &zid)
                    .prop("zone_name", Val::str(z.name()))
                    .prop("private", Val::Bool(private))
                    .output("name", z.name())
                    .output("name_servers", name_servers);
                o.name = z.name().trim_end_matches('.').to_string();
                o.stack = stack;
                found.push(o);
            }
            match page.next_marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_string()),
                _ => return Ok(found),
            }
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let name = s(spec, "zone_name")?;
        let private = b(spec, "private")?;
        let mut req = ctx
            .clients
            .route53
            .create_hosted_zone()
            .name(name)
            // Unique per request for ever; the comment, not this, identifies the zone.
            .caller_reference(format!("ftctl-{}-{}", ctx.env(), unix_now()))
            .hosted_zone_config(
                HostedZoneConfig::builder()
                    .comment(comment(ctx, &spec.id))
                    .private_zone(private)
                    .build(),
            );
        if private {
            req = req.vpc(
                Vpc::builder()
                    .vpc_id(s(spec, "vpc_id")?)
                    .vpc_region(VpcRegion::from(ctx.clients.region.as_str()))
                    .build(),
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating hosted zone {name}"), e))?;
        let zid = zone_id(out.hosted_zone().map(|z| z.id()).unwrap_or_default());
        // A public zone answers only once its parent delegates to these (printed after apply).
        let servers = out
            .delegation_set()
            .map(|d| d.name_servers().join(","))
            .unwrap_or_default();
        let tags: Vec<Tag> = ctx
            .tags(spec)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        ctx.clients
            .route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&zid)
            .set_add_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(&format!("tagging hosted zone {name}"), e))?;
        Ok(observed_from_spec(spec, &zid)
            .output("name", name)
            .output("name_servers", servers))
    }

    async fn update(
        &self,
        _ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        // Name, privacy and VPC force a replacement; nothing else is managed.
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let zid = current.physical_id.clone();
        // Records the deployment made are deleted first; anything else someone added keeps
        // the zone (HostedZoneNotEmpty) until it is removed.
        delete_waiting(&["PriorRequestNotComplete"], "NoSuchHostedZone", || async {
            ctx.clients
                .route53
                .delete_hosted_zone()
                .id(&zid)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting hosted zone {zid}"), e))
        })
        .await
    }
}
