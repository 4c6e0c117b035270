//! The state of the deployment's CloudWatch alarms: where each lives (its own region, or
//! us-east-1 for a Route 53 health check's), which are firing now, and their recent changes.

use crate::aws::clients::Clients;
use crate::aws::sdk::aws_error;
use crate::chaos::Inventory;
use anyhow::Result;
use aws_sdk_cloudwatch::types::StateValue;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Where a deployment's alarms live: its own region, or for the Route 53 health check's alarm
/// of a deployment outside us-east-1, us-east-1 (the region its ARN names).
#[derive(Clone)]
pub struct AlarmPlaces {
    home: Arc<Clients>,
    remote: Option<Arc<Clients>>,
    remote_names: BTreeSet<String>,
}

impl AlarmPlaces {
    pub fn new(cloud: &crate::aws::cloud::AwsCloud, inventory: &Inventory) -> AlarmPlaces {
        let remote_names = match &cloud.remote {
            Some(remote) => inventory
                .alarms
                .iter()
                .filter(|a| a.arn.split(':').nth(3) == Some(remote.region.as_str()))
                .map(|a| a.name.clone())
                .collect(),
            None => BTreeSet::new(),
        };
        AlarmPlaces {
            home: cloud.clients.clone(),
            remote: cloud.remote.clone(),
            remote_names,
        }
    }

    /// `names` in batches of at most 100 (DescribeAlarms' limit), each with the client of the
    /// region its alarms live in.
    pub(crate) fn batches<'a>(
        &'a self,
        names: &[String],
    ) -> Vec<(&'a aws_sdk_cloudwatch::Client, Vec<String>)> {
        let (far, near): (Vec<String>, Vec<String>) = names
            .iter()
            .cloned()
            .partition(|n| self.remote_names.contains(n));
        let mut out = Vec::new();
        for chunk in near.chunks(100) {
            out.push((&self.home.cloudwatch, chunk.to_vec()));
        }
        if let Some(remote) = &self.remote {
            for chunk in far.chunks(100) {
                out.push((&remote.cloudwatch, chunk.to_vec()));
            }
        }
        out
    }
}

/// An alarm in state ALARM, with CloudWatch's reason.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FiringAlarm {
    pub name: String,
    pub reason: String,
    /// Seconds since the Unix epoch when it last changed state.
    pub since: Option<i64>,
}

/// The alarms among `names` that are in ALARM now.
pub async fn firing(places: &AlarmPlaces, names: &[String]) -> Result<Vec<FiringAlarm>> {
    let mut out = Vec::new();
    for (cloudwatch, chunk) in places.batches(names) {
        let page = cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk))
            .state_value(StateValue::Alarm)
            .send()
            .await
            .map_err(|e| aws_error("reading alarm states", e))?;
        out.extend(
            page.metric_alarms()
                .iter()
                .filter(|a| a.state_value() == Some(&StateValue::Alarm))
                .map(|a| FiringAlarm {
                    name: a.alarm_name().unwrap_or_default().to_string(),
                    reason: a.state_reason().unwrap_or_default().to_string(),
                    since: a.state_updated_timestamp().map(|t| t.secs()),
                }),
        );
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One recorded change of an alarm's state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlarmChange {
    pub name: String,
    pub at: Option<i64>,
    pub summary: String,
}

/// The latest state changes of the alarms among `names`, newest first.
pub async fn alarm_history(
    places: &AlarmPlaces,
    names: &[String],
    limit: usize,
) -> Result<Vec<AlarmChange>> {
    let mut items = Vec::new();
    let mut regions = vec![&places.home];
    regions.extend(
        places
            .remote
            .iter()
            .filter(|_| !places.remote_names.is_empty()),
    );
    for clients in regions {
        let page = clients
            .cloudwatch
            .describe_alarm_history()
            .history_item_type(aws_sdk_cloudwatch::types::HistoryItemType::StateUpdate)
            .max_records(100)
            .send()
            .await
            .map_err(|e| aws_error("reading alarm history", e))?;
        items.extend(page.alarm_history_items().to_vec());
    }
    let mut out: Vec<AlarmChange> = items
        .iter()
        .filter(|h| h.alarm_name().is_some_and(|n| names.iter().any(|m| m == n)))
        // An update to the same state is an evaluation, not a change (some endpoints record
        // those too).
        .filter(|h| {
            let summary = h.history_summary().unwrap_or_default();
            summary
                .split_once(" from ")
                .and_then(|(_, rest)| rest.split_once(" to "))
                .is_none_or(|(from, to)| from.trim() != to.trim())
        })
        .map(|h| AlarmChange {
            name: h.alarm_name().unwrap_or_default().to_string(),
            at: h.timestamp().map(|t| t.secs()),
            summary: h.history_summary().unwrap_or_default().to_string(),
        })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.at));
    out.truncate(limit);
    Ok(out)
}
