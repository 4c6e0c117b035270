//! ElastiCache for Redis replication groups: a primary and replicas in other zones per shard,
//! automatic failover, Multi-AZ, encrypted at rest and in transit, with daily snapshots.

use super::tags::{elasticache_tags, elasticache_tags_of};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, changed, count_within, error_code, i, observed_from_spec, s, str_list, strs,
    unix_now, updated_in_place, waiter_error,
};
use crate::deployment::TAG_SCALED_BY;
use crate::expand::cache_node_zones;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Compare, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_elasticache::client::Waiters;
use aws_sdk_elasticache::types::{
    AutomaticFailoverStatus, ClusterMode, MultiAzStatus, NodeGroupConfiguration, ReplicationGroup,
};
use std::time::Duration;

/// Every attribute of an elasticache replication group: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::CacheReplicationGroup,
    &[
        Attr::new("at_rest_encryption").replaces(),
        Attr::new("automatic_failover"),
        // The create-only ones: used at creation, but ElastiCache describes engine version,
        // security groups and subnet group per node, not per group, so they are compared only
        // when the provider could read them.
        Attr::new("cache_subnet_group_name")
            .replaces()
            .create_only(),
        Attr::new("cluster_mode").replaces(),
        Attr::new("description"),
        Attr::new("engine").replaces(),
        // Compared by prefix, as for RDS: AWS may report a more exact version than asked for.
        Attr::new("engine_version")
            .create_only()
            .compare(Compare::VersionPrefix),
        Attr::new("initial_replicas").create_only(),
        Attr::new("multi_az"),
        Attr::new("node_type"),
        Attr::new("port").replaces(),
        // A range `{ min, max }` when auto scaling moves it (any count inside matches).
        Attr::new("replicas_per_shard"),
        Attr::new("security_group_ids").create_only(),
        Attr::new("shards"),
        Attr::new("snapshot_retention_days"),
        Attr::new("transit_encryption").replaces(),
        // Placement at creation; later nodes go where AWS puts them, and a change in zones must
        // never replace (delete) a cache. All zones asked for must be used (auto scaling may add
        // nodes elsewhere).
        Attr::new("zones").create_only().compare(Compare::Superset),
    ],
);

pub struct ReplicationGroupProvider;

async fn wait_available(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    ctx.clients
        .elasticache
        .wait_until_replication_group_available()
        .replication_group_id(id)
        .wait(Duration::from_secs(3600))
        .await
        .map_err(|e| waiter_error(&format!("waiting for cache {id} to become available"), e))?;
    Ok(())
}

/// The default parameter group with cluster mode on, for the engine's major version.
fn cluster_parameter_group(engine_version: &str) -> String {
    match engine_version.split('.').next().unwrap_or("7") {
        "6" => "default.redis6.x.cluster.on".to_string(),
        major => format!("default.redis{major}.cluster.on"),
    }
}

fn shard_ids(g: &ReplicationGroup) -> Vec<String> {
    let mut ids: Vec<String> = g
        .node_groups()
        .iter()
        .filter_map(|ng| ng.node_group_id().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

/// Replicas per shard as observed: the smallest shard decides (a shard short of replicas is
/// what matters for failover).
fn replicas_per_shard(g: &ReplicationGroup) -> i64 {
    g.node_groups()
        .iter()
        .map(|ng| ng.node_group_members().len() as i64 - 1)
        .min()
        .unwrap_or(0)
        .max(0)
}

/// Where a cache's nodes are, for the chaos probe and the tests: zones of every member.
pub fn member_zones(g: &ReplicationGroup) -> Vec<String> {
    let mut zones: Vec<String> = g
        .node_groups()
        .iter()
        .flat_map(|ng| ng.node_group_members())
        .filter_map(|m| m.preferred_availability_zone().map(str::to_string))
        .collect();
    zones.sort();
    zones.dedup();
    zones
}

fn observed_group(g: &ReplicationGroup, id: &str) -> Observed {
    let name = g.replication_group_id().unwrap_or_default();
    let failover = matches!(
        g.automatic_failover(),
        Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling)
    );
    let endpoint = g
        .configuration_endpoint()
        .or_else(|| g.node_groups().first().and_then(|ng| ng.primary_endpoint()));
    let cluster_mode =
        g.cluster_enabled().unwrap_or(false) || g.cluster_mode() == Some(&ClusterMode::Enabled);
    let mut o = Observed::new(id, Kind::CacheReplicationGroup, name)
        .prop("description", Val::str(g.description().unwrap_or_default()))
        .prop("engine", Val::str(g.engine().unwrap_or("redis")))
        .prop(
            "node_type",
            Val::str(g.cache_node_type().unwrap_or_default()),
        )
        .prop("cluster_mode", Val::Bool(cluster_mode))
        .prop("shards", Val::Int(g.node_groups().len() as i64))
        .prop("replicas_per_shard", Val::Int(replicas_per_shard(g)))
        .prop("automatic_failover", Val::Bool(failover))
        .prop(
            "multi_az",
            Val::Bool(g.multi_az() == Some(&MultiAzStatus::Enabled)),
        )
        .prop(
            "at_rest_encryption",
            Val::Bool(g.at_rest_encryption_enabled().unwrap_or(false)),
        )
        .prop(
            "transit_encryption",
            Val::Bool(g.transit_encryption_enabled().unwrap_or(false)),
        )
        .prop(
            "snapshot_retention_days",
            Val::Int(g.snapshot_retention_limit().unwrap_or(0).into()),
        )
        .output("zones", member_zones(g).join(","))
        // The shards' real ids (AWS numbers them 0001.., but a resharded group may have gaps).
        .output("shard_ids", shard_ids(g).join(","))
        .output("name", name)
        .output("arn", g.arn().unwrap_or_default())
        .output("resource_id", format!("replication-group/{name}"))
        .output("status", g.status().unwrap_or_default());
    if let Some(ep) = endpoint {
        o = o
            .prop("port", Val::Int(ep.port().unwrap_or(0).into()))
            .output("endpoint", ep.address().unwrap_or_default());
    }
    o.name = name.to_string();
    o
}

#[async_trait]
impl Provider for ReplicationGroupProvider {
    fn kind(&self) -> Kind {
        Kind::CacheReplicationGroup
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = ctx.name_prefix();
        let groups: Vec<_> = ctx
            .clients
            .elasticache
            .describe_replication_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing cache replication groups", e))?;
        let mut found = Vec::new();
        for g in groups.iter().filter(|g| {
            g.replication_group_id()
                .is_some_and(|n| n.starts_with(&prefix))
                && g.status() != Some("deleting")
        }) {
            let tags = elasticache_tags_of(ctx, g.arn().unwrap_or_default()).await?;
            let Some((id, stack)) = ctx.owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            else {
                continue;
            };
            let mut o = observed_group(g, &id);
            o.stack = stack;
            if let Some((_, policy)) = tags.iter().find(|(k, _)| k == TAG_SCALED_BY) {
                o = o.output("scaled_by", policy);
            }
            // Engine version, security groups and subnet group are reported per node.
            if let Some(member) = g.member_clusters().first() {
                let nodes = ctx
                    .clients
                    .elasticache
                    .describe_cache_clusters()
                    .cache_cluster_id(member)
                    .send()
                    .await;
                let nodes = match nodes {
                    Ok(out) => out.cache_clusters().first().cloned(),
                    // A member being replaced (failover, scaling) may be gone for a moment:
                    // these attributes are then compared on the next read.
                    Err(e) if error_code(&e).as_deref() == Some("CacheClusterNotFound") => None,
                    Err(e) => return Err(aws_error(&format!("reading cache node {member}"), e)),
                };
                if let Some(node) = nodes {
                    if let Some(v) = node.engine_version() {
                        o = o.prop("engine_version", Val::str(v));
                    }
                    if let Some(subnets) = node.cache_subnet_group_name() {
                        o = o.prop("cache_subnet_group_name", Val::str(subnets));
                    }
                    o = o.prop(
                        "security_group_ids",
                        str_list(
                            node.security_groups()
                                .iter()
                                .filter_map(|s| s.security_group_id()),
                        ),
                    );
                }
            }
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let id = spec.name.as_str();
        let cluster_mode = b(spec, "cluster_mode")?;
        let shards = i(spec, "shards")? as i32;
        let replicas = i(spec, "initial_replicas")? as i32;
        let zones = strs(spec, "zones");
        let engine_version = s(spec, "engine_version")?;
        let mut req = ctx
            .clients
            .elasticache
            .create_replication_group()
            .replication_group_id(id)
            .replication_group_description(s(spec, "description")?)
            .engine(s(spec, "engine")?)
            .engine_version(engine_version)
            .cache_node_type(s(spec, "node_type")?)
            .automatic_failover_enabled(b(spec, "automatic_failover")?)
            .multi_az_enabled(b(spec, "multi_az")?)
            .at_rest_encryption_enabled(b(spec, "at_rest_encryption")?)
            .transit_encryption_enabled(b(spec, "transit_encryption")?)
            .snapshot_retention_limit(i(spec, "snapshot_retention_days")? as i32)
            .port(i(spec, "port")? as i32)
            .cache_subnet_group_name(s(spec, "cache_subnet_group_name")?)
            .set_security_group_ids(Some(strs(spec, "security_group_ids")))
            .auto_minor_version_upgrade(true)
            .set_tags(Some(elasticache_tags(ctx, spec)));
        if cluster_mode {
            req = req
                .cluster_mode(ClusterMode::Enabled)
                .cache_parameter_group_name(cluster_parameter_group(engine_version))
                .num_node_groups(shards);
            // Pin every shard's primary and replicas to different zones (each shard's replica
            // count goes with its placement, so ReplicasPerNodeGroup is not sent as well).
            for shard in 0..shards as usize {
                let placed = cache_node_zones(&zones, shard, replicas as usize);
                req = req.node_group_configuration(
                    NodeGroupConfiguration::builder()
                        .node_group_id(format!("{:04}", shard + 1))
                        .primary_availability_zone(&placed[0])
                        .set_replica_availability_zones(Some(placed[1..].to_vec()))
                        .replica_count(replicas)
                        .build(),
                );
            }
        } else {
            req = req
                .num_cache_clusters(replicas + 1)
                .set_preferred_cache_cluster_azs(Some(cache_node_zones(
                    &zones,
                    0,
                    replicas as usize,
                )));
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating cache {id}"), e))?;
        wait_available(ctx, id).await?;
        let arn = out
            .replication_group()
            .and_then(|g| g.arn())
            .unwrap_or_default();
        Ok(observed_from_spec(spec, id)
            .output("name", id)
            .output("arn", arn)
            .output("resource_id", format!("replication-group/{id}")))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let id = current.physical_id.as_str();
        let changed = |key: &str| changed(spec, current, key);
        let mut modify = ctx
            .clients
            .elasticache
            .modify_replication_group()
            .replication_group_id(id)
            .apply_immediately(true);
        let mut modifying = false;
        if changed("description") {
            modify = modify.replication_group_description(s(spec, "description")?);
            modifying = true;
        }
        if changed("node_type") {
            modify = modify.cache_node_type(s(spec, "node_type")?);
            modifying = true;
        }
        if changed("automatic_failover") {
            modify = modify.automatic_failover_enabled(b(spec, "automatic_failover")?);
            modifying = true;
        }
        if changed("multi_az") {
            modify = modify.multi_az_enabled(b(spec, "multi_az")?);
            modifying = true;
        }
        if changed("snapshot_retention_days") {
            modify = modify.snapshot_retention_limit(i(spec, "snapshot_retention_days")? as i32);
            modifying = true;
        }
        if current.props.contains_key("engine_version") && changed("engine_version") {
            modify = modify.engine_version(s(spec, "engine_version")?);
            modifying = true;
        }
        if current.props.contains_key("security_group_ids") && changed("security_group_ids") {
            modify = modify.set_security_group_ids(Some(strs(spec, "security_group_ids")));
            modifying = true;
        }
        if modifying {
            modify
                .send()
                .await
                .map_err(|e| aws_error(&format!("modifying cache {id}"), e))?;
            wait_available(ctx, id).await?;
        }
        if changed("shards") {
            let want = i(spec, "shards")?;
            let mut req = ctx
                .clients
                .elasticache
                .modify_replication_group_shard_configuration()
                .replication_group_id(id)
                .node_group_count(want as i32)
                .apply_immediately(true);
            // Fewer shards: name the last ones (by their real ids); their slots move to the
            // remaining shards.
            let ids: Vec<&str> = current
                .outputs
                .get("shard_ids")
                .map(|ids| ids.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            for id in ids.iter().skip(want.max(0) as usize) {
                req = req.node_groups_to_remove(*id);
            }
            req.send()
                .await
                .map_err(|e| aws_error(&format!("resharding cache {id} to {want} shards"), e))?;
            wait_available(ctx, id).await?;
        }
        if changed("replicas_per_shard") {
            let have = current
                .props
                .get("replicas_per_shard")
                .and_then(Val::as_i64)
                .unwrap_or(0);
            let want = count_within(spec, "replicas_per_shard", have)?;
            if want > have {
                ctx.clients
                    .elasticache
                    .increase_replica_count()
                    .replication_group_id(id)
                    .new_replica_count(want as i32)
                    .apply_immediately(true)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("adding replicas to cache {id}"), e))?;
            } else if want < have {
                ctx.clients
                    .elasticache
                    .decrease_replica_count()
                    .replication_group_id(id)
                    .new_replica_count(want as i32)
                    .apply_immediately(true)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("removing replicas from cache {id}"), e))?;
            }
            wait_available(ctx, id).await?;
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.as_str();
        let mut req = ctx
            .clients
            .elasticache
            .delete_replication_group()
            .replication_group_id(id);
        if !ctx.delete.skip_final_snapshot {
            let snapshot = crate::backup::final_name(id, unix_now() as i64);
            tracing::info!("cache {id}: final snapshot {snapshot}");
            req = req.final_snapshot_identifier(snapshot);
        }
        match req.send().await {
            // Wait until it is gone: a replacement reuses the id, which AWS refuses while the
            // old group is still deleting.
            Ok(_) => ctx
                .clients
                .elasticache
                .wait_until_replication_group_deleted()
                .replication_group_id(id)
                .wait(Duration::from_secs(3600))
                .await
                .map(|_| ())
                .map_err(|e| waiter_error(&format!("waiting for cache {id} to be deleted"), e)),
            Err(e) if error_code(&e).as_deref() == Some("ReplicationGroupNotFoundFault") => Ok(()),
            // Deleting takes minutes; its subnet group and security group wait for it (they
            // stay in use until the nodes are gone).
            Err(e) => Err(aws_error(&format!("deleting cache {id}"), e)),
        }
    }
}
