//! Subnets: one public and one private per availability zone.

use super::tags::{ec2_name, ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, changed, coded, delete_waiting, observed_from_spec, s, waiter_error,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use std::collections::HashMap;
use std::time::Duration;

/// Every attribute of an ec2 subnet: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::Subnet,
    &[
        Attr::new("availability_zone").replaces(),
        Attr::new("cidr_block").replaces(),
        Attr::new("map_public_ip_on_launch"),
        Attr::new("network_acl_id"),
        Attr::new("vpc_id").replaces(),
    ],
);

pub struct SubnetProvider;

async fn set_public_ip(ctx: &Ctx<'_>, subnet: &str, on: bool) -> Result<()> {
    ctx.clients
        .ec2
        .modify_subnet_attribute()
        .subnet_id(subnet)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .map_err(|e| aws_error(&format!("setting public IPs on {subnet}"), e))?;
    Ok(())
}

#[async_trait]
impl Provider for SubnetProvider {
    fn kind(&self) -> Kind {
        Kind::Subnet
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let out = ctx
            .clients
            .ec2
            .describe_subnets()
            .filters(owned_filter(ctx))
            .send()
            .await
            .map_err(|e| aws_error("listing subnets", e))?;
        // Which ACL each subnet is on, in one call.
        let ids: Vec<String> = out
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect();
        let mut acl_of: HashMap<String, String> = HashMap::new();
        if !ids.is_empty() {
            let acls = super::network_acl::describe(
                ctx,
                vec![aws_sdk_ec2::types::Filter::builder()
                    .name("association.subnet-id")
                    .set_values(Some(ids))
                    .build()],
            )
            .await?;
            for a in &acls {
                for x in a.associations() {
                    if let (Some(sn), Some(acl)) = (x.subnet_id(), a.network_acl_id()) {
                        acl_of.insert(sn.to_string(), acl.to_string());
                    }
                }
            }
        }
        let mut found = Vec::new();
        for sn in out.subnets() {
            let Some((id, stack)) = ec2_owner(ctx, sn.tags()) else {
                continue;
            };
            let mut o = Observed::new(&id, Kind::Subnet, sn.subnet_id().unwrap_or_default())
                .prop("vpc_id", Val::str(sn.vpc_id().unwrap_or_default()))
                .prop("cidr_block", Val::str(sn.cidr_block().unwrap_or_default()))
                .prop(
                    "availability_zone",
                    Val::str(sn.availability_zone().unwrap_or_default()),
                )
                .prop(
                    "map_public_ip_on_launch",
                    Val::Bool(sn.map_public_ip_on_launch().unwrap_or(false)),
                )
                .prop(
                    "network_acl_id",
                    Val::str(
                        acl_of
                            .get(sn.subnet_id().unwrap_or_default())
                            .cloned()
                            .unwrap_or_default(),
                    ),
                )
                .output(
                    "availability_zone",
                    sn.availability_zone().unwrap_or_default(),
                );
            o.name = ec2_name(sn.tags());
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .ec2
            .create_subnet()
            .vpc_id(s(spec, "vpc_id")?)
            .cidr_block(s(spec, "cidr_block")?)
            .availability_zone(s(spec, "availability_zone")?)
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::Subnet))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating subnet {}", spec.name), e))?;
        let id = out
            .subnet()
            .and_then(|x| x.subnet_id())
            .ok_or_else(|| anyhow!("CreateSubnet returned no subnet id"))?
            .to_string();
        ctx.clients
            .ec2
            .wait_until_subnet_available()
            .subnet_ids(&id)
            .wait(Duration::from_secs(300))
            .await
            .map_err(|e| waiter_error(&format!("waiting for {id} to become available"), e))?;
        if b(spec, "map_public_ip_on_launch")? {
            set_public_ip(ctx, &id, true).await?;
        }
        super::network_acl::associate(ctx, &id, s(spec, "network_acl_id")?).await?;
        Ok(
            observed_from_spec(spec, &id)
                .output("availability_zone", s(spec, "availability_zone")?),
        )
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        set_public_ip(
            ctx,
            &current.physical_id,
            b(spec, "map_public_ip_on_launch")?,
        )
        .await?;
        if changed(spec, current, "network_acl_id") {
            super::network_acl::associate(ctx, &current.physical_id, s(spec, "network_acl_id")?)
                .await?;
        }
        Ok(observed_from_spec(spec, &current.physical_id))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.clone();
        delete_waiting(
            &["DependencyViolation"],
            "InvalidSubnetID.NotFound",
            || async {
                ctx.clients
                    .ec2
                    .delete_subnet()
                    .subnet_id(&id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| coded(&format!("deleting subnet {id}"), e))
            },
        )
        .await
    }
}
