//! ElastiCache subnet groups: the private subnets a cache's nodes may live in.

use super::tags::{elasticache_owner, elasticache_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, coded, delete_waiting, observed_from_spec, s, str_list, strs, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;

/// Every attribute of an elasticache subnet group: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::CacheSubnetGroup,
    &[Attr::new("description"), Attr::new("subnet_ids")],
);

pub struct CacheSubnetGroupProvider;

#[async_trait]
impl Provider for CacheSubnetGroupProvider {
    fn kind(&self) -> Kind {
        Kind::CacheSubnetGroup
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = ctx.name_prefix();
        let groups: Vec<_> = ctx
            .clients
            .elasticache
            .describe_cache_subnet_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing cache subnet groups", e))?;
        let mut found = Vec::new();
        for g in groups.iter().filter(|g| {
            g.cache_subnet_group_name()
                .is_some_and(|n| n.starts_with(&prefix))
        }) {
            let arn = g.arn().unwrap_or_default();
            // The listing carries no tags: read them for the few whose name is ours.
            let Some((id, stack)) = elasticache_owner(ctx, arn).await? else {
                continue;
            };
            let name = g.cache_subnet_group_name().unwrap_or_default();
            let subnets: Vec<String> = g
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier().map(str::to_string))
                .collect();
            let mut o = Observed::new(&id, Kind::CacheSubnetGroup, name)
                .prop(
                    "description",
                    Val::str(g.cache_subnet_group_description().unwrap_or_default()),
                )
                .prop("subnet_ids", str_list(subnets))
                .output("name", name)
                .output("arn", arn);
            o.name = name.to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(&spec.name)
            .cache_subnet_group_description(s(spec, "description")?)
            .set_subnet_ids(Some(strs(spec, "subnet_ids")))
            .set_tags(Some(elasticache_tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating cache subnet group {}", spec.name), e))?;
        let arn = out
            .cache_subnet_group()
            .and_then(|g| g.arn())
            .unwrap_or_default();
        Ok(observed_from_spec(spec, &spec.name)
            .output("name", &spec.name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        ctx.clients
            .elasticache
            .modify_cache_subnet_group()
            .cache_subnet_group_name(&current.physical_id)
            .cache_subnet_group_description(s(spec, "description")?)
            .set_subnet_ids(Some(strs(spec, "subnet_ids")))
            .send()
            .await
            .map_err(|e| aws_error(&format!("modifying cache subnet group {}", spec.name), e))?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current.physical_id.clone();
        // In use until the replication group's nodes are gone, which takes minutes.
        delete_waiting(
            &["CacheSubnetGroupInUse"],
            "CacheSubnetGroupNotFoundFault",
            || async {
                ctx.clients
                    .elasticache
                    .delete_cache_subnet_group()
                    .cache_subnet_group_name(&name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| coded(&format!("deleting cache subnet group {name}"), e))
            },
        )
        .await
    }
}
