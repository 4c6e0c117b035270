//! Elastic IP addresses for NAT gateways.

use super::tags::{ec2_name, ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, coded, delete_waiting, observed_from_spec, updated_in_place};
use crate::resource::{Kind, Observed, ResourceSpec};
use crate::schema::Schema;
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};

/// An elastic IP has no attributes: all there is to it is its allocation and tags.
static SCHEMA: Schema = Schema::new(Kind::ElasticIp, &[]);

pub struct ElasticIpProvider;

#[async_trait]
impl Provider for ElasticIpProvider {
    fn kind(&self) -> Kind {
        Kind::ElasticIp
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let out = ctx
            .clients
            .ec2
            .describe_addresses()
            .filters(owned_filter(ctx))
            .send()
            .await
            .map_err(|e| aws_error("listing elastic IPs", e))?;
        let mut found = Vec::new();
        for a in out.addresses() {
            let Some((id, stack)) = ec2_owner(ctx, a.tags()) else {
                continue;
            };
            let alloc = a.allocation_id().unwrap_or_default();
            let mut o = Observed::new(&id, Kind::ElasticIp, alloc)
                .output("allocation_id", alloc)
                .output("public_ip", a.public_ip().unwrap_or_default());
            o.name = ec2_name(a.tags());
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::ElasticIp))
            .send()
            .await
            .map_err(|e| aws_error(&format!("allocating elastic IP {}", spec.name), e))?;
        let alloc = out
            .allocation_id()
            .ok_or_else(|| anyhow!("AllocateAddress returned no allocation id"))?;
        Ok(observed_from_spec(spec, alloc)
            .output("allocation_id", alloc)
            .output("public_ip", out.public_ip().unwrap_or_default()))
    }

    async fn update(
        &self,
        _: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.clone();
        // The address stays associated for a while after its NAT gateway is deleted.
        delete_waiting(
            &["AuthFailure", "InvalidIPAddress.InUse"],
            "InvalidAllocationID.NotFound",
            || async {
                ctx.clients
                    .ec2
                    .release_address()
                    .allocation_id(&id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| coded(&format!("releasing elastic IP {id}"), e))
            },
        )
        .await
    }
}
