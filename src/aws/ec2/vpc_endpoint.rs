//! VPC endpoints: how private subnets reach AWS services without the internet. A gateway
//! endpoint (S3; free) adds a prefix-list route to route tables; an interface endpoint (CloudWatch,
//! X-Ray, ECR, Logs, EMR, ...) puts a network interface in each private subnet and, with private
//! DNS, makes the service's usual name resolve to it inside the VPC.

use super::tags::{ec2_name, ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, delta, error_code, observed_from_spec, s, str_list, strs, updated_in_place,
    wait_for,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, State, VpcEndpointType};
use std::time::Duration;

/// Every attribute of an ec2 vpc endpoint: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::VpcEndpoint,
    &[
        Attr::new("private_dns_enabled"),
        Attr::new("route_table_ids"),
        Attr::new("security_group_ids"),
        Attr::new("service_name").replaces(),
        Attr::new("subnet_ids"),
        Attr::new("type").replaces(),
        Attr::new("vpc_id").replaces(),
    ],
);

pub struct VpcEndpointProvider;

/// How long an endpoint may take to become available or to go: interface endpoints create and
/// release a network interface per subnet, which takes a minute or two.
const ENDPOINT_WAIT: Duration = Duration::from_secs(600);

/// An endpoint's state in lower case. EC2 answers `available`, `pending`, `deleted`, ... while
/// the SDK's enum spells its variants `Available`, `Pending`, ...: compare names, not variants.
fn state_name(state: Option<&State>) -> String {
    state
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_default()
}

fn gone(state: Option<&State>) -> bool {
    matches!(
        state_name(state).as_str(),
        "deleted" | "deleting" | "rejected" | "failed" | "expired"
    )
}

async fn state_of(ctx: &Ctx<'_>, id: &str) -> Result<Option<String>> {
    match ctx
        .clients
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.vpc_endpoints().first().map(|e| state_name(e.state()))),
        Err(e) if error_code(&e).as_deref() == Some("InvalidVpcEndpointId.NotFound") => Ok(None),
        Err(e) => Err(aws_error(&format!("reading VPC endpoint {id}"), e)),
    }
}

#[async_trait]
impl Provider for VpcEndpointProvider {
    fn kind(&self) -> Kind {
        Kind::VpcEndpoint
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let endpoints: Vec<_> = ctx
            .clients
            .ec2
            .describe_vpc_endpoints()
            .filters(owned_filter(ctx))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing VPC endpoints", e))?;
        let mut found = Vec::new();
        for e in &endpoints {
            if gone(e.state()) {
                continue;
            }
            let Some((id, stack)) = ec2_owner(ctx, e.tags()) else {
                continue;
            };
            let kind = e
                .vpc_endpoint_type()
                .map(|t| t.as_str())
                .unwrap_or_default();
            let mut o = Observed::new(
                &id,
                Kind::VpcEndpoint,
                e.vpc_endpoint_id().unwrap_or_default(),
            )
            .prop("type", Val::str(kind))
            .prop("vpc_id", Val::str(e.vpc_id().unwrap_or_default()))
            .prop(
                "service_name",
                Val::str(e.service_name().unwrap_or_default()),
            );
            if kind == VpcEndpointType::Gateway.as_str() {
                o = o.prop("route_table_ids", str_list(e.route_table_ids().to_vec()));
            } else {
                let groups: Vec<String> = e
                    .groups()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .collect();
                o = o
                    .prop("subnet_ids", str_list(e.subnet_ids().to_vec()))
                    .prop("security_group_ids", str_list(groups))
                    .prop(
                        "private_dns_enabled",
                        Val::Bool(e.private_dns_enabled().unwrap_or(false)),
                    );
            }
            o.name = ec2_name(e.tags());
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let kind = VpcEndpointType::from(s(spec, "type")?);
        let mut req = ctx
            .clients
            .ec2
            .create_vpc_endpoint()
            .vpc_id(s(spec, "vpc_id")?)
            .service_name(s(spec, "service_name")?)
            .vpc_endpoint_type(kind.clone())
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::VpcEndpoint));
        if kind == VpcEndpointType::Gateway {
            req = req.set_route_table_ids(Some(strs(spec, "route_table_ids")));
        } else {
            req = req
                .set_subnet_ids(Some(strs(spec, "subnet_ids")))
                .set_security_group_ids(Some(strs(spec, "security_group_ids")))
                .private_dns_enabled(b(spec, "private_dns_enabled")?);
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating VPC endpoint {}", spec.name), e))?;
        let id = out
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .ok_or_else(|| anyhow!("CreateVpcEndpoint returned no id"))?
            .to_string();
        // EC2 has no waiter for endpoints: poll until `available` (pendingAcceptance never
        // happens for AWS services).
        wait_for(
            &format!("waiting for VPC endpoint {id} to be available"),
            ENDPOINT_WAIT,
            || async {
                match state_of(ctx, &id).await?.as_deref() {
                    Some("available") => Ok(true),
                    Some(s @ ("failed" | "rejected" | "expired")) => {
                        anyhow::bail!("VPC endpoint {id} ended {s}")
                    }
                    _ => Ok(false),
                }
            },
        )
        .await?;
        Ok(observed_from_spec(spec, &id))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let id = current.physical_id.as_str();
        let mut req = ctx.clients.ec2.modify_vpc_endpoint().vpc_endpoint_id(id);
        if s(spec, "type")? == VpcEndpointType::Gateway.as_str() {
            let (add, remove) = delta(spec, current, "route_table_ids");
            req = req
                .set_add_route_table_ids(Some(add))
                .set_remove_route_table_ids(Some(remove));
        } else {
            let (add, remove) = delta(spec, current, "subnet_ids");
            let (add_sg, remove_sg) = delta(spec, current, "security_group_ids");
            req = req
                .set_add_subnet_ids(Some(add))
                .set_remove_subnet_ids(Some(remove))
                .set_add_security_group_ids(Some(add_sg))
                .set_remove_security_group_ids(Some(remove_sg))
                .private_dns_enabled(b(spec, "private_dns_enabled")?);
        }
        req.send()
            .await
            .map_err(|e| aws_error(&format!("updating VPC endpoint {id}"), e))?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.as_str();
        // DeleteVpcEndpoints reports per-endpoint failures in its answer, not as an error.
        let out = match ctx
            .clients
            .ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if error_code(&e).as_deref() == Some("InvalidVpcEndpointId.NotFound") => {
                return Ok(())
            }
            Err(e) => return Err(aws_error(&format!("deleting VPC endpoint {id}"), e)),
        };
        if let Some(failed) = out.unsuccessful().iter().find_map(|u| u.error()) {
            let code = failed.code().unwrap_or_default();
            if code != "InvalidVpcEndpointId.NotFound" {
                anyhow::bail!(
                    "deleting VPC endpoint {id}: {code}: {}",
                    failed.message().unwrap_or_default()
                );
            }
        }
        // Its network interfaces keep the subnets (and so the VPC) in use until it is gone.
        wait_for(
            &format!("waiting for VPC endpoint {id} to be deleted"),
            ENDPOINT_WAIT,
            || async {
                Ok(matches!(
                    state_of(ctx, id).await?.as_deref(),
                    None | Some("deleted")
                ))
            },
        )
        .await
    }
}
