//! NAT gateways: outbound internet for private subnets.

use super::tags::{ec2_name, ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, error_code, observed_from_spec, s, updated_in_place, waiter_error,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{NatGatewayState, ResourceType};
use std::time::Duration;

/// Every attribute of an ec2 nat gateway: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::NatGateway,
    &[
        Attr::new("allocation_id").replaces(),
        Attr::new("subnet_id").replaces(),
    ],
);

pub struct NatGatewayProvider;

#[async_trait]
impl Provider for NatGatewayProvider {
    fn kind(&self) -> Kind {
        Kind::NatGateway
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let out = ctx
            .clients
            .ec2
            .describe_nat_gateways()
            .filter(owned_filter(ctx))
            .send()
            .await
            .map_err(|e| aws_error("listing NAT gateways", e))?;
        let mut found = Vec::new();
        for n in out.nat_gateways() {
            if matches!(
                n.state(),
                Some(NatGatewayState::Deleted) | Some(NatGatewayState::Deleting)
            ) {
                continue;
            }
            let Some((id, stack)) = ec2_owner(ctx, n.tags()) else {
                continue;
            };
            let alloc = n
                .nat_gateway_addresses()
                .first()
                .and_then(|a| a.allocation_id())
                .unwrap_or_default();
            let mut o = Observed::new(
                &id,
                Kind::NatGateway,
                n.nat_gateway_id().unwrap_or_default(),
            )
            .prop("subnet_id", Val::str(n.subnet_id().unwrap_or_default()))
            .prop("allocation_id", Val::str(alloc));
            o.name = ec2_name(n.tags());
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .ec2
            .create_nat_gateway()
            .subnet_id(s(spec, "subnet_id")?)
            .allocation_id(s(spec, "allocation_id")?)
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::Natgateway))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating NAT gateway {}", spec.name), e))?;
        let id = out
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .ok_or_else(|| anyhow!("CreateNatGateway returned no id"))?
            .to_string();
        ctx.clients
            .ec2
            .wait_until_nat_gateway_available()
            .nat_gateway_ids(&id)
            .wait(Duration::from_secs(900))
            .await
            .map_err(|e| waiter_error(&format!("waiting for NAT gateway {id}"), e))?;
        Ok(observed_from_spec(spec, &id))
    }

    async fn update(
        &self,
        _: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        // Every attribute forces replacement; nothing to change in place.
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = &current.physical_id;
        match ctx
            .clients
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e).as_deref() == Some("NatGatewayNotFound") => return Ok(()),
            Err(e) => return Err(aws_error(&format!("deleting NAT gateway {id}"), e)),
        }
        ctx.clients
            .ec2
            .wait_until_nat_gateway_deleted()
            .nat_gateway_ids(id)
            .wait(Duration::from_secs(900))
            .await
            .map_err(|e| waiter_error(&format!("waiting for NAT gateway {id} to be deleted"), e))?;
        Ok(())
    }
}
