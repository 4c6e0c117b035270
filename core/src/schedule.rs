//! Which ready operation an apply starts first. On AWS an apply's time is its waits: a Multi-AZ
//! database or a replication group takes many minutes to become available while most resources
//! take seconds. When parallelism is what limits, starting the ready operation that heads the
//! longest remaining chain first (list scheduling by "bottom level") keeps the slow chains moving;
//! a scheduler that starts ready work in graph order can leave a database waiting behind a batch
//! of alarms. Pure: the expected durations are a table, the chains a graph of indexes.

use crate::resource::Kind;

/// How long an operation on `kind` typically takes to finish on AWS, create included, in
/// seconds: what the scheduler weighs chains by. AWS documents no creation times; these are the
/// middle of the ranges commonly reported (issue 20 lists them: a Multi-AZ database 10–20
/// minutes, a replication group 10–15, an EMR cluster 7–15, a NAT gateway 1–3, a balancer 2–4,
/// a CloudFront distribution 5–15), and a few seconds for the kinds that are ready when their
/// API call returns. Only their order matters to the scheduler; `make bench` uses them scaled.
pub fn typical_seconds(kind: Kind) -> f64 {
    match kind {
        Kind::DbInstance => 900.0,
        Kind::CacheReplicationGroup => 750.0,
        Kind::EmrCluster => 660.0,
        Kind::Distribution => 600.0,
        Kind::DocdbInstance => 600.0,
        Kind::DocdbCluster => 300.0,
        Kind::TableReplica => 300.0,
        Kind::Certificate => 300.0,
        // Instances launched and passing their health checks.
        Kind::AutoScalingGroup => 240.0,
        Kind::LoadBalancer => 180.0,
        Kind::EcsService => 180.0,
        Kind::NatGateway => 120.0,
        Kind::EfsMountTarget => 90.0,
        Kind::VpcEndpoint => 90.0,
        Kind::DynamoTable => 30.0,
        Kind::EfsFileSystem => 30.0,
        Kind::HostedZone => 30.0,
        Kind::WebAcl => 10.0,
        _ => 2.0,
    }
}

/// The longest chain starting at each node, itself included: `durations[i]` plus the longest
/// chain of any node that waits for it (`successors[i]`). The graph must be acyclic (the plan's
/// graph is checked for cycles before this).
pub fn bottom_levels(durations: &[f64], successors: &[Vec<usize>]) -> Vec<f64> {
    let n = durations.len();
    let mut level: Vec<Option<f64>> = vec![None; n];
    // Iterative depth-first post-order: a deep chain must not overflow the stack.
    for start in 0..n {
        let mut stack = vec![(start, 0usize)];
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if level[node].is_some() {
                stack.pop();
                continue;
            }
            if let Some(&child) = successors[node].get(*next) {
                *next += 1;
                if level[child].is_none() {
                    stack.push((child, 0));
                }
                continue;
            }
            let longest = successors[node]
                .iter()
                .filter_map(|&c| level[c])
                .fold(0.0, f64::max);
            level[node] = Some(durations[node] + longest);
            stack.pop();
        }
    }
    level.into_iter().map(|l| l.unwrap_or(0.0)).collect()
}

/// The length of the longest chain: no schedule, however parallel, finishes sooner.
pub fn critical_path(durations: &[f64], successors: &[Vec<usize>]) -> f64 {
    bottom_levels(durations, successors)
        .into_iter()
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_chain_is_what_each_node_heads() {
        // 0 → 1 → 3, 0 → 2 → 3; 4 alone.
        let durations = [1.0, 10.0, 2.0, 5.0, 7.0];
        let successors = vec![vec![1, 2], vec![3], vec![3], vec![], vec![]];
        let levels = bottom_levels(&durations, &successors);
        assert_eq!(levels, vec![16.0, 15.0, 7.0, 5.0, 7.0]);
        assert_eq!(critical_path(&durations, &successors), 16.0);
    }

    #[test]
    fn a_deep_chain_does_not_overflow() {
        let n = 200_000;
        let durations = vec![1.0; n];
        let successors: Vec<Vec<usize>> = (0..n)
            .map(|i| if i + 1 < n { vec![i + 1] } else { vec![] })
            .collect();
        assert_eq!(critical_path(&durations, &successors), n as f64);
    }

    #[test]
    fn slow_kinds_weigh_more_than_quick_ones() {
        assert!(typical_seconds(Kind::DbInstance) > typical_seconds(Kind::LoadBalancer));
        assert!(typical_seconds(Kind::LoadBalancer) > typical_seconds(Kind::MetricAlarm));
    }
}
