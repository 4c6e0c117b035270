//! DynamoDB tables: on-demand (or provisioned), KMS-encrypted, point-in-time recovery, deletion
//! protection, and a stream so replicas in other regions can make it a global table.

use super::tags::dynamodb_tags;
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, changed, coded, delete_waiting, error_code, i, observed_from_spec, retry_while,
    s, unix_now, updated_in_place, waiter_error,
};
use crate::deployment::{TAG_REPLICA_OF, TAG_RPO_SECONDS};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    ProvisionedThroughput, ScalarAttributeType, SseSpecification, SseStatus, SseType,
    StreamSpecification, StreamViewType, TableDescription,
};
use std::time::Duration;

/// Every attribute of a dynamodb table: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::DynamoTable,
    &[
        Attr::new("billing_mode"),
        Attr::new("deletion_protection"),
        Attr::new("partition_key").replaces(),
        Attr::new("point_in_time_recovery"),
        Attr::new("read_capacity"),
        Attr::new("rpo_seconds"),
        Attr::new("sort_key").replaces(),
        Attr::new("sse"),
        Attr::new("stream_view_type"),
        Attr::new("write_capacity"),
    ],
);

pub struct TableProvider;

/// DynamoDB operations on a table that is still UPDATING (a replica being added) fail with
/// this code; they succeed once it is ACTIVE again.
pub const TABLE_BUSY: &str = "ResourceInUseException";

pub async fn wait_active(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    region: &str,
) -> Result<()> {
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(3600))
        .await
        .map_err(|e| {
            waiter_error(
                &format!("waiting for table {name} in {region} to become active"),
                e,
            )
        })?;
    Ok(())
}

pub async fn set_point_in_time_recovery(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    region: &str,
    enabled: bool,
) -> Result<()> {
    // Right after a table (or replica) is created, DynamoDB may still refuse continuous
    // backups for a few minutes (ContinuousBackupsUnavailableException): a state to wait out.
    retry_while(
        &["ContinuousBackupsUnavailableException"],
        Duration::from_secs(600),
        || async {
            client
                .update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(enabled)
                        .build()
                        .map_err(|e| (None, e.into()))?,
                )
                .send()
                .await
                .map_err(|e| {
                    coded(
                        &format!("setting point-in-time recovery on {name} in {region}"),
                        e,
                    )
                })
        },
    )
    .await
    .map_err(|(_, e)| e)?;
    Ok(())
}

pub async fn point_in_time_recovery(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<bool> {
    let out = client
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading backups of table {name}"), e))?;
    Ok(out
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| s.as_str() == "ENABLED"))
}

fn key_map(t: &TableDescription, which: KeyType) -> Val {
    let Some(name) = t
        .key_schema()
        .iter()
        .find(|k| k.key_type() == &which)
        .map(|k| k.attribute_name())
    else {
        return Val::map(Vec::<(String, Val)>::new());
    };
    let key_type = t
        .attribute_definitions()
        .iter()
        .find(|a| a.attribute_name() == name)
        .map(|a| a.attribute_type().as_str().to_string())
        .unwrap_or_default();
    Val::map([("name", Val::str(name)), ("type", Val::Str(key_type))])
}

/// A table's key attribute from the spec's `{ name, type }` map, if present.
fn key_of(spec: &ResourceSpec, key: &str) -> Option<(String, ScalarAttributeType)> {
    let m = spec.props.get(key)?.as_map()?;
    let name = m.get("name")?.as_str()?.to_string();
    let t = ScalarAttributeType::from(m.get("type")?.as_str()?);
    Some((name, t))
}

fn sse_spec(spec: &ResourceSpec) -> Result<SseSpecification> {
    let kms = s(spec, "sse")? == "KMS";
    // Disabled means DynamoDB's own key (always encrypted); KMS uses the account's aws/dynamodb key.
    let mut b = SseSpecification::builder().enabled(kms);
    if kms {
        b = b.sse_type(SseType::Kms);
    }
    Ok(b.build())
}

fn stream_spec(spec: &ResourceSpec) -> Result<StreamSpecification> {
    let view = s(spec, "stream_view_type")?;
    Ok(StreamSpecification::builder()
        .stream_enabled(!view.is_empty())
        .set_stream_view_type((!view.is_empty()).then(|| StreamViewType::from(view)))
        .build()?)
}

fn throughput(spec: &ResourceSpec) -> Result<Option<ProvisionedThroughput>> {
    if s(spec, "billing_mode")? != "PROVISIONED" {
        return Ok(None);
    }
    Ok(Some(
        ProvisionedThroughput::builder()
            .read_capacity_units(i(spec, "read_capacity")?)
            .write_capacity_units(i(spec, "write_capacity")?)
            .build()?,
    ))
}

#[async_trait]
impl Provider for TableProvider {
    fn kind(&self) -> Kind {
        Kind::DynamoTable
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let client = &ctx.clients.dynamodb;
        let prefix = ctx.name_prefix();
        let names: Vec<String> = client
            .list_tables()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing DynamoDB tables", e))?;
        let mut found = Vec::new();
        for name in names.iter().filter(|n| n.starts_with(&prefix)) {
            let described = match client.describe_table().table_name(name).send().await {
                Ok(d) => d,
                // Deleted between the listing and now.
                Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => {
                    continue
                }
                Err(e) => return Err(aws_error(&format!("describing table {name}"), e)),
            };
            let Some(t) = described.table() else { continue };
            if t.table_status().is_some_and(|s| s.as_str() == "DELETING") {
                continue;
            }
            let arn = t.table_arn().unwrap_or_default();
            let tags = client
                .list_tags_of_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading tags of {arn}"), e))?;
            // A replica of a table homed in another region is that table's (TableReplica).
            if tags.tags().iter().any(|t| t.key() == TAG_REPLICA_OF) {
                continue;
            }
            let Some((id, stack)) = ctx.owner(tags.tags().iter().map(|t| (t.key(), t.value())))
            else {
                continue;
            };
            let billing = t
                .billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|b| b.as_str().to_string())
                .unwrap_or_else(|| "PROVISIONED".to_string());
            let kms = t.sse_description().is_some_and(|d| {
                matches!(d.status(), Some(SseStatus::Enabled | SseStatus::Enabling))
                    && d.sse_type() == Some(&SseType::Kms)
            });
            let view = t
                .stream_specification()
                .filter(|s| s.stream_enabled())
                .and_then(|s| s.stream_view_type())
                .map(|v| v.as_str().to_string())
                .unwrap_or_default();
            let replicas: Vec<String> = t
                .replicas()
                .iter()
                .filter(|r| r.region_name() != Some(ctx.clients.region.as_str()))
                .filter(|r| r.replica_status().is_none_or(|s| s.as_str() != "DELETING"))
                .filter_map(|r| r.region_name().map(str::to_string))
                .collect();
            let mut o = Observed::new(&id, Kind::DynamoTable, name)
                .prop("partition_key", key_map(t, KeyType::Hash))
                .prop("sort_key", key_map(t, KeyType::Range))
                .prop("billing_mode", Val::Str(billing.clone()))
                .prop("sse", Val::str(if kms { "KMS" } else { "AWS_OWNED" }))
                .prop("stream_view_type", Val::Str(view))
                .prop(
                    "point_in_time_recovery",
                    Val::Bool(point_in_time_recovery(client, name).await?),
                )
                .prop(
                    "deletion_protection",
                    Val::Bool(t.deletion_protection_enabled().unwrap_or(false)),
                )
                .prop(
                    "rpo_seconds",
                    Val::str(
                        tags.tags()
                            .iter()
                            .find(|t| t.key() == TAG_RPO_SECONDS)
                            .map(|t| t.value())
                            .unwrap_or_default(),
                    ),
                )
                .output("name", name)
                .output("arn", arn)
                .output("replica_regions", replicas.join(","));
            if billing == "PROVISIONED" {
                let p = t.provisioned_throughput();
                o = o
                    .prop(
                        "read_capacity",
                        Val::Int(p.and_then(|p| p.read_capacity_units()).unwrap_or(0)),
                    )
                    .prop(
                        "write_capacity",
                        Val::Int(p.and_then(|p| p.write_capacity_units()).unwrap_or(0)),
                    );
            }
            o.name = name.clone();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let client = &ctx.clients.dynamodb;
        let name = spec.name.as_str();
        let mut req = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::from(s(spec, "billing_mode")?))
            .set_provisioned_throughput(throughput(spec)?)
            .sse_specification(sse_spec(spec)?)
            .stream_specification(stream_spec(spec)?)
            .deletion_protection_enabled(b(spec, "deletion_protection")?)
            .set_tags(Some({
                let mut tags = dynamodb_tags(ctx, spec)?;
                tags.extend(rpo_tag(spec));
                tags
            }));
        for (key, key_type) in [
            ("partition_key", KeyType::Hash),
            ("sort_key", KeyType::Range),
        ] {
            if let Some((attr, scalar)) = key_of(spec, key) {
                req = req
                    .attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name(&attr)
                            .attribute_type(scalar)
                            .build()?,
                    )
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(attr)
                            .key_type(key_type)
                            .build()?,
                    );
            }
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating table {name}"), e))?;
        wait_active(client, name, &ctx.clients.region).await?;
        if b(spec, "point_in_time_recovery")? {
            set_point_in_time_recovery(client, name, &ctx.clients.region, true).await?;
        }
        let arn = out
            .table_description()
            .and_then(|t| t.table_arn())
            .unwrap_or_default();
        Ok(observed_from_spec(spec, name)
            .output("name", name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let client = &ctx.clients.dynamodb;
        let name = current.physical_id.as_str();
        let region = ctx.clients.region.as_str();
        let changed = |key: &str| changed(spec, current, key);
        // DynamoDB takes one kind of change per UpdateTable call.
        if changed("billing_mode") || changed("read_capacity") || changed("write_capacity") {
            client
                .update_table()
                .table_name(name)
                .billing_mode(BillingMode::from(s(spec, "billing_mode")?))
                .set_provisioned_throughput(throughput(spec)?)
                .send()
                .await
                .map_err(|e| aws_error(&format!("changing the capacity of table {name}"), e))?;
            wait_active(client, name, region).await?;
        }
        if changed("sse") {
            client
                .update_table()
                .table_name(name)
                .sse_specification(sse_spec(spec)?)
                .send()
                .await
                .map_err(|e| aws_error(&format!("changing the encryption of table {name}"), e))?;
            wait_active(client, name, region).await?;
        }
        if changed("stream_view_type") {
            // DynamoDB changes a stream's view only by turning the stream off and on again (a
            // table with replicas refuses the first step: its AWS error says so).
            let had = current
                .props
                .get("stream_view_type")
                .and_then(Val::as_str)
                .unwrap_or_default();
            if !had.is_empty() && !s(spec, "stream_view_type")?.is_empty() {
                client
                    .update_table()
                    .table_name(name)
                    .stream_specification(
                        StreamSpecification::builder()
                            .stream_enabled(false)
                            .build()?,
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(&format!("turning off the stream of table {name}"), e)
                    })?;
                wait_active(client, name, region).await?;
            }
            client
                .update_table()
                .table_name(name)
                .stream_specification(stream_spec(spec)?)
                .send()
                .await
                .map_err(|e| aws_error(&format!("changing the stream of table {name}"), e))?;
            wait_active(client, name, region).await?;
        }
        if changed("deletion_protection") {
            client
                .update_table()
                .table_name(name)
                .deletion_protection_enabled(b(spec, "deletion_protection")?)
                .send()
                .await
                .map_err(|e| aws_error(&format!("changing deletion protection of {name}"), e))?;
            wait_active(client, name, region).await?;
        }
        if changed("point_in_time_recovery") {
            set_point_in_time_recovery(client, name, region, b(spec, "point_in_time_recovery")?)
                .await?;
        }
        if changed("rpo_seconds") {
            let arn = current.outputs.get("arn").cloned().unwrap_or_default();
            match rpo_tag(spec) {
                Some(tag) => client
                    .tag_resource()
                    .resource_arn(&arn)
                    .tags(tag)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_error(&format!("tagging {name} with its RPO"), e))?,
                None => client
                    .untag_resource()
                    .resource_arn(&arn)
                    .tag_keys(TAG_RPO_SECONDS)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_error(&format!("removing the RPO tag of {name}"), e))?,
            }
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let client = &ctx.clients.dynamodb;
        let name = current.physical_id.clone();
        if ctx.protection_to_lift(current, &format!("table {name}"))? {
            client
                .update_table()
                .table_name(&name)
                .deletion_protection_enabled(false)
                .send()
                .await
                .map_err(|e| aws_error(&format!("turning deletion protection off on {name}"), e))?;
            wait_active(client, &name, &ctx.clients.region).await?;
        }
        // Point-in-time recovery ends with the table; an on-demand backup outlives it.
        if !ctx.delete.skip_final_snapshot {
            let backup = crate::backup::final_name(&name, unix_now() as i64);
            tracing::info!("table {name}: final backup {backup}");
            client
                .create_backup()
                .table_name(&name)
                .backup_name(&backup)
                .send()
                .await
                .map_err(|e| aws_error(&format!("taking final backup {backup} of {name}"), e))?;
        }
        delete_waiting(&[TABLE_BUSY], "ResourceNotFoundException", || async {
            client
                .delete_table()
                .table_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting table {name}"), e))
        })
        .await?;
        client
            .wait_until_table_not_exists()
            .table_name(&name)
            .wait(Duration::from_secs(3600))
            .await
            .map_err(|e| waiter_error(&format!("waiting for table {name} to be deleted"), e))?;
        Ok(())
    }
}

/// The stack's RPO as the table's tag, when it sets one.
fn rpo_tag(spec: &ResourceSpec) -> Option<aws_sdk_dynamodb::types::Tag> {
    let value = spec.props.get("rpo_seconds").and_then(Val::as_str)?;
    if value.is_empty() {
        return None;
    }
    aws_sdk_dynamodb::types::Tag::builder()
        .key(TAG_RPO_SECONDS)
        .value(value)
        .build()
        .ok()
}
