//! The tables of a stack (DynamoDB tables and their global replicas): what is checked beyond what the types say.

use crate::stack::*;
use std::collections::BTreeSet;

/// Reports each problem of the stack's tables as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
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
        if table.replication_latency_alarm_ms <= 0.0 {
            bad(
                format!("{at}.replication_latency_alarm_ms"),
                "must be above 0".into(),
            );
        }
        check_policy(bad, &format!("{at}.alarm"), table.alarm);
    }
}
