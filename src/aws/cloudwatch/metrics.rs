//! Run metrics published to CloudWatch: how a chaos experiment went (`ftctl/Chaos`) and how an
//! apply went (`ftctl/Deploy`), so dashboards chart them next to the alarms.

use crate::aws::clients::Clients;
use crate::aws::sdk::aws_error;
use crate::chaos::journal::{Journal, Outcome};
use anyhow::Result;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use std::collections::BTreeMap;

/// Publishes the result as custom metrics (namespace `ftctl/Chaos`), per deployment and
/// experiment, so dashboards can chart recovery times next to the alarms.
pub async fn publish_result(clients: &Clients, journal: &Journal) -> Result<()> {
    let dims = vec![
        Dimension::builder()
            .name("Deployment")
            .value(&journal.deployment)
            .build(),
        Dimension::builder()
            .name("Experiment")
            .value(&journal.design.experiment)
            .build(),
    ];
    let mut values: BTreeMap<&str, (f64, StandardUnit)> = BTreeMap::new();
    // A gray failure that held needed no recovery: it counts as a pass.
    let recovered = matches!(journal.outcome, Some(Outcome::Recovered | Outcome::Held));
    values.insert(
        "Recovered",
        (if recovered { 1.0 } else { 0.0 }, StandardUnit::Count),
    );
    if let Some(v) = &journal.verdict {
        if let Some(t) = v.recovered_after {
            values.insert("RecoverySeconds", (t, StandardUnit::Seconds));
        }
        if let Some(t) = v.detected_after {
            values.insert("DetectionSeconds", (t, StandardUnit::Seconds));
        }
        values.insert("BudgetSeconds", (v.budget, StandardUnit::Seconds));
    }
    let data: Vec<MetricDatum> = values
        .into_iter()
        .map(|(name, (value, unit))| {
            MetricDatum::builder()
                .metric_name(name)
                .value(value)
                .unit(unit)
                .set_dimensions(Some(dims.clone()))
                .build()
        })
        .collect();
    clients
        .cloudwatch
        .put_metric_data()
        .namespace("ftctl/Chaos")
        .set_metric_data(Some(data))
        .send()
        .await
        .map_err(|e| aws_error("publishing the result to CloudWatch", e))?;
    Ok(())
}

/// Publishes an apply's duration, size and outcome (namespace `ftctl/Deploy`), so dashboards
/// can show how long changes take next to what they did to the service.
pub async fn publish_apply(
    clients: &Clients,
    deployment: &crate::deployment::Deployment,
    seconds: f64,
    changes: usize,
    succeeded: bool,
) -> Result<()> {
    let dims = vec![
        Dimension::builder()
            .name("Deployment")
            .value(&deployment.env)
            .build(),
        Dimension::builder()
            .name("Stack")
            .value(&deployment.stack)
            .build(),
    ];
    let datum = |name: &str, value: f64, unit: StandardUnit| {
        MetricDatum::builder()
            .metric_name(name)
            .value(value)
            .unit(unit)
            .set_dimensions(Some(dims.clone()))
            .build()
    };
    clients
        .cloudwatch
        .put_metric_data()
        .namespace("ftctl/Deploy")
        .metric_data(datum("ApplySeconds", seconds, StandardUnit::Seconds))
        .metric_data(datum(
            "ResourcesChanged",
            changes as f64,
            StandardUnit::Count,
        ))
        .metric_data(datum(
            "ApplySucceeded",
            if succeeded { 1.0 } else { 0.0 },
            StandardUnit::Count,
        ))
        .send()
        .await
        .map_err(|e| aws_error("publishing the apply's metrics", e))?;
    Ok(())
}
