//! RPO measured, not estimated: during an experiment a writer puts sequence-numbered marker items
//! into a table at a fixed rate; afterwards each region's copy is read back, and what is missing
//! there of what DynamoDB acknowledged is the data that region lost. This is the pure part: the
//! markers' keys and the verdict over what was written and what was found. The writer and the
//! reader are `ftctl::chaos::markers`.

use super::Table;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The attribute every marker carries its sequence number in, beside the table's keys.
pub const SEQ_ATTR: &str = "ftctl_marker_seq";
/// The sort key value of markers on a table with a sort key.
pub const SORT_VALUE: &str = "ftctl-marker";

/// Where markers go in one table: a partition key per marker (no hot partition), and a fixed
/// sort key when the table has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkerKeys {
    pub table_name: String,
    pub partition_key: String,
    /// The sort key's name and type (`S` or `N`), when the table has one.
    pub sort_key: Option<(String, String)>,
}

impl MarkerKeys {
    /// Markers need a text partition key (a number or binary key would need a value scheme
    /// that cannot collide with the application's); the reason otherwise.
    pub fn for_table(t: &Table) -> Result<MarkerKeys, String> {
        if t.partition_key.kind != "S" {
            return Err(format!(
                "table {}: its partition key {} is of type {}, not a string: no markers are written",
                t.name, t.partition_key.name, t.partition_key.kind
            ));
        }
        let sort_key = match &t.sort_key {
            None => None,
            Some(k) if k.kind == "S" || k.kind == "N" => Some((k.name.clone(), k.kind.clone())),
            Some(k) => {
                return Err(format!(
                    "table {}: its sort key {} is binary: no markers are written",
                    t.name, k.name
                ))
            }
        };
        Ok(MarkerKeys {
            table_name: t.table_name.clone(),
            partition_key: t.partition_key.name.clone(),
            sort_key,
        })
    }

    /// The partition key value of marker `seq` of run `run`.
    pub fn partition_value(run: &str, seq: u64) -> String {
        format!("ftctl-marker#{run}#{seq:08}")
    }

    /// The sort key value in the table's type (`0` for a number).
    pub fn sort_value(kind: &str) -> &'static str {
        if kind == "N" {
            "0"
        } else {
            SORT_VALUE
        }
    }
}

/// One write DynamoDB acknowledged: its sequence number and when (seconds into the run).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub seq: u64,
    pub at: f64,
}

/// What one region held of the acknowledged markers, and when it first held all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionRead {
    pub region: String,
    pub found: BTreeSet<u64>,
    /// Seconds into the run when every acknowledged marker was first seen there.
    pub complete_at: Option<f64>,
}

/// One region's loss and convergence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionLoss {
    pub region: String,
    /// Acknowledged markers not there when the read-back gave up.
    pub missing: u64,
    /// The span of acknowledged writes missing, in seconds (one write interval for a single
    /// missing marker): the region's recovery point, measured.
    pub lost_seconds: f64,
    /// Seconds from the end of the fault until the region held every acknowledged marker.
    pub converged_after: Option<f64>,
}

/// What the markers showed for one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkerReport {
    pub table: String,
    /// Writes attempted and writes DynamoDB acknowledged (a refused write is not data lost).
    pub attempted: u64,
    pub acknowledged: u64,
    pub regions: Vec<RegionLoss>,
    /// The worst region's lost span.
    pub rpo_seconds: f64,
    /// The objective it is held to, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_objective: Option<f64>,
    /// Markers that could not be removed afterwards (their keys start `ftctl-marker#`).
    #[serde(default)]
    pub left_behind: u64,
}

impl MarkerReport {
    /// Whether the loss is within the objective (no objective: any loss is a failure).
    pub fn within_objective(&self) -> bool {
        match self.rpo_objective {
            Some(objective) => self.rpo_seconds <= objective,
            None => self.regions.iter().all(|r| r.missing == 0),
        }
    }

    pub fn describe(&self) -> String {
        let regions: Vec<String> = self
            .regions
            .iter()
            .map(|r| {
                let converged = match r.converged_after {
                    Some(s) => format!("caught up {s:.1} s after the fault ended"),
                    None => "never caught up".to_string(),
                };
                if r.missing == 0 {
                    format!("{}: nothing lost, {converged}", r.region)
                } else {
                    format!(
                        "{}: {} acknowledged write{} lost ({:.1} s of writes), {converged}",
                        r.region,
                        r.missing,
                        if r.missing == 1 { "" } else { "s" },
                        r.lost_seconds
                    )
                }
            })
            .collect();
        format!(
            "table {}: {} of {} marker writes acknowledged; {}{}",
            self.table,
            self.acknowledged,
            self.attempted,
            regions.join("; "),
            match self.rpo_objective {
                Some(o) => format!(
                    " (RPO {:.1} s against an objective of {o} s)",
                    self.rpo_seconds
                ),
                None => format!(" (RPO {:.1} s)", self.rpo_seconds),
            }
        )
    }
}

/// The verdict over the markers: per region, what of the acknowledged writes is missing, the
/// span it covers, and how long after `fault_ended_at` the region held everything.
pub fn assess(
    table: &str,
    attempted: u64,
    acks: &[Ack],
    reads: &[RegionRead],
    interval: f64,
    fault_ended_at: f64,
    rpo_objective: Option<f64>,
) -> MarkerReport {
    let regions: Vec<RegionLoss> = reads
        .iter()
        .map(|r| {
            let missing: Vec<&Ack> = acks.iter().filter(|a| !r.found.contains(&a.seq)).collect();
            let lost_seconds = match (missing.first(), missing.last()) {
                (Some(first), Some(last)) => last.at - first.at + interval,
                _ => 0.0,
            };
            RegionLoss {
                region: r.region.clone(),
                missing: missing.len() as u64,
                lost_seconds,
                converged_after: r
                    .complete_at
                    .filter(|_| missing.is_empty())
                    .map(|at| (at - fault_ended_at).max(0.0)),
            }
        })
        .collect();
    MarkerReport {
        table: table.to_string(),
        attempted,
        acknowledged: acks.len() as u64,
        rpo_seconds: regions.iter().map(|r| r.lost_seconds).fold(0.0, f64::max),
        regions,
        rpo_objective,
        left_behind: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::KeyAttr;

    fn acks(n: u64) -> Vec<Ack> {
        (0..n)
            .map(|seq| Ack {
                seq,
                at: seq as f64 * 0.2,
            })
            .collect()
    }

    #[test]
    fn a_region_missing_acknowledged_writes_lost_their_span() {
        let written = acks(20);
        let all: BTreeSet<u64> = (0..20).collect();
        let mut partial = all.clone();
        for seq in 5..=9 {
            partial.remove(&seq);
        }
        let reads = vec![
            RegionRead {
                region: "us-east-1".into(),
                found: all,
                complete_at: Some(4.0),
            },
            RegionRead {
                region: "us-west-2".into(),
                found: partial,
                complete_at: None,
            },
        ];
        let r = assess("orders", 22, &written, &reads, 0.2, 3.0, Some(0.5));
        assert_eq!(r.acknowledged, 20);
        assert_eq!(r.regions[0].missing, 0);
        assert_eq!(r.regions[0].converged_after, Some(1.0));
        assert_eq!(r.regions[1].missing, 5);
        // Writes 5..=9 span 0.8 s, plus the interval the last one stands for.
        assert!((r.regions[1].lost_seconds - 1.0).abs() < 1e-9, "{r:?}");
        assert_eq!(r.regions[1].converged_after, None);
        assert!((r.rpo_seconds - 1.0).abs() < 1e-9);
        assert!(!r.within_objective());
        assert!(
            r.describe().contains("5 acknowledged writes lost"),
            "{}",
            r.describe()
        );

        let clean = assess("orders", 20, &written, &reads[..1], 0.2, 3.0, None);
        assert_eq!(clean.rpo_seconds, 0.0);
        assert!(clean.within_objective());
    }

    #[test]
    fn markers_need_a_text_partition_key() {
        let mut t = Table {
            name: "orders".into(),
            table_name: "t-orders".into(),
            arn: String::new(),
            partition_key: KeyAttr {
                name: "pk".into(),
                kind: "S".into(),
            },
            sort_key: Some(KeyAttr {
                name: "sk".into(),
                kind: "N".into(),
            }),
            replicas: Vec::new(),
            rpo_seconds: None,
        };
        let keys = MarkerKeys::for_table(&t).unwrap();
        assert_eq!(keys.sort_key, Some(("sk".into(), "N".into())));
        assert_eq!(MarkerKeys::sort_value("N"), "0");
        assert_eq!(
            MarkerKeys::partition_value("r1", 7),
            "ftctl-marker#r1#00000007"
        );
        t.partition_key.kind = "N".into();
        assert!(MarkerKeys::for_table(&t)
            .unwrap_err()
            .contains("not a string"));
    }
}
