//! Route 53 health checks on the application's health endpoint through its load balancer. Found
//! by their caller reference (`ftctl/<deployment>/<region>/<logical id>/<time>`), which listing returns;
//! tagged as well.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, error_code, i, observed_from_spec, s, unix_now, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType, Tag, TagResourceType};

/// Every attribute of a route53 health check: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::HealthCheck,
    &[
        Attr::new("failure_threshold"),
        Attr::new("fqdn"),
        Attr::new("path"),
        Attr::new("port"),
        Attr::new("request_interval"),
        Attr::new("type").replaces(),
    ],
);

pub struct HealthCheckProvider;

fn config(spec: &ResourceSpec) -> Result<HealthCheckConfig> {
    Ok(HealthCheckConfig::builder()
        .r#type(HealthCheckType::from(s(spec, "type")?))
        .fully_qualified_domain_name(s(spec, "fqdn")?)
        .resource_path(s(spec, "path")?)
        .port(i(spec, "port")? as i32)
        .request_interval(i(spec, "request_interval")? as i32)
        .failure_threshold(i(spec, "failure_threshold")? as i32)
        .build()?)
}

#[async_trait]
impl Provider for HealthCheckProvider {
    fn kind(&self) -> Kind {
        Kind::HealthCheck
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        // Route 53 is global: the region in the reference keeps another region's deployment
        // of the same name apart.
        let prefix = format!("ftctl/{}/{}/", ctx.env(), ctx.clients.region);
        let mut marker: Option<String> = None;
        let mut found = Vec::new();
        loop {
            let page = ctx
                .clients
                .route53
                .list_health_checks()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| aws_error("listing health checks", e))?;
            for h in page.health_checks() {
                let Some(rest) = h.caller_reference().strip_prefix(&prefix) else {
                    continue;
                };
                let Some((id, _stamp)) = rest.rsplit_once('/') else {
                    continue;
                };
                let c = h.health_check_config();
                let mut o = Observed::new(id, Kind::HealthCheck, h.id())
                    .prop(
                        "type",
                        Val::str(c.map(|c| c.r#type().as_str()).unwrap_or_default()),
                    )
                    .prop(
                        "fqdn",
                        Val::str(
                            c.and_then(|c| c.fully_qualified_domain_name())
                                .unwrap_or_default(),
                        ),
                    )
                    .prop(
                        "path",
                        Val::str(c.and_then(|c| c.resource_path()).unwrap_or_default()),
                    )
                    .prop(
                        "port",
                        Val::Int(c.and_then(|c| c.port()).unwrap_or(0).into()),
                    )
                    .prop(
                        "request_interval",
                        Val::Int(c.and_then(|c| c.request_interval()).unwrap_or(30).into()),
                    )
                    .prop(
                        "failure_threshold",
                        Val::Int(c.and_then(|c| c.failure_threshold()).unwrap_or(3).into()),
                    )
                    .output("version", h.health_check_version().to_string());
                o.name = format!("{}-{}", ctx.env(), id);
                found.push(o);
            }
            match page.next_marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_string()),
                _ => return Ok(found),
            }
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .route53
            .create_health_check()
            .caller_reference(format!(
                "ftctl/{}/{}/{}/{}",
                ctx.env(),
                ctx.clients.region,
                spec.id,
                unix_now()
            ))
            .health_check_config(config(spec)?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating health check {}", spec.name), e))?;
        let id = out
            .health_check()
            .map(|h| h.id())
            .unwrap_or_default()
            .to_string();
        let tags: Vec<Tag> = ctx
            .tags(spec)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        ctx.clients
            .route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Healthcheck)
            .resource_id(&id)
            .set_add_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(&format!("tagging health check {id}"), e))?;
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
            .route53
            .update_health_check()
            .health_check_id(id)
            .fully_qualified_domain_name(s(spec, "fqdn")?)
            .resource_path(s(spec, "path")?)
            .port(i(spec, "port")? as i32)
            .failure_threshold(i(spec, "failure_threshold")? as i32)
            .send()
            .await
            .map_err(|e| aws_error(&format!("updating health check {id}"), e))?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.as_str();
        match ctx
            .clients
            .route53
            .delete_health_check()
            .health_check_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("NoSuchHealthCheck") => Ok(()),
            Err(e) => Err(aws_error(&format!("deleting health check {id}"), e)),
        }
    }
}
