//! VPCs: the address space and DNS settings.

use super::*;
use crate::resource::Val;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};

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

#[async_trait]
impl Provider for VpcProvider {
    fn kind(&self) -> Kind {
        Kind::Vpc
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
            let mut o = Observed::new(&id, Kind::Vpc, vpc_id)
                .prop("cidr_block", Val::str(vpc.cidr_block().unwrap_or_default()))
                .prop("enable_dns_support", Val::Bool(support))
                .prop("enable_dns_hostnames", Val::Bool(hostnames));
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
