//! The caches of a stack (ElastiCache replication groups): their settings in the stack file, what
//! is checked of them beyond what the types say, the resources they expand into and, where they
//! have metrics worth watching, their rows on the dashboard.

use super::monitoring::{metric, Row};
use super::{alarm, tcp_rule_from_sg, AlarmDef, Component, Cx, TOPIC};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

/// An ElastiCache for Redis replication group in the private subnets.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    #[serde(default = "default_redis_version")]
    pub engine_version: String,
    pub node_type: String,
    /// Cluster mode shards the keyspace over `shards` node groups; it is also what ElastiCache
    /// auto scaling needs.
    #[serde(default = "yes")]
    pub cluster_mode: bool,
    #[serde(default = "one")]
    pub shards: u32,
    /// Replicas of each shard's primary, placed in the other zones.
    #[serde(default = "one")]
    pub replicas_per_shard: u32,
    #[serde(default = "yes")]
    pub automatic_failover: bool,
    #[serde(default = "yes")]
    pub multi_az: bool,
    #[serde(default = "default_cache_snapshot_days")]
    pub snapshot_retention_days: u32,
    #[serde(default = "default_redis_port")]
    pub port: u16,
    /// Tiers allowed to connect.
    #[serde(default)]
    pub allow_from: Vec<String>,
    #[serde(default)]
    pub autoscaling: CacheAutoscaling,
    #[serde(default = "default_cache_cpu")]
    pub cpu_alarm_percent: f64,
    /// Keys evicted per period (memory pressure) above which it alarms.
    #[serde(default = "default_evictions")]
    pub evictions_alarm_threshold: u32,
    /// Seconds a replica may lag behind its primary before it alarms.
    #[serde(default = "default_replication_lag")]
    pub replication_lag_alarm_seconds: f64,
    #[serde(default = "five_minute_alarm")]
    pub alarm: AlarmPolicy,
}

/// Application Auto Scaling of the replica count, on the replicas' engine CPU.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheAutoscaling {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "one")]
    pub min_replicas: u32,
    #[serde(default = "default_max_replicas")]
    pub max_replicas: u32,
    #[serde(default = "default_target_cpu")]
    pub target_cpu_percent: f64,
}

impl Default for CacheAutoscaling {
    fn default() -> Self {
        CacheAutoscaling {
            enabled: false,
            min_replicas: one(),
            max_replicas: default_max_replicas(),
            target_cpu_percent: default_target_cpu(),
        }
    }
}

fn one() -> u32 {
    1
}
fn default_redis_version() -> String {
    "7.1".into()
}
fn default_redis_port() -> u16 {
    6379
}
fn default_cache_snapshot_days() -> u32 {
    7
}
fn default_max_replicas() -> u32 {
    3
}
fn default_cache_cpu() -> f64 {
    75.0
}
fn default_evictions() -> u32 {
    100
}
fn default_replication_lag() -> f64 {
    30.0
}

/// The ElastiCache replication groups.
pub(crate) struct Caches;

impl Component for Caches {
    /// Reports each problem of the stack's caches as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (name, cache) in &stack.caches {
            let at = format!("caches.{name}");
            if !valid_component_name(name) {
                bad(
                    at.clone(),
                    "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
                );
            }
            if !cache.node_type.starts_with("cache.") {
                bad(
                    format!("{at}.node_type"),
                    format!(
                        "`{}` is not a cache node type such as cache.r7g.large",
                        cache.node_type
                    ),
                );
            }
            let version_ok = cache
                .engine_version
                .split('.')
                .next()
                .and_then(|major| major.parse::<u32>().ok())
                .is_some_and(|major| major >= 6);
            if !version_ok {
                bad(
                    format!("{at}.engine_version"),
                    format!(
                        "`{}`: encryption in transit and Multi-AZ need Redis 6 or later",
                        cache.engine_version
                    ),
                );
            }
            if cache.shards == 0 || cache.shards > 500 {
                bad(format!("{at}.shards"), "must be between 1 and 500".into());
            } else if !cache.cluster_mode && cache.shards != 1 {
                bad(
                    format!("{at}.shards"),
                    "more than one shard needs cluster_mode = true".into(),
                );
            }
            if cache.replicas_per_shard > 5 {
                bad(
                    format!("{at}.replicas_per_shard"),
                    "at most 5 replicas per shard".into(),
                );
            }
            if cache.automatic_failover && cache.replicas_per_shard == 0 {
                bad(
                    format!("{at}.replicas_per_shard"),
                    "is 0 with automatic_failover on: failover needs a replica to promote".into(),
                );
            }
            if cache.multi_az && !cache.automatic_failover {
                bad(
                    format!("{at}.multi_az"),
                    "Multi-AZ needs automatic_failover = true".into(),
                );
            }
            if cache.cluster_mode && !cache.automatic_failover {
                bad(
                    format!("{at}.automatic_failover"),
                    "cluster mode needs automatic failover".into(),
                );
            }
            if cache.snapshot_retention_days == 0 || cache.snapshot_retention_days > 35 {
                bad(
                    format!("{at}.snapshot_retention_days"),
                    "must be between 1 and 35 days: a cache without snapshots cannot be recovered"
                        .into(),
                );
            }
            if cache.port == 0 {
                bad(format!("{at}.port"), "must be a port number".into());
            }
            for (i, tier) in cache.allow_from.iter().enumerate() {
                if !stack.tiers.contains_key(tier) {
                    bad(
                        format!("{at}.allow_from.{i}"),
                        format!("no tier named `{tier}`"),
                    );
                }
            }
            let scaling = &cache.autoscaling;
            if scaling.enabled {
                if !cache.cluster_mode {
                    bad(
                        format!("{at}.autoscaling.enabled"),
                        "ElastiCache auto scaling needs cluster_mode = true".into(),
                    );
                }
                if cache.node_type.starts_with("cache.t") {
                    bad(
                        format!("{at}.autoscaling.enabled"),
                        format!(
                            "ElastiCache auto scaling does not support burstable nodes ({})",
                            cache.node_type
                        ),
                    );
                }
                if scaling.min_replicas > scaling.max_replicas || scaling.max_replicas > 5 {
                    bad(
                        format!("{at}.autoscaling.max_replicas"),
                        "min_replicas <= max_replicas <= 5".into(),
                    );
                } else if cache.replicas_per_shard < scaling.min_replicas
                    || cache.replicas_per_shard > scaling.max_replicas
                {
                    bad(
                        format!("{at}.replicas_per_shard"),
                        format!(
                            "{} lies outside autoscaling's {}..{}",
                            cache.replicas_per_shard, scaling.min_replicas, scaling.max_replicas
                        ),
                    );
                }
                if cache.automatic_failover && scaling.min_replicas == 0 {
                    bad(
                        format!("{at}.autoscaling.min_replicas"),
                        "must be at least 1 with automatic failover on".into(),
                    );
                }
                if !(1.0..=100.0).contains(&scaling.target_cpu_percent) {
                    bad(
                        format!("{at}.autoscaling.target_cpu_percent"),
                        "must be between 1 and 100".into(),
                    );
                }
            }
            if !(1.0..=100.0).contains(&cache.cpu_alarm_percent) {
                bad(
                    format!("{at}.cpu_alarm_percent"),
                    "must be between 1 and 100".into(),
                );
            }
            if cache.replication_lag_alarm_seconds <= 0.0 {
                bad(
                    format!("{at}.replication_lag_alarm_seconds"),
                    "must be above 0".into(),
                );
            }
            check_policy(bad, &format!("{at}.alarm"), cache.alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack, env, zones, ..
        } = *cx;
        let (private_ids, topic) = (&cx.private_subnets, TOPIC);
        for (name, cache) in &stack.caches {
            out.extend(expand_cache(env, topic, name, cache, zones, private_ids));
        }
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .caches
            .keys()
            .map(|name| {
                let d = [(
                    "ReplicationGroupId",
                    Val::reference(format!("cache.{name}"), "name"),
                )];
                let m = |metric_name| metric("AWS/ElastiCache", metric_name, &d);
                Row::new(
                    cx,
                    format!("Cache {name}"),
                    vec![
                        ("Engine CPU", vec![m("EngineCPUUtilization")], "Maximum"),
                        ("Evictions", vec![m("Evictions")], "Sum"),
                        ("Replication lag", vec![m("ReplicationLag")], "Maximum"),
                    ],
                )
            })
            .collect()
    }
}

/// The node ids ElastiCache gives a replication group's members: `<group>-0001-002` in cluster
/// mode (shard, node), `<group>-002` without.
pub fn cache_member_suffixes(cluster_mode: bool, shards: u32, replicas: u32) -> Vec<String> {
    let mut out = Vec::new();
    for shard in 1..=shards {
        for node in 1..=replicas + 1 {
            out.push(if cluster_mode {
                format!("{shard:04}-{node:03}")
            } else {
                format!("{node:03}")
            });
        }
    }
    out
}

/// The zones a shard's nodes go to: its primary in zone `shard mod n`, replicas in the zones
/// after it, so every primary has a replica in another zone.
pub fn cache_node_zones(zones: &[String], shard: usize, replicas: usize) -> Vec<String> {
    (0..=replicas)
        .map(|k| zones[(shard + k) % zones.len()].clone())
        .collect()
}

fn expand_cache(
    env: &str,
    topic: &str,
    name: &str,
    cache: &crate::stack::Cache,
    zones: &[String],
    private_ids: &[String],
) -> Vec<ResourceSpec> {
    let mut out = Vec::new();
    let sg = format!("cache.{name}.sg");
    out.push(
        ResourceSpec::new(
            &sg,
            Kind::SecurityGroup,
            physical_name(env, &format!("{name}-cache"), 255),
        )
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with(
            "description",
            Val::str(format!("ftctl {env}: cache {name}")),
        )
        .with(
            "ingress",
            Val::List(
                cache
                    .allow_from
                    .iter()
                    .map(|t| tcp_rule_from_sg(cache.port, &format!("tier.{t}.sg")))
                    .collect(),
            ),
        ),
    );
    let subnet_group = format!("cache.{name}.subnets");
    out.push(
        ResourceSpec::new(
            &subnet_group,
            Kind::CacheSubnetGroup,
            physical_name(env, &format!("{name}-cache"), 255),
        )
        .with(
            "description",
            Val::str(format!("ftctl {env}: private subnets of cache {name}")),
        )
        .with(
            "subnet_ids",
            Val::list(private_ids.iter().map(|id| Val::reference(id, "id"))),
        ),
    );
    let id = format!("cache.{name}");
    // Replication group ids: at most 40 characters.
    let group_name = physical_name(env, name, 40);
    let mut placed: Vec<String> = (0..cache.shards as usize)
        .flat_map(|s| cache_node_zones(zones, s, cache.replicas_per_shard as usize))
        .collect();
    placed.sort();
    placed.dedup();
    let replicas = if cache.autoscaling.enabled {
        Val::map([
            ("min", Val::Int(cache.autoscaling.min_replicas.into())),
            ("max", Val::Int(cache.autoscaling.max_replicas.into())),
        ])
    } else {
        Val::Int(cache.replicas_per_shard.into())
    };
    out.push(
        ResourceSpec::new(&id, Kind::CacheReplicationGroup, &group_name)
            .with(
                "description",
                Val::str(format!("ftctl {env}: Redis cache {name}")),
            )
            .with("engine", Val::str("redis"))
            .with("engine_version", Val::str(&cache.engine_version))
            .with("node_type", Val::str(&cache.node_type))
            .with("cluster_mode", Val::Bool(cache.cluster_mode))
            .with("shards", Val::Int(cache.shards.into()))
            .with("replicas_per_shard", replicas)
            .with(
                "initial_replicas",
                Val::Int(cache.replicas_per_shard.into()),
            )
            .with("automatic_failover", Val::Bool(cache.automatic_failover))
            .with("multi_az", Val::Bool(cache.multi_az))
            .with("at_rest_encryption", Val::Bool(true))
            .with("transit_encryption", Val::Bool(true))
            .with(
                "snapshot_retention_days",
                Val::Int(cache.snapshot_retention_days.into()),
            )
            .with("port", Val::Int(cache.port.into()))
            .with("zones", Val::list(placed.into_iter().map(Val::Str)))
            .with(
                "cache_subnet_group_name",
                Val::reference(&subnet_group, "name"),
            )
            .with("security_group_ids", Val::list([Val::reference(&sg, "id")])),
    );
    if cache.autoscaling.enabled {
        out.push(
            ResourceSpec::new(
                format!("cache.{name}.scaling"),
                Kind::CacheScaling,
                physical_name(env, &format!("{name}-cache-replicas"), 255),
            )
            .with("resource_id", Val::reference(&id, "resource_id"))
            .with("parent_arn", Val::reference(&id, "arn"))
            .with(
                "min_capacity",
                Val::Int(cache.autoscaling.min_replicas.into()),
            )
            .with(
                "max_capacity",
                Val::Int(cache.autoscaling.max_replicas.into()),
            )
            .with(
                "target_cpu_percent",
                Val::Float(cache.autoscaling.target_cpu_percent),
            ),
        );
    }
    // CloudWatch reports ElastiCache per node: one set of alarms per node the stack asks for.
    for member in cache_member_suffixes(cache.cluster_mode, cache.shards, cache.replicas_per_shard)
    {
        let node = format!("{group_name}-{member}");
        let dims = || vec![("CacheClusterId", Val::str(&node))];
        let alarm_id = |what: &str| format!("alarm.cache.{name}.{member}.{what}");
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: alarm_id("cpu"),
                name_suffix: format!("{name}-cache-{member}-cpu"),
                description: format!(
                    "Cache {name} node {node}: Redis engine CPU above {}%",
                    cache.cpu_alarm_percent
                ),
                namespace: "AWS/ElastiCache",
                metric: "EngineCPUUtilization",
                statistic: "Average",
                dimensions: dims(),
                comparison: "GreaterThanThreshold",
                threshold: cache.cpu_alarm_percent,
                policy: cache.alarm,
                missing: "missing",
            },
        ));
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: alarm_id("evictions"),
                name_suffix: format!("{name}-cache-{member}-evictions"),
                description: format!(
                    "Cache {name} node {node}: more than {} keys evicted per period (memory full)",
                    cache.evictions_alarm_threshold
                ),
                namespace: "AWS/ElastiCache",
                metric: "Evictions",
                statistic: "Sum",
                dimensions: dims(),
                comparison: "GreaterThanThreshold",
                threshold: cache.evictions_alarm_threshold as f64,
                policy: cache.alarm,
                missing: "notBreaching",
            },
        ));
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: alarm_id("replication-lag"),
                name_suffix: format!("{name}-cache-{member}-replication-lag"),
                description: format!(
                    "Cache {name} node {node}: replica more than {} s behind its primary",
                    cache.replication_lag_alarm_seconds
                ),
                namespace: "AWS/ElastiCache",
                metric: "ReplicationLag",
                statistic: "Maximum",
                dimensions: dims(),
                comparison: "GreaterThanThreshold",
                threshold: cache.replication_lag_alarm_seconds,
                policy: cache.alarm,
                // Only replicas report lag; a node that is primary reports nothing.
                missing: "notBreaching",
            },
        ));
    }
    out
}
