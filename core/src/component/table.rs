//! The tables of a stack (DynamoDB tables and their global replicas): their settings in the stack
//! file, what is checked of them beyond what the types say, the resources they expand into and,
//! where they have metrics worth watching, their rows on the dashboard.

use super::monitoring::{metric, Row};
use super::{alarm, AlarmDef, Component, Cx, TOPIC};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum KeyType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl KeyType {
    pub fn as_aws(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttribute {
    pub name: String,
    #[serde(default = "default_key_type", rename = "type")]
    pub key_type: KeyType,
}

fn default_key_type() -> KeyType {
    KeyType::S
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BillingMode {
    OnDemand,
    Provisioned,
}

/// A DynamoDB table, made a global table by its replicas in other regions.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub partition_key: KeyAttribute,
    #[serde(default)]
    pub sort_key: Option<KeyAttribute>,
    #[serde(default = "default_billing")]
    pub billing_mode: BillingMode,
    /// Provisioned capacity units (billing_mode = "provisioned" only).
    #[serde(default)]
    pub read_capacity: Option<u32>,
    #[serde(default)]
    pub write_capacity: Option<u32>,
    #[serde(default = "yes")]
    pub point_in_time_recovery: bool,
    #[serde(default = "yes")]
    pub deletion_protection: bool,
    /// Regions holding a replica (a global table, version 2019.11.21).
    #[serde(default)]
    pub replica_regions: Vec<String>,
    /// Throttled reads or writes per period above which it alarms.
    #[serde(default = "default_throttle")]
    pub throttle_alarm_threshold: u32,
    /// Recovery point objective: the span of acknowledged writes, in seconds, an experiment may
    /// lose (`ftctl chaos` measures it with marker writes) [default: none may be lost].
    #[serde(default)]
    pub rpo_seconds: Option<f64>,
    /// Milliseconds a write may take to reach a replica before it alarms.
    #[serde(default = "default_replication_latency")]
    pub replication_latency_alarm_ms: f64,
    #[serde(default = "five_minute_alarm")]
    pub alarm: AlarmPolicy,
}

fn default_billing() -> BillingMode {
    BillingMode::OnDemand
}
fn default_throttle() -> u32 {
    1
}
fn default_replication_latency() -> f64 {
    60_000.0
}

/// The DynamoDB tables and their replicas.
pub(crate) struct Tables;

impl Component for Tables {
    /// Reports each problem of the stack's tables as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (name, table) in &stack.tables {
            let at = format!("tables.{name}");
            if !valid_component_name(name) {
                bad(
                    at.clone(),
                    "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
                );
            }
            let key_ok = |k: &str| {
                !k.is_empty()
                    && k.len() <= 255
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            };
            if !key_ok(&table.partition_key.name) {
                bad(
                    format!("{at}.partition_key.name"),
                    "1-255 letters, digits, _ - or .".into(),
                );
            }
            if let Some(sort) = &table.sort_key {
                if !key_ok(&sort.name) {
                    bad(
                        format!("{at}.sort_key.name"),
                        "1-255 letters, digits, _ - or .".into(),
                    );
                } else if sort.name == table.partition_key.name {
                    bad(
                        format!("{at}.sort_key.name"),
                        "must differ from the partition key".into(),
                    );
                }
            }
            match table.billing_mode {
                BillingMode::OnDemand => {
                    if table.read_capacity.is_some() || table.write_capacity.is_some() {
                        bad(
                            format!("{at}.read_capacity"),
                            "capacity units apply only with billing_mode = \"provisioned\"".into(),
                        );
                    }
                }
                BillingMode::Provisioned => {
                    for (field, value) in [
                        ("read_capacity", table.read_capacity),
                        ("write_capacity", table.write_capacity),
                    ] {
                        if value.unwrap_or(0) == 0 {
                            bad(
                                format!("{at}.{field}"),
                                "billing_mode = \"provisioned\" needs at least 1 unit".into(),
                            );
                        }
                    }
                    // DynamoDB refuses a replica of a provisioned table whose write capacity is not
                    // auto scaled ("Table write capacity should either be Pay-Per-Request or
                    // AutoScaled"), and ftctl does not auto scale table capacity.
                    if !table.replica_regions.is_empty() {
                        bad(
                            format!("{at}.billing_mode"),
                            "a global table (replica_regions) needs billing_mode = \"on-demand\": \
                             DynamoDB accepts replicas of a provisioned table only with write \
                             capacity auto scaling, which ftctl does not manage"
                                .into(),
                        );
                    }
                }
            }
            let mut seen = BTreeSet::new();
            for (i, region) in table.replica_regions.iter().enumerate() {
                let field = format!("{at}.replica_regions.{i}");
                if !looks_like_region(region) {
                    bad(
                        field,
                        format!("`{region}` is not an AWS region name such as us-west-2"),
                    );
                } else if !seen.insert(region) {
                    bad(field, format!("lists {region} twice"));
                } else if stack.stack.region.as_deref() == Some(region.as_str()) {
                    bad(
                        field,
                        format!(
                            "{region} is the deployment's own region: a replica must be in another region"
                        ),
                    );
                }
            }
            if let Some(rpo) = table
                .rpo_seconds
                .filter(|r| !(r.is_finite() && *r >= 0.0 && *r <= 86_400.0))
            {
                bad(
                    format!("{at}.rpo_seconds"),
                    format!("{rpo} is not a number of seconds from 0 to 86400"),
                );
            }
            if table.replication_latency_alarm_ms <= 0.0 {
                bad(
                    format!("{at}.replication_latency_alarm_ms"),
                    "must be above 0".into(),
                );
            }
            check_policy(bad, &format!("{at}.alarm"), table.alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx { stack, env, .. } = *cx;
        let topic = TOPIC;
        for (name, table) in &stack.tables {
            out.extend(expand_table(env, topic, name, table));
        }
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .tables
            .keys()
            .map(|name| {
                let d = [("TableName", Val::reference(format!("table.{name}"), "name"))];
                let m = |metric_name| metric("AWS/DynamoDB", metric_name, &d);
                Row::new(
                    cx,
                    format!("Table {name}"),
                    vec![
                        (
                            "Consumed read / write",
                            vec![
                                m("ConsumedReadCapacityUnits"),
                                m("ConsumedWriteCapacityUnits"),
                            ],
                            "Sum",
                        ),
                        (
                            "Throttles",
                            vec![m("ReadThrottleEvents"), m("WriteThrottleEvents")],
                            "Sum",
                        ),
                        (
                            "Replication latency",
                            vec![m("ReplicationLatency")],
                            "Average",
                        ),
                    ],
                )
            })
            .collect()
    }
}

fn expand_table(
    env: &str,
    topic: &str,
    name: &str,
    table: &crate::stack::Table,
) -> Vec<ResourceSpec> {
    let mut out = Vec::new();
    let id = format!("table.{name}");
    let key = |k: &crate::stack::KeyAttribute| {
        Val::map([
            ("name", Val::str(&k.name)),
            ("type", Val::str(k.key_type.as_aws())),
        ])
    };
    let mut spec = ResourceSpec::new(&id, Kind::DynamoTable, physical_name(env, name, 255))
        .with("partition_key", key(&table.partition_key))
        .with(
            "sort_key",
            table
                .sort_key
                .as_ref()
                .map(key)
                .unwrap_or(Val::map(Vec::<(String, Val)>::new())),
        )
        .with(
            "point_in_time_recovery",
            Val::Bool(table.point_in_time_recovery),
        )
        .with("deletion_protection", Val::Bool(table.deletion_protection))
        .with("sse", Val::str("KMS"))
        // Streams carry changes to the replicas; a global table needs them.
        .with("stream_view_type", Val::str("NEW_AND_OLD_IMAGES"))
        // Kept as a tag on the table, for `ftctl chaos` to read from the deployment.
        .with(
            "rpo_seconds",
            Val::str(table.rpo_seconds.map(|r| r.to_string()).unwrap_or_default()),
        );
    spec = match table.billing_mode {
        BillingMode::OnDemand => spec.with("billing_mode", Val::str("PAY_PER_REQUEST")),
        BillingMode::Provisioned => spec
            .with("billing_mode", Val::str("PROVISIONED"))
            .with(
                "read_capacity",
                Val::Int(table.read_capacity.unwrap_or(1).into()),
            )
            .with(
                "write_capacity",
                Val::Int(table.write_capacity.unwrap_or(1).into()),
            ),
    };
    out.push(spec);
    let throttle = |what: &str, metric: &'static str| {
        alarm(
            env,
            topic,
            AlarmDef {
                id: format!("alarm.table.{name}.{what}"),
                name_suffix: format!("{name}-table-{what}"),
                description: format!(
                    "Table {name}: more than {} {metric} per period",
                    table.throttle_alarm_threshold
                ),
                namespace: "AWS/DynamoDB",
                metric,
                statistic: "Sum",
                dimensions: vec![("TableName", Val::reference(&id, "name"))],
                comparison: "GreaterThanThreshold",
                threshold: table.throttle_alarm_threshold as f64,
                policy: table.alarm,
                missing: "notBreaching",
            },
        )
    };
    out.push(throttle("read-throttles", "ReadThrottleEvents"));
    out.push(throttle("write-throttles", "WriteThrottleEvents"));
    for region in &table.replica_regions {
        out.push(
            ResourceSpec::new(
                format!("table.{name}.replica.{region}"),
                Kind::TableReplica,
                physical_name(env, name, 255),
            )
            .with("table_name", Val::reference(&id, "name"))
            .with("region", Val::str(region))
            .with(
                "point_in_time_recovery",
                Val::Bool(table.point_in_time_recovery),
            ),
        );
        out.push(
            alarm(
                env,
                topic,
                AlarmDef {
                    id: format!("alarm.table.{name}.replication-latency.{region}"),
                    name_suffix: format!("{name}-table-replication-latency-{region}"),
                    description: format!(
                        "Table {name}: writes take more than {} ms to reach {region}",
                        table.replication_latency_alarm_ms
                    ),
                    namespace: "AWS/DynamoDB",
                    metric: "ReplicationLatency",
                    statistic: "Average",
                    dimensions: vec![
                        ("TableName", Val::reference(&id, "name")),
                        ("ReceivingRegion", Val::str(region)),
                    ],
                    comparison: "GreaterThanThreshold",
                    threshold: table.replication_latency_alarm_ms,
                    policy: table.alarm,
                    missing: "missing",
                },
            )
            // The metric exists only once the replica does.
            .after(format!("table.{name}.replica.{region}")),
        );
    }
    out
}
