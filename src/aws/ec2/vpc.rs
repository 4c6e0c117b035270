//! VPCs: the address space and DNS settings, and the VPC's default security group and network
//! ACL left without rules (Security Hub EC2.2 and EC2.21: nothing of ftctl's uses them, and
//! neither can be deleted), the way Terraform's aws_default_security_group empties the group.

use super::tags::{ec2_name, ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, coded, delete_waiting, filter, observed_from_spec, s, waiter_error,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use std::time::Duration;

/// Every attribute of an ec2 vpc: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::Vpc,
    &[
        Attr::new("cidr_block").replaces(),
        Attr::new("default_network_acl_closed"),
        Attr::new("default_security_group_closed"),
        Attr::new("enable_dns_hostnames"),
        Attr::new("enable_dns_support"),
    ],
);

pub struct VpcProvider;

async fn dns_attribute(ctx: &Ctx<'_>, vpc: &str, attr: VpcAttributeName) -> Result<bool> {
    let out = ctx
        .clients
        .ec2
        .describe_vpc_attribute()
        .vpc_id(vpc)
        .attribute(attr.clone())
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading {attr} of {vpc}"), e))?;
    let value = match attr {
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
        _ => out.enable_dns_support(),
    };
    Ok(value.and_then(|v| v.value()).unwrap_or(false))
}

async fn set_dns(ctx: &Ctx<'_>, vpc: &str, support: bool, hostnames: bool) -> Result<()> {
    // The API takes one attribute per call.
    let on = |v| AttributeBooleanValue::builder().value(v).build();
    ctx.clients
        .ec2
        .modify_vpc_attribute()
        .vpc_id(vpc)
        .enable_dns_support(on(support))
        .send()
        .await
        .map_err(|e| aws_error(&format!("setting DNS support on {vpc}"), e))?;
    ctx.clients
        .ec2
        .modify_vpc_attribute()
        .vpc_id(vpc)
        .enable_dns_hostnames(on(hostnames))
        .send()
        .await
        .map_err(|e| aws_error(&format!("setting DNS hostnames on {vpc}"), e))?;
    Ok(())
}

/// The VPC's default security group, found by its reserved name.
async fn default_group(
    ctx: &Ctx<'_>,
    vpc: &str,
) -> Result<Option<aws_sdk_ec2::types::SecurityGroup>> {
    let out = ctx
        .clients
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc))
        .filters(filter("group-name", "default"))
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the default security group of {vpc}"), e))?;
    Ok(out.security_groups().first().cloned())
}

/// Whether the default group and ACL admit nothing.
async fn defaults_closed(ctx: &Ctx<'_>, vpc: &str) -> Result<(bool, bool)> {
    let group_closed = default_group(ctx, vpc)
        .await?
        .is_none_or(|g| g.ip_permissions().is_empty() && g.ip_permissions_egress().is_empty());
    let acl_closed = !super::network_acl::default_acl_open(ctx, vpc).await?;
    Ok((group_closed, acl_closed))
}

/// Revokes every rule of the default security group: the ones AWS puts there (all traffic from
/// the group itself, all traffic out) and any added by hand.
async fn close_default_group(ctx: &Ctx<'_>, vpc: &str) -> Result<()> {
    let Some(g) = default_group(ctx, vpc).await? else {
        return Ok(());
    };
    let id = g.group_id().unwrap_or_default();
    if !g.ip_permissions().is_empty() {
        ctx.clients
            .ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(g.ip_permissions().to_vec()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("emptying the default security group {id}"), e))?;
    }
    if !g.ip_permissions_egress().is_empty() {
        ctx.clients
            .ec2
            .revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(g.ip_permissions_egress().to_vec()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("emptying the default security group {id}"), e))?;
    }
    Ok(())
}

async fn close_defaults(ctx: &Ctx<'_>, spec: &ResourceSpec, vpc: &str) -> Result<()> {
    if b(spec, "default_security_group_closed")? {
        close_default_group(ctx, vpc).await?;
    }
    if b(spec, "default_network_acl_closed")? {
        super::network_acl::close_default_acl(ctx, vpc).await?;
    }
    Ok(())
}

#[async_trait]
impl Provider for VpcProvider {
    fn kind(&self) -> Kind {
        Kind::Vpc
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let out = ctx
            .clients
            .ec2
            .describe_vpcs()
            .filters(owned_filter(ctx))
            .send()
            .await
            .map_err(|e| aws_error("listing VPCs", e))?;
        let mut found = Vec::new();
        for vpc in out.vpcs() {
            let Some((id, stack)) = ec2_owner(ctx, vpc.tags()) else {
                continue;
            };
            let vpc_id = vpc.vpc_id().unwrap_or_default();
            let support = dns_attribute(ctx, vpc_id, VpcAttributeName::EnableDnsSupport).await?;
            let hostnames =
                dns_attribute(ctx, vpc_id, VpcAttributeName::EnableDnsHostnames).await?;
            let (group_closed, acl_closed) = defaults_closed(ctx, vpc_id).await?;
            let mut o = Observed::new(&id, Kind::Vpc, vpc_id)
                .prop("cidr_block", Val::str(vpc.cidr_block().unwrap_or_default()))
                .prop("enable_dns_support", Val::Bool(support))
                .prop("enable_dns_hostnames", Val::Bool(hostnames))
                .prop("default_security_group_closed", Val::Bool(group_closed))
                .prop("default_network_acl_closed", Val::Bool(acl_closed));
            o.name = ec2_name(vpc.tags());
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .ec2
            .create_vpc()
            .cidr_block(s(spec, "cidr_block")?)
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::Vpc))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating VPC {}", spec.name), e))?;
        let vpc_id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .ok_or_else(|| anyhow!("CreateVpc returned no VPC id"))?
            .to_string();
        ctx.clients
            .ec2
            .wait_until_vpc_available()
            .vpc_ids(&vpc_id)
            .wait(Duration::from_secs(300))
            .await
            .map_err(|e| waiter_error(&format!("waiting for {vpc_id} to become available"), e))?;
        set_dns(
            ctx,
            &vpc_id,
            b(spec, "enable_dns_support")?,
            b(spec, "enable_dns_hostnames")?,
        )
        .await?;
        close_defaults(ctx, spec, &vpc_id).await?;
        Ok(observed_from_spec(spec, &vpc_id))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        set_dns(
            ctx,
            &current.physical_id,
            b(spec, "enable_dns_support")?,
            b(spec, "enable_dns_hostnames")?,
        )
        .await?;
        close_defaults(ctx, spec, &current.physical_id).await?;
        Ok(observed_from_spec(spec, &current.physical_id))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.clone();
        delete_waiting(
            &["DependencyViolation"],
            "InvalidVpcID.NotFound",
            || async {
                ctx.clients
                    .ec2
                    .delete_vpc()
                    .vpc_id(&id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| coded(&format!("deleting VPC {id}"), e))
            },
        )
        .await
    }
}
