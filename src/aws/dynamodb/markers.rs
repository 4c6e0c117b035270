//! The chaos marker writer and reader (items in a DynamoDB table): while an experiment runs, sequence-numbered items go into a
//! table in the deployment's region at a fixed rate; afterwards every region's copy is read until
//! it holds every write DynamoDB acknowledged (or a deadline passes), and the markers are deleted
//! everywhere. What is missing and how long convergence took are judged in the core
//! (`ftctl_core::chaos::markers`).
//!
//! Replicas are read with eventually consistent reads: replication between regions is
//! asynchronous anyway, and a strongly consistent read is only consistent within its own region
//! (Amazon DynamoDB Developer Guide, "Read consistency"). BatchGetItem takes at most 100 keys and
//! BatchWriteItem 25 requests per call, and either may return part of its work unprocessed,
//! which is sent again (DynamoDB API Reference, BatchGetItem / BatchWriteItem).

use crate::aws::sdk::aws_error;
use crate::chaos::markers::{Ack, MarkerKeys, RegionRead, SEQ_ATTR};
use anyhow::Result;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, WriteRequest};
use aws_sdk_dynamodb::Client;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// One table's markers: where they go and every region that holds a copy (home first).
pub struct Target {
    pub keys: MarkerKeys,
    pub regions: Vec<(String, Client)>,
    /// The stack's recovery point objective for the table, when it sets one.
    pub rpo_seconds: Option<f64>,
}

impl Target {
    fn key(&self, run: &str, seq: u64) -> HashMap<String, AttributeValue> {
        let mut key = HashMap::new();
        key.insert(
            self.keys.partition_key.clone(),
            AttributeValue::S(MarkerKeys::partition_value(run, seq)),
        );
        if let Some((name, kind)) = &self.keys.sort_key {
            let value = MarkerKeys::sort_value(kind).to_string();
            key.insert(
                name.clone(),
                if kind == "N" {
                    AttributeValue::N(value)
                } else {
                    AttributeValue::S(value)
                },
            );
        }
        key
    }

    fn seq_of(&self, item: &HashMap<String, AttributeValue>) -> Option<u64> {
        item.get(SEQ_ATTR)?.as_n().ok()?.parse().ok()
    }
}

/// A writer running in the background; `finish` stops it and returns what it wrote.
pub struct Writer {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<(u64, Vec<Ack>)>,
}

impl Writer {
    /// Starts writing marker `0, 1, 2, ...` of run `run` every `interval` seconds; `clock` is
    /// the run's zero, so acknowledgement times line up with the journal's.
    pub fn start(target: Arc<Target>, run: String, interval: f64, clock: Instant) -> Writer {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let home = target.regions[0].1.clone();
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(interval));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let (mut attempted, mut acks) = (0u64, Vec::new());
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stopped.changed() => break,
                }
                let seq = attempted;
                attempted += 1;
                let mut item = target.key(&run, seq);
                item.insert(SEQ_ATTR.into(), AttributeValue::N(seq.to_string()));
                let put = home
                    .put_item()
                    .table_name(&target.keys.table_name)
                    .set_item(Some(item))
                    .send();
                // A write that hangs is not acknowledged; the rate goes on.
                match tokio::time::timeout(Duration::from_secs_f64((interval * 5.0).max(2.0)), put)
                    .await
                {
                    Ok(Ok(_)) => acks.push(Ack {
                        seq,
                        at: clock.elapsed().as_secs_f64(),
                    }),
                    Ok(Err(e)) => {
                        tracing::info!("{:#}", aws_error(&format!("writing marker {seq}"), e))
                    }
                    Err(_) => tracing::info!("writing marker {seq}: no answer in time"),
                }
            }
            (attempted, acks)
        });
        Writer { stop, task }
    }

    pub async fn finish(self) -> (u64, Vec<Ack>) {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or((0, Vec::new()))
    }
}

/// Reads every region until it holds every acknowledged marker or `deadline` passes.
pub async fn read_back(
    target: &Target,
    run: &str,
    acks: &[Ack],
    deadline: Duration,
    clock: Instant,
) -> Vec<RegionRead> {
    let wanted: BTreeSet<u64> = acks.iter().map(|a| a.seq).collect();
    let reads = target.regions.iter().map(|(region, client)| {
        let wanted = wanted.clone();
        async move {
            let started = Instant::now();
            let mut found = BTreeSet::new();
            loop {
                let missing: Vec<u64> = wanted.difference(&found).copied().collect();
                if missing.is_empty() {
                    return RegionRead {
                        region: region.clone(),
                        found,
                        complete_at: Some(clock.elapsed().as_secs_f64()),
                    };
                }
                match fetch(target, client, run, &missing).await {
                    Ok(seen) => found.extend(seen),
                    Err(e) => tracing::warn!("reading markers in {region}: {e:#}"),
                }
                if wanted.is_subset(&found) {
                    continue;
                }
                if started.elapsed() >= deadline {
                    return RegionRead {
                        region: region.clone(),
                        found,
                        complete_at: None,
                    };
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    futures::future::join_all(reads).await
}

/// The markers among `seqs` that `client`'s region holds.
async fn fetch(target: &Target, client: &Client, run: &str, seqs: &[u64]) -> Result<Vec<u64>> {
    let mut seen = Vec::new();
    for chunk in seqs.chunks(100) {
        let mut keys: Vec<HashMap<String, AttributeValue>> =
            chunk.iter().map(|s| target.key(run, *s)).collect();
        // Unprocessed keys (throttling, size) are asked for again, a bounded number of times.
        for _ in 0..5 {
            if keys.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys.clone()))
                .projection_expression("#seq")
                .expression_attribute_names("#seq", SEQ_ATTR)
                .build()?;
            let out = client
                .batch_get_item()
                .request_items(&target.keys.table_name, request)
                .send()
                .await
                .map_err(|e| aws_error("reading markers", e))?;
            if let Some(items) = out.responses().and_then(|r| r.get(&target.keys.table_name)) {
                seen.extend(items.iter().filter_map(|i| target.seq_of(i)));
            }
            keys = out
                .unprocessed_keys()
                .and_then(|u| u.get(&target.keys.table_name))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
        }
    }
    Ok(seen)
}

/// Deletes markers `0..attempted` in every region (a write that timed out may still have
/// landed); returns how many could not be deleted.
pub async fn remove(target: &Target, run: &str, attempted: u64) -> u64 {
    let mut left = 0;
    for (region, client) in &target.regions {
        let seqs: Vec<u64> = (0..attempted).collect();
        for chunk in seqs.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .filter_map(|s| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(target.key(run, *s)))
                        .build()
                        .ok()?;
                    Some(WriteRequest::builder().delete_request(delete).build())
                })
                .collect();
            for _ in 0..5 {
                if requests.is_empty() {
                    break;
                }
                match client
                    .batch_write_item()
                    .request_items(&target.keys.table_name, requests.clone())
                    .send()
                    .await
                {
                    Ok(out) => {
                        requests = out
                            .unprocessed_items()
                            .and_then(|u| u.get(&target.keys.table_name))
                            .cloned()
                            .unwrap_or_default();
                    }
                    Err(e) => {
                        tracing::warn!(
                            "{:#}",
                            aws_error(&format!("removing markers in {region}"), e)
                        );
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            left += requests.len() as u64;
        }
    }
    left
}
