//! Listeners of the deployment's load balancers: forward to a tier's target group, a fixed 404
//! when no tier is behind the balancer, or (plain HTTP on a balancer that serves HTTPS) a
//! permanent redirect to HTTPS. HTTPS listeners carry an ACM certificate and a TLS policy.

use super::tags::{elb_owner, elb_tag_list, elb_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, coded, error_code, i, observed_from_spec, retry_while, s};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum,
};
use std::time::Duration;

/// Every attribute of an elbv2 listener: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::Listener,
    &[
        Attr::new("certificate_arn"),
        Attr::new("fixed_response_status"),
        Attr::new("forward_to"),
        Attr::new("load_balancer_arn").replaces(),
        Attr::new("port"),
        Attr::new("protocol"),
        Attr::new("redirect_https_port"),
        Attr::new("ssl_policy"),
    ],
);

pub struct ListenerProvider;

fn default_action(spec: &ResourceSpec) -> Result<Action> {
    // Host, path and query are kept when left out (ELB API reference, RedirectActionConfig).
    if let Some(port) = spec.props.get("redirect_https_port").and_then(Val::as_i64) {
        return Ok(Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port(port.to_string())
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build());
    }
    if let Some(tg) = spec.props.get("forward_to").and_then(|v| v.as_str()) {
        return Ok(Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build());
    }
    let status = i(spec, "fixed_response_status")?;
    Ok(Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code(status.to_string())
                .content_type("text/plain")
                .message_body("no service here")
                .build(),
        )
        .build())
}

/// A certificate ACM issued moments ago is not yet known to Elastic Load Balancing
/// everywhere: CertificateNotFound, or UnsupportedCertificate while it still looks pending
/// (terraform-provider-aws retries both; DataBiosphere/azul #8321).
const CERTIFICATE_PROPAGATING: &[&str] = &["CertificateNotFound", "UnsupportedCertificate"];
const CERTIFICATE_WAIT: Duration = Duration::from_secs(300);

fn certificates(spec: &ResourceSpec) -> Option<Vec<Certificate>> {
    let arn = spec.props.get("certificate_arn").and_then(Val::as_str)?;
    Some(vec![Certificate::builder().certificate_arn(arn).build()])
}

fn ssl_policy(spec: &ResourceSpec) -> Option<String> {
    spec.props
        .get("ssl_policy")
        .and_then(Val::as_str)
        .map(str::to_string)
}

#[async_trait]
impl Provider for ListenerProvider {
    fn kind(&self) -> Kind {
        Kind::Listener
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::LoadBalancer]
    }

    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let mut listeners = Vec::new();
        for lb in found.iter().filter(|o| o.kind == Kind::LoadBalancer) {
            let out: Vec<_> = ctx
                .clients
                .elb
                .describe_listeners()
                .load_balancer_arn(&lb.physical_id)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error(&format!("listing listeners of {}", lb.name), e))?;
            listeners.extend(out);
        }
        let arns: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.listener_arn().map(str::to_string))
            .collect();
        let tags = elb_tags(ctx, &arns).await?;
        let mut result = Vec::new();
        for l in listeners {
            let arn = l.listener_arn().unwrap_or_default();
            let Some((id, stack)) = elb_owner(ctx, tags.get(arn)) else {
                continue;
            };
            let mut o = Observed::new(&id, Kind::Listener, arn)
                .prop(
                    "load_balancer_arn",
                    Val::str(l.load_balancer_arn().unwrap_or_default()),
                )
                .prop("port", Val::Int(l.port().unwrap_or(0).into()))
                .prop(
                    "protocol",
                    Val::str(l.protocol().map(|p| p.as_str()).unwrap_or_default()),
                )
                .output("arn", arn);
            if let Some(cert) = l.certificates().first().and_then(|c| c.certificate_arn()) {
                o = o.prop("certificate_arn", Val::str(cert));
            }
            if let Some(policy) = l.ssl_policy() {
                o = o.prop("ssl_policy", Val::str(policy));
            }
            if let Some(action) = l.default_actions().first() {
                if let Some(tg) = action.target_group_arn() {
                    o = o.prop("forward_to", Val::str(tg));
                } else if let Some(redirect) = action.redirect_config() {
                    if redirect.protocol() == Some("HTTPS") {
                        let port = redirect.port().and_then(|p| p.parse().ok()).unwrap_or(443);
                        o = o.prop("redirect_https_port", Val::Int(port));
                    }
                } else if let Some(fixed) = action.fixed_response_config() {
                    let code: i64 = fixed.status_code().unwrap_or("0").parse().unwrap_or(0);
                    o = o.prop("fixed_response_status", Val::Int(code));
                }
            }
            o.stack = stack;
            result.push(o);
        }
        Ok(result)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let action = default_action(spec)?;
        let out = retry_while(CERTIFICATE_PROPAGATING, CERTIFICATE_WAIT, || async {
            ctx.clients
                .elb
                .create_listener()
                .load_balancer_arn(s(spec, "load_balancer_arn").map_err(|e| (None, e))?)
                .port(i(spec, "port").map_err(|e| (None, e))? as i32)
                .protocol(ProtocolEnum::from(
                    s(spec, "protocol").map_err(|e| (None, e))?,
                ))
                .default_actions(action.clone())
                .set_certificates(certificates(spec))
                .set_ssl_policy(ssl_policy(spec))
                .set_tags(Some(elb_tag_list(ctx, spec)))
                .send()
                .await
                .map_err(|e| coded(&format!("creating listener {}", spec.id), e))
        })
        .await
        .map_err(|(_, e)| e)?;
        let arn = out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .ok_or_else(|| anyhow!("CreateListener returned no ARN"))?;
        Ok(observed_from_spec(spec, arn).output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let arn = current.physical_id.as_str();
        let action = default_action(spec)?;
        let port = i(spec, "port")? as i32;
        let protocol = ProtocolEnum::from(s(spec, "protocol")?);
        retry_while(CERTIFICATE_PROPAGATING, CERTIFICATE_WAIT, || async {
            ctx.clients
                .elb
                .modify_listener()
                .listener_arn(arn)
                .port(port)
                .protocol(protocol.clone())
                .default_actions(action.clone())
                .set_certificates(certificates(spec))
                .set_ssl_policy(ssl_policy(spec))
                .send()
                .await
                .map(drop)
                .map_err(|e| coded(&format!("modifying listener {}", spec.id), e))
        })
        .await
        .map_err(|(_, e)| e)?;
        Ok(observed_from_spec(spec, arn).output("arn", arn))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        match ctx
            .clients
            .elb
            .delete_listener()
            .listener_arn(&current.physical_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("ListenerNotFound") => Ok(()),
            Err(e) => Err(aws_error(
                &format!("deleting listener {}", current.physical_id),
                e,
            )),
        }
    }
}
