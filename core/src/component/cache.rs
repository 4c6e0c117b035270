//! The caches of a stack (ElastiCache replication groups): what is checked beyond what the types say.

use crate::stack::*;

/// Reports each problem of the stack's caches as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
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
