//! Route 53 alias records to a load balancer or a CloudFront distribution (A, and AAAA for a
//! distribution, which answers IPv6 too). Records carry no tags: they are found in the
//! deployment's zones (alias records), named after their first label; an AAAA record's logical
//! id ends in `.ipv6`.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, b, observed_from_spec, s, updated_in_place};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Compare, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};

/// Every attribute of a route53 record: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::DnsRecord,
    &[
        // Route 53 answers with a trailing dot and a `dualstack.` prefix.
        Attr::new("alias_dns_name").compare(Compare::AliasTarget),
        Attr::new("alias_zone_id"),
        Attr::new("evaluate_target_health"),
        Attr::new("record_name").replaces(),
        Attr::new("record_type").replaces(),
        Attr::new("zone_id").replaces(),
    ],
);

pub struct DnsRecordProvider;

fn record_set(
    name: &str,
    record_type: &str,
    dns: &str,
    zone: &str,
    evaluate: bool,
) -> Result<ResourceRecordSet> {
    Ok(ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(record_type))
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(zone)
                .dns_name(dns)
                .evaluate_target_health(evaluate)
                .build()?,
        )
        .build()?)
}

async fn change(
    ctx: &Ctx<'_>,
    zone_id: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
) -> Result<()> {
    let name = set.name().to_string();
    ctx.clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(action.clone())
                        .resource_record_set(set)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await
        .map_err(|e| {
            aws_error(
                &format!("{} record {name}", action.as_str().to_lowercase()),
                e,
            )
        })?;
    Ok(())
}

fn from_spec(spec: &ResourceSpec) -> Result<ResourceRecordSet> {
    record_set(
        s(spec, "record_name")?,
        s(spec, "record_type")?,
        s(spec, "alias_dns_name")?,
        s(spec, "alias_zone_id")?,
        b(spec, "evaluate_target_health")?,
    )
}

#[async_trait]
impl Provider for DnsRecordProvider {
    fn kind(&self) -> Kind {
        Kind::DnsRecord
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::HostedZone]
    }

    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for zone in found.iter().filter(|o| o.kind == Kind::HostedZone) {
            let zone_name = zone.outputs.get("name").cloned().unwrap_or_default();
            let sets = ctx
                .clients
                .route53
                .list_resource_record_sets()
                .hosted_zone_id(&zone.physical_id)
                .send()
                .await
                .map_err(|e| aws_error(&format!("listing records of {zone_name}"), e))?;
            for r in sets.resource_record_sets() {
                let Some(alias) = r.alias_target() else {
                    continue;
                };
                let suffix = match r.r#type() {
                    RrType::A => "",
                    RrType::Aaaa => ".ipv6",
                    _ => continue,
                };
                let record_type = r.r#type().as_str();
                let name = r.name();
                let label = name
                    .strip_suffix(&format!(".{zone_name}"))
                    .unwrap_or(name)
                    .split('.')
                    .next()
                    .unwrap_or(name);
                let mut o = Observed::new(
                    &format!("dns.record.{label}{suffix}"),
                    Kind::DnsRecord,
                    &format!("{}/{name}/{record_type}", zone.physical_id),
                )
                .prop("zone_id", Val::str(&zone.physical_id))
                .prop("record_name", Val::str(name))
                .prop("record_type", Val::str(record_type))
                .prop("alias_dns_name", Val::str(alias.dns_name()))
                .prop("alias_zone_id", Val::str(alias.hosted_zone_id()))
                .prop(
                    "evaluate_target_health",
                    Val::Bool(alias.evaluate_target_health()),
                );
                o.name = name.trim_end_matches('.').to_string();
                o.stack = zone.stack.clone();
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let zone = s(spec, "zone_id")?;
        change(ctx, zone, ChangeAction::Upsert, from_spec(spec)?).await?;
        let physical = format!(
            "{zone}/{}/{}",
            s(spec, "record_name")?,
            s(spec, "record_type")?
        );
        Ok(observed_from_spec(spec, &physical))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        change(
            ctx,
            s(spec, "zone_id")?,
            ChangeAction::Upsert,
            from_spec(spec)?,
        )
        .await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let p = |k: &str| {
            current
                .props
                .get(k)
                .and_then(Val::as_str)
                .unwrap_or_default()
                .to_string()
        };
        // A DELETE must repeat the record exactly as Route 53 holds it.
        let record_type = match p("record_type") {
            t if t.is_empty() => "A".to_string(),
            t => t,
        };
        let set = record_set(
            &p("record_name"),
            &record_type,
            &p("alias_dns_name"),
            &p("alias_zone_id"),
            current.props.get("evaluate_target_health") == Some(&Val::Bool(true)),
        )?;
        match change(ctx, &p("zone_id"), ChangeAction::Delete, set).await {
            Ok(()) => Ok(()),
            Err(e)
                if e.to_string().contains("InvalidChangeBatch")
                    && e.to_string().contains("not found") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
