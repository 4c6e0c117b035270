//! Internet gateways, attached to the deployment's VPC.

use super::tags::{ec2_name, ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, coded, error_code, observed_from_spec, retry_while, s, RELEASE_WAIT,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;

/// Every attribute of an ec2 internet gateway: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(Kind::InternetGateway, &[Attr::new("vpc_id")]);

pub struct InternetGatewayProvider;

async fn attach(ctx: &Ctx<'_>, igw: &str, vpc: &str) -> Result<()> {
    ctx.clients
        .ec2
        .attach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc)
        .send()
        .await
        .map_err(|e| aws_error(&format!("attaching {igw} to {vpc}"), e))?;
    Ok(())
}

async fn detach(ctx: &Ctx<'_>, igw: &str, vpc: &str) -> Result<()> {
    let (igw, vpc) = (igw.to_string(), vpc.to_string());
    // Detaching fails while public addresses (NAT, load balancer) are still mapped in the VPC.
    retry_while(&["DependencyViolation"], RELEASE_WAIT, || async {
        ctx.clients
            .ec2
            .detach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(&vpc)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| coded(&format!("detaching {igw} from {vpc}"), e))
    })
    .await
    .map_err(|(_, e)| e)
}

#[async_trait]
impl Provider for InternetGatewayProvider {
    fn kind(&self) -> Kind {
        Kind::InternetGateway
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let out = ctx
            .clients
            .ec2
            .describe_internet_gateways()
            .filters(owned_filter(ctx))
            .send()
            .await
            .map_err(|e| aws_error("listing internet gateways", e))?;
        let mut found = Vec::new();
        for igw in out.internet_gateways() {
            let Some((id, stack)) = ec2_owner(ctx, igw.tags()) else {
                continue;
            };
            let vpc = igw
                .attachments()
                .first()
                .and_then(|a| a.vpc_id())
                .unwrap_or_default();
            let mut o = Observed::new(
                &id,
                Kind::InternetGateway,
                igw.internet_gateway_id().unwrap_or_default(),
            )
            .prop("vpc_id", Val::str(vpc));
            o.name = ec2_name(igw.tags());
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .ec2
            .create_internet_gateway()
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::InternetGateway))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating internet gateway {}", spec.name), e))?;
        let id = out
            .internet_gateway()
            .and_then(|x| x.internet_gateway_id())
            .ok_or_else(|| anyhow!("CreateInternetGateway returned no id"))?
            .to_string();
        attach(ctx, &id, s(spec, "vpc_id")?).await?;
        Ok(observed_from_spec(spec, &id))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        if let Some(old) = current.props.get("vpc_id").and_then(|v| v.as_str()) {
            if !old.is_empty() {
                detach(ctx, &current.physical_id, old).await?;
            }
        }
        attach(ctx, &current.physical_id, s(spec, "vpc_id")?).await?;
        Ok(observed_from_spec(spec, &current.physical_id))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        if let Some(vpc) = current.props.get("vpc_id").and_then(|v| v.as_str()) {
            if !vpc.is_empty() {
                detach(ctx, &current.physical_id, vpc).await?;
            }
        }
        match ctx
            .clients
            .ec2
            .delete_internet_gateway()
            .internet_gateway_id(&current.physical_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("InvalidInternetGatewayID.NotFound") => {
                Ok(())
            }
            Err(e) => Err(aws_error(
                &format!("deleting internet gateway {}", current.physical_id),
                e,
            )),
        }
    }
}
