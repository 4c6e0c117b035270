//! Application Load Balancers, with the attributes Security Hub checks: invalid header fields
//! dropped (ELB.4), access logs to the deployment's bucket (ELB.5), deletion protection (ELB.6).

use super::tags::{elb_owner, elb_tag_list, elb_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    arn_suffix, aws_error, b, coded, error_code, observed_from_spec, retry_propagation, s,
    str_list, strs, waiter_error, Propagating,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
};
use std::time::Duration;

/// Every attribute of an elbv2 load balancer: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::LoadBalancer,
    &[
        Attr::new("access_logs_bucket"),
        Attr::new("access_logs_prefix"),
        Attr::new("deletion_protection"),
        Attr::new("drop_invalid_header_fields"),
        Attr::new("scheme").replaces(),
        Attr::new("security_group_ids"),
        Attr::new("subnet_ids"),
        Attr::new("type").replaces(),
    ],
);

pub struct LoadBalancerProvider;

const DROP_INVALID_HEADERS: &str = "routing.http.drop_invalid_header_fields.enabled";
const DELETION_PROTECTION: &str = "deletion_protection.enabled";
const LOGS_ENABLED: &str = "access_logs.s3.enabled";
const LOGS_BUCKET: &str = "access_logs.s3.bucket";
const LOGS_PREFIX: &str = "access_logs.s3.prefix";

/// Turning access logs on makes Elastic Load Balancing write a test object into the bucket; a
/// bucket policy written moments before may not be in force yet (S3 policies are eventually
/// consistent), and the answer is then this one.
const BUCKET_POLICY_PROPAGATING: &[Propagating] =
    &[("InvalidConfigurationRequest", "Access Denied for bucket")];

fn attribute(key: &str, value: impl Into<String>) -> LoadBalancerAttribute {
    LoadBalancerAttribute::builder()
        .key(key)
        .value(value)
        .build()
}

/// The attributes a spec sets (Elastic Load Balancing User Guide, "Load balancer attributes").
fn wanted_attributes(spec: &ResourceSpec) -> Result<Vec<LoadBalancerAttribute>> {
    let mut out = vec![
        attribute(
            DROP_INVALID_HEADERS,
            b(spec, "drop_invalid_header_fields")?.to_string(),
        ),
        attribute(
            DELETION_PROTECTION,
            b(spec, "deletion_protection")?.to_string(),
        ),
    ];
    match spec.props.get("access_logs_bucket").and_then(Val::as_str) {
        Some(bucket) => out.extend([
            attribute(LOGS_ENABLED, "true"),
            attribute(LOGS_BUCKET, bucket),
            attribute(LOGS_PREFIX, s(spec, "access_logs_prefix")?),
        ]),
        None => out.push(attribute(LOGS_ENABLED, "false")),
    }
    Ok(out)
}

async fn set_attributes(
    ctx: &Ctx<'_>,
    arn: &str,
    name: &str,
    attrs: Vec<LoadBalancerAttribute>,
) -> Result<()> {
    retry_propagation(
        BUCKET_POLICY_PROPAGATING,
        Duration::from_secs(60),
        || async {
            ctx.clients
                .elb
                .modify_load_balancer_attributes()
                .load_balancer_arn(arn)
                .set_attributes(Some(attrs.clone()))
                .send()
                .await
                .map_err(|e| {
                    coded(
                        &format!("setting the attributes of load balancer {name}"),
                        e,
                    )
                })
        },
    )
    .await
    .map_err(|(_, e)| e)?;
    Ok(())
}

/// The attributes as props, the way a spec states them.
async fn observed_attributes(ctx: &Ctx<'_>, arn: &str, mut o: Observed) -> Result<Observed> {
    let out = ctx
        .clients
        .elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the attributes of load balancer {arn}"), e))?;
    let get = |key: &str| {
        out.attributes()
            .iter()
            .find(|a| a.key() == Some(key))
            .and_then(|a| a.value())
            .unwrap_or_default()
            .to_string()
    };
    o = o
        .prop(
            "drop_invalid_header_fields",
            Val::Bool(get(DROP_INVALID_HEADERS) == "true"),
        )
        .prop(
            "deletion_protection",
            Val::Bool(get(DELETION_PROTECTION) == "true"),
        );
    if get(LOGS_ENABLED) == "true" {
        o = o
            .prop("access_logs_bucket", Val::str(get(LOGS_BUCKET)))
            .prop("access_logs_prefix", Val::str(get(LOGS_PREFIX)));
    }
    Ok(o)
}

#[async_trait]
impl Provider for LoadBalancerProvider {
    fn kind(&self) -> Kind {
        Kind::LoadBalancer
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = ctx.name_prefix();
        let lbs: Vec<_> = ctx
            .clients
            .elb
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing load balancers", e))?
            .into_iter()
            .filter(|l| {
                l.load_balancer_name()
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .collect();
        let arns: Vec<String> = lbs
            .iter()
            .filter_map(|l| l.load_balancer_arn().map(str::to_string))
            .collect();
        let tags = elb_tags(ctx, &arns).await?;
        let mut found = Vec::new();
        for l in lbs {
            let arn = l.load_balancer_arn().unwrap_or_default();
            let Some((id, stack)) = elb_owner(ctx, tags.get(arn)) else {
                continue;
            };
            let subnets: Vec<String> = l
                .availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_string))
                .collect();
            let mut o = Observed::new(&id, Kind::LoadBalancer, arn)
                .prop(
                    "type",
                    Val::str(l.r#type().map(|t| t.as_str()).unwrap_or_default()),
                )
                .prop(
                    "scheme",
                    Val::str(l.scheme().map(|t| t.as_str()).unwrap_or_default()),
                )
                .prop("subnet_ids", str_list(subnets))
                .prop("security_group_ids", str_list(l.security_groups().to_vec()))
                .output("arn", arn)
                .output("arn_suffix", arn_suffix(arn))
                .output("dns_name", l.dns_name().unwrap_or_default())
                .output("zone_id", l.canonical_hosted_zone_id().unwrap_or_default())
                .output("name", l.load_balancer_name().unwrap_or_default());
            o.name = l.load_balancer_name().unwrap_or_default().to_string();
            o.stack = stack;
            found.push(observed_attributes(ctx, arn, o).await?);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .elb
            .create_load_balancer()
            .name(&spec.name)
            .r#type(LoadBalancerTypeEnum::from(s(spec, "type")?))
            .scheme(LoadBalancerSchemeEnum::from(s(spec, "scheme")?))
            .set_subnets(Some(strs(spec, "subnet_ids")))
            .set_security_groups(Some(strs(spec, "security_group_ids")))
            .set_tags(Some(elb_tag_list(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating load balancer {}", spec.name), e))?;
        let lb = out
            .load_balancers()
            .first()
            .ok_or_else(|| anyhow!("CreateLoadBalancer returned nothing"))?;
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        ctx.clients
            .elb
            .wait_until_load_balancer_available()
            .load_balancer_arns(&arn)
            .wait(Duration::from_secs(900))
            .await
            .map_err(|e| {
                waiter_error(
                    &format!("waiting for load balancer {} to become active", spec.name),
                    e,
                )
            })?;
        set_attributes(ctx, &arn, &spec.name, wanted_attributes(spec)?).await?;
        Ok(observed_from_spec(spec, &arn)
            .output("arn", &arn)
            .output("arn_suffix", arn_suffix(&arn))
            .output("dns_name", lb.dns_name().unwrap_or_default())
            .output("zone_id", lb.canonical_hosted_zone_id().unwrap_or_default())
            .output("name", &spec.name))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let arn = current.physical_id.as_str();
        ctx.clients
            .elb
            .set_subnets()
            .load_balancer_arn(arn)
            .set_subnets(Some(strs(spec, "subnet_ids")))
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting subnets of {}", spec.name), e))?;
        ctx.clients
            .elb
            .set_security_groups()
            .load_balancer_arn(arn)
            .set_security_groups(Some(strs(spec, "security_group_ids")))
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting security groups of {}", spec.name), e))?;
        // Only when one changed: turning access logs on makes ELB write a test object again.
        let differs = |k: &str| match (spec.props.get(k), current.props.get(k)) {
            (None, None) => false,
            (Some(want), Some(have)) => !SCHEMA.equivalent(k, want, have),
            _ => true,
        };
        if [
            "drop_invalid_header_fields",
            "deletion_protection",
            "access_logs_bucket",
            "access_logs_prefix",
        ]
        .into_iter()
        .any(differs)
        {
            set_attributes(ctx, arn, &spec.name, wanted_attributes(spec)?).await?;
        }
        let mut o = observed_from_spec(spec, arn);
        o.outputs = current.outputs.clone();
        Ok(o)
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let arn = current.physical_id.as_str();
        if ctx.protection_to_lift(current, &format!("load balancer {}", current.name))? {
            set_attributes(
                ctx,
                arn,
                &current.name,
                vec![attribute(DELETION_PROTECTION, "false")],
            )
            .await?;
        }
        match ctx
            .clients
            .elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e).as_deref() == Some("LoadBalancerNotFound") => return Ok(()),
            Err(e) => return Err(aws_error(&format!("deleting load balancer {arn}"), e)),
        }
        ctx.clients
            .elb
            .wait_until_load_balancers_deleted()
            .load_balancer_arns(arn)
            .wait(Duration::from_secs(900))
            .await
            .map_err(|e| {
                waiter_error(&format!("waiting for load balancer {arn} to be deleted"), e)
            })?;
        Ok(())
    }
}
