//! Lost replication: pause a DynamoDB global table's replication to its replicas in other regions
//! for a while, then resume it, as FIS's `aws:dynamodb:global-table-pause-replication` does — by
//! a resource-policy statement on each replica that denies DynamoDB's replication role what it
//! needs. Nothing is lost, so nothing should need to heal: the verdict is whether steady state
//! held while replication was paused (`verdict::hold`); how long the replicas then took to catch
//! up is measured by the marker writer (`chaos::markers`).
//!
//! AWS facts relied on:
//! - Amazon DynamoDB Developer Guide, "DynamoDB global tables security": replication runs as the
//!   service-linked role `AWSServiceRoleForDynamoDBReplication`; a replica's resource policy that
//!   denies it the permissions of `DynamoDBReplicationServiceRolePolicy` stops replication to and
//!   from that replica (status `REPLICATION_NOT_AUTHORIZED`), and a multi-Region eventually
//!   consistent replica left so for more than 20 hours becomes a single-Region table for good —
//!   which is why a pause here lasts at most an hour and its deny expires by itself.
//! - AWS managed policy reference, `DynamoDBReplicationServiceRolePolicy`: the table actions the
//!   role uses (`DENIED_ACTIONS`).
//! - DynamoDB API Reference, `PutResourcePolicy`: `ExpectedRevisionId` makes the write
//!   conditional (`NO_POLICY` when there is none), a mismatch is `PolicyNotFoundException`, the
//!   document is at most 20 KB, and `GetResourcePolicy` is eventually consistent right after a put.
//! - "Resource-based policy considerations": another update of the same policy is refused for
//!   15 seconds after one succeeds (rollback retries through it).

use super::{Action, Budget, Design, Refusal};
use crate::chaos::Inventory;
use serde_json::{json, Value};

pub const PAUSE_REPLICATION: &str = "pause-replication";
/// FIS actions last at least a minute; a pause is bounded the same way so its export is valid.
pub const MIN_DURATION: u32 = 60;
/// Far inside the 20 hours after which a paused replica is converted for good.
pub const MAX_DURATION: u32 = 3600;
/// How long after the planned end the deny stops applying by itself (its `DateLessThan`
/// condition), should ftctl die before it can take the statement out.
pub const EXPIRY_GRACE_SECONDS: u32 = 60;
/// The statement's id: how rollback finds ftctl's deny among the policy's own statements.
pub const STATEMENT_SID: &str = "FtctlChaosPauseReplication";
/// The resource policy document limit (PutResourcePolicy).
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// The table actions of `DynamoDBReplicationServiceRolePolicy` (stream and auto scaling
/// permissions are not on the table's policy).
pub const DENIED_ACTIONS: [&str; 9] = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:UpdateTable",
    "dynamodb:Scan",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:UpdateTimeToLive",
];

pub fn check(duration: u32) -> Result<(), Refusal> {
    if !(MIN_DURATION..=MAX_DURATION).contains(&duration) {
        return Err(Refusal(format!(
            "{PAUSE_REPLICATION}: --duration {duration} is outside {MIN_DURATION}..={MAX_DURATION} seconds \
             (a replica paused for 20 hours is converted to a single-Region table for good)"
        )));
    }
    Ok(())
}

/// Pauses replication to the named replica regions (every replica when none is named) of the
/// named tables (every global table when none is named).
pub fn design(
    inv: &Inventory,
    tables: &[String],
    regions: &[String],
    duration: u32,
) -> Result<Design, Refusal> {
    check(duration)?;
    let global: Vec<_> = inv
        .tables
        .iter()
        .filter(|t| !t.replicas.is_empty())
        .collect();
    if global.is_empty() {
        return Err(Refusal(format!(
            "deployment {} has no global table (a table with replica_regions) whose replication could be paused",
            inv.env
        )));
    }
    let mut chosen = Vec::new();
    for name in tables {
        let bare = name.strip_prefix("table.").unwrap_or(name);
        match inv
            .tables
            .iter()
            .find(|t| t.name == bare || t.table_name == *name)
        {
            Some(t) if t.replicas.is_empty() => {
                return Err(Refusal(format!(
                "table {bare} has no replica in another region: there is no replication to pause"
            )))
            }
            Some(t) => chosen.push(t),
            None => {
                return Err(Refusal(format!(
                    "no table {bare} in deployment {}; global tables: {}",
                    inv.env,
                    global
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
    }
    if chosen.is_empty() {
        chosen = global;
    }
    let mut actions = Vec::new();
    for t in &chosen {
        for r in &t.replicas {
            if regions.is_empty() || regions.contains(&r.region) {
                actions.push(Action::PauseReplication {
                    table: t.table_name.clone(),
                    region: r.region.clone(),
                    arn: r.arn.clone(),
                    seconds: duration,
                });
            }
        }
    }
    for region in regions {
        if !chosen
            .iter()
            .any(|t| t.replicas.iter().any(|r| &r.region == region))
        {
            return Err(Refusal(format!(
                "no replica in {region}: replicas are in {}",
                chosen
                    .iter()
                    .flat_map(|t| t.replicas.iter().map(|r| r.region.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let names: Vec<&str> = chosen.iter().map(|t| t.name.as_str()).collect();
    Ok(Design {
        experiment: PAUSE_REPLICATION.into(),
        summary: format!(
            "pause replication of table{} {} to {} replica{} for {duration} s, then resume it and \
             measure how long the replicas take to catch up",
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            actions.len(),
            if actions.len() == 1 { "" } else { "s" },
        ),
        zone: None,
        tiers: Vec::new(),
        actions,
        budget: budget(duration),
        warnings: vec![format!(
            "while replication is paused, adding or removing a replica fails and writes in one \
             region are not seen in the others; the deny expires by itself {EXPIRY_GRACE_SECONDS} s \
             after the planned end should ftctl be killed"
        )],
        seed: None,
        steps: Vec::new(),
    })
}

pub fn budget(duration: u32) -> Budget {
    Budget {
        seconds: duration as f64,
        source: "the pause's duration: lost replication is judged over it (steady state must hold), not by a time to recover".into(),
    }
}

/// The alarms a pause is expected to fire: each paused replica's replication-latency alarm.
/// Seeing them fire is the monitoring doing its job, not the deployment degrading, so they are
/// left out of steady state while the pause runs.
pub fn expected_alarms(design: &Design, inv: &Inventory) -> Vec<String> {
    let mut names = Vec::new();
    for a in &design.actions {
        let Action::PauseReplication { table, region, .. } = a else {
            continue;
        };
        let Some(t) = inv.tables.iter().find(|t| &t.table_name == table) else {
            continue;
        };
        let id = format!("alarm.table.{}.replication-latency.{region}", t.name);
        if let Some(alarm) = inv.alarm(&id) {
            names.push(alarm.name.clone());
        }
    }
    names
}

/// The replication service-linked role of the account and partition that own `replica_arn`
/// (`arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME`).
pub fn replication_role(replica_arn: &str) -> Result<String, String> {
    let parts: Vec<&str> = replica_arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "dynamodb", _, account, resource]
            if !partition.is_empty() && !account.is_empty() && resource.starts_with("table/") =>
        {
            Ok(format!(
                "arn:{partition}:iam::{account}:role/aws-service-role/replication.dynamodb.amazonaws.com/AWSServiceRoleForDynamoDBReplication"
            ))
        }
        _ => Err(format!("{replica_arn} is not a DynamoDB table ARN")),
    }
}

/// ftctl's deny: the replication role may not touch the replica until `until` (ISO 8601, UTC).
pub fn deny_statement(replica_arn: &str, until: &str) -> Result<Value, String> {
    Ok(json!({
        "Sid": STATEMENT_SID,
        "Effect": "Deny",
        "Principal": { "AWS": replication_role(replica_arn)? },
        "Action": DENIED_ACTIONS,
        "Resource": replica_arn,
        "Condition": { "DateLessThan": { "aws:CurrentTime": until } },
    }))
}

/// The policy's statements as a list (a policy may hold a single statement object).
fn statements(policy: &Value) -> Vec<Value> {
    match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn is_ours(statement: &Value) -> bool {
    statement.get("Sid").and_then(Value::as_str) == Some(STATEMENT_SID)
}

fn parse(policy: &str) -> Result<Value, String> {
    serde_json::from_str(policy)
        .map_err(|e| format!("the replica's resource policy is not JSON: {e}"))
}

/// The policy with ftctl's deny added to what is there (an earlier ftctl deny is replaced).
pub fn with_deny(current: Option<&str>, statement: Value) -> Result<String, String> {
    let mut doc = match current {
        Some(text) => parse(text)?,
        None => json!({ "Version": "2012-10-17" }),
    };
    let mut list: Vec<Value> = statements(&doc)
        .into_iter()
        .filter(|s| !is_ours(s))
        .collect();
    list.push(statement);
    let Some(obj) = doc.as_object_mut() else {
        return Err("the replica's resource policy is not a JSON object".into());
    };
    obj.insert("Statement".into(), Value::Array(list));
    let text = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
    if text.len() > MAX_POLICY_BYTES {
        return Err(format!(
            "the replica's resource policy with the deny added would be {} bytes, over DynamoDB's 20 KB limit",
            text.len()
        ));
    }
    Ok(text)
}

/// Whether the policy holds ftctl's deny.
pub fn denies(current: &str) -> bool {
    parse(current).is_ok_and(|doc| statements(&doc).iter().any(is_ours))
}

/// The policy without ftctl's deny: `None` when nothing else is left (the policy is deleted, as
/// before the pause when the replica had none). Statements others added meanwhile are kept.
pub fn without_deny(current: &str) -> Result<Option<String>, String> {
    let mut doc = parse(current)?;
    let rest: Vec<Value> = statements(&doc)
        .into_iter()
        .filter(|s| !is_ours(s))
        .collect();
    if rest.is_empty() {
        return Ok(None);
    }
    let Some(obj) = doc.as_object_mut() else {
        return Err("the replica's resource policy is not a JSON object".into());
    };
    obj.insert("Statement".into(), Value::Array(rest));
    serde_json::to_string(&doc)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// FIS's own action for the same fault, on the replicas' tables chosen by ARN (FIS Actions
/// reference, "Amazon DynamoDB actions": `aws:dynamodb:global-table-pause-replication`, target
/// `Tables` of resource type `aws:dynamodb:global-table`, parameter `duration`). FIS pauses
/// replication into and out of the Region the experiment runs in, for tables there: the
/// template must be created in the replica's Region (the description says so).
pub fn fis(
    design: &Design,
    duration: f64,
    targets: &mut serde_json::Map<String, Value>,
    actions: &mut serde_json::Map<String, Value>,
) {
    let arns: Vec<&str> = design
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::PauseReplication { arn, .. } => Some(arn.as_str()),
            _ => None,
        })
        .collect();
    if arns.is_empty() {
        return;
    }
    targets.insert(
        "replica-tables".into(),
        json!({
            "resourceType": "aws:dynamodb:global-table",
            "resourceArns": arns,
            "selectionMode": "ALL",
        }),
    );
    actions.insert(
        "pause-replication".into(),
        json!({
            "actionId": "aws:dynamodb:global-table-pause-replication",
            "description": "Pause replication to the replicas: create this template in their Region",
            "parameters": { "duration": crate::chaos::fis::iso_duration(duration) },
            "targets": { "Tables": "replica-tables" },
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::{fixtures, Replica};

    const REPLICA: &str = fixtures::ORDERS_REPLICA;

    fn with_orders() -> Inventory {
        let mut inv = fixtures::inventory();
        let mut local = fixtures::orders_table();
        local.name = "local".into();
        local.table_name = "t-local".into();
        local.replicas.clear();
        inv.tables = vec![fixtures::orders_table(), local];
        inv
    }

    #[test]
    fn pauses_every_replica_of_the_global_tables_and_refuses_what_cannot_be_paused() {
        let inv = with_orders();
        let d = design(&inv, &[], &[], 120).unwrap();
        assert_eq!(d.experiment, PAUSE_REPLICATION);
        assert_eq!(
            d.actions,
            vec![Action::PauseReplication {
                table: "t-orders".into(),
                region: "us-west-2".into(),
                arn: REPLICA.into(),
                seconds: 120,
            }]
        );
        assert_eq!(d.budget.seconds, 120.0);
        assert_eq!(
            design(&inv, &["table.orders".into()], &["us-west-2".into()], 120)
                .unwrap()
                .actions,
            d.actions
        );
        let refused = |tables: &[&str], regions: &[&str], seconds: u32| {
            let t: Vec<String> = tables.iter().map(|s| s.to_string()).collect();
            let r: Vec<String> = regions.iter().map(|s| s.to_string()).collect();
            design(&inv, &t, &r, seconds).unwrap_err().0
        };
        assert!(refused(&["local"], &[], 120).contains("no replica"));
        assert!(refused(&["nope"], &[], 120).contains("global tables: orders"));
        assert!(refused(&[], &["eu-west-1"], 120).contains("replicas are in us-west-2"));
        assert!(refused(&[], &[], 30).contains("outside 60..=3600"));
        assert!(refused(&[], &[], 7200).contains("outside 60..=3600"));
        let mut none = with_orders();
        none.tables.retain(|t| t.replicas.is_empty());
        assert!(design(&none, &[], &[], 120)
            .unwrap_err()
            .0
            .contains("no global table"));
    }

    #[test]
    fn the_paused_replicas_latency_alarms_are_expected_to_fire() {
        let mut inv = with_orders();
        inv.alarms.push(crate::chaos::Alarm {
            logical_id: "alarm.table.orders.replication-latency.us-west-2".into(),
            name: "t-orders-table-replication-latency-us-west-2".into(),
            arn: String::new(),
            window_seconds: 300,
        });
        let d = design(&inv, &[], &[], 120).unwrap();
        assert_eq!(
            expected_alarms(&d, &inv),
            vec!["t-orders-table-replication-latency-us-west-2".to_string()]
        );
    }

    #[test]
    fn the_deny_names_the_accounts_replication_role_and_expires() {
        let s = deny_statement(REPLICA, "2026-12-02T10:00:00Z").unwrap();
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(
            s["Principal"]["AWS"],
            "arn:aws:iam::123456789012:role/aws-service-role/replication.dynamodb.amazonaws.com/AWSServiceRoleForDynamoDBReplication"
        );
        assert_eq!(s["Resource"], REPLICA);
        assert_eq!(
            s["Condition"]["DateLessThan"]["aws:CurrentTime"],
            "2026-12-02T10:00:00Z"
        );
        assert!(s["Action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "dynamodb:PutItem"));
        let china = replication_role("arn:aws-cn:dynamodb:cn-north-1:1:table/x").unwrap();
        assert!(china.starts_with("arn:aws-cn:iam::1:role/"), "{china}");
        assert!(replication_role("arn:aws:s3:::bucket").is_err());
    }

    #[test]
    fn rollback_puts_back_the_policy_that_was_there() {
        let deny = deny_statement(REPLICA, "2026-12-02T10:00:00Z").unwrap();
        // No policy before: none after.
        let paused = with_deny(None, deny.clone()).unwrap();
        assert!(denies(&paused));
        assert_eq!(without_deny(&paused).unwrap(), None);

        // The owner's statements (one object, not a list) survive, and only they are left.
        let own = r#"{"Version":"2012-10-17","Statement":{"Sid":"Readers","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/reader"},"Action":"dynamodb:GetItem","Resource":"*"}}"#;
        let paused = with_deny(Some(own), deny.clone()).unwrap();
        assert!(denies(&paused) && !denies(own));
        let back: Value = serde_json::from_str(&without_deny(&paused).unwrap().unwrap()).unwrap();
        let before: Value = serde_json::from_str(own).unwrap();
        assert_eq!(back["Statement"], json!([before["Statement"]]));
        assert_eq!(back["Version"], "2012-10-17");

        // Pausing twice keeps one deny.
        let twice = with_deny(Some(&paused), deny).unwrap();
        let doc: Value = serde_json::from_str(&twice).unwrap();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 2);

        assert!(with_deny(Some("not json"), json!({})).is_err());
        let huge = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow"}}]}}"#,
            "x".repeat(21 * 1024)
        );
        assert!(with_deny(Some(&huge), json!({}))
            .unwrap_err()
            .contains("20 KB"));
    }

    #[test]
    fn the_inventory_finds_tables_and_their_replicas() {
        use crate::resource::{Kind, Observed, Val};
        let key = |n: &str| Val::map([("name", Val::str(n)), ("type", Val::str("S"))]);
        let observed = vec![
            Observed::new(
                "table.orders.replica.us-west-2",
                Kind::TableReplica,
                REPLICA,
            ),
            Observed::new("table.orders", Kind::DynamoTable, "t-orders")
                .prop("partition_key", key("pk"))
                .prop("sort_key", Val::map(Vec::<(String, Val)>::new()))
                .output(
                    "arn",
                    "arn:aws:dynamodb:us-east-1:123456789012:table/t-orders",
                ),
        ];
        let inv = Inventory::from_observed("t", &observed);
        assert_eq!(inv.tables.len(), 1);
        let t = &inv.tables[0];
        assert_eq!(
            (t.name.as_str(), t.table_name.as_str()),
            ("orders", "t-orders")
        );
        assert_eq!(t.partition_key.name, "pk");
        assert_eq!(t.sort_key, None);
        assert_eq!(
            t.replicas,
            vec![Replica {
                region: "us-west-2".into(),
                arn: REPLICA.into()
            }]
        );
    }
}
