//! Replicas of a DynamoDB table in other regions (global tables, version 2019.11.21). Added and
//! removed through the table in the deployment's region; read, tagged and given point-in-time
//! recovery in their own region, so nothing ftctl made there goes unseen.

use super::table::{point_in_time_recovery, set_point_in_time_recovery, wait_active, TABLE_BUSY};
use super::tags::dynamodb_tags;
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, coded, error_code, observed_from_spec, retry_while, s, updated_in_place,
    waiter_error,
};
use crate::deployment::TAG_REPLICA_OF;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    CreateReplicationGroupMemberAction, DeleteReplicationGroupMemberAction, ReplicationGroupUpdate,
};
use std::time::Duration;

/// Every attribute of a dynamodb table replica: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::TableReplica,
    &[
        Attr::new("point_in_time_recovery"),
        Attr::new("region").replaces(),
        Attr::new("table_name").replaces(),
    ],
);

pub struct TableReplicaProvider;

/// Adding or removing a replica needs the table ACTIVE; only one such change runs at a time.
const REPLICA_CHANGE_WAIT: Duration = Duration::from_secs(3600);

#[async_trait]
impl Provider for TableReplicaProvider {
    fn kind(&self) -> Kind {
        Kind::TableReplica
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::DynamoTable]
    }

    /// Replicas are found through the deployment's tables (their replica list), then read in
    /// their own region.
    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for table in found.iter().filter(|o| o.kind == Kind::DynamoTable) {
            let regions = table
                .outputs
                .get("replica_regions")
                .map(|r| r.split(',').filter(|r| !r.is_empty()).collect::<Vec<_>>())
                .unwrap_or_default();
            for region in regions {
                let client = ctx.clients.dynamodb_in(region);
                let name = table.physical_id.as_str();
                let described = match client.describe_table().table_name(name).send().await {
                    Ok(d) => d,
                    Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => {
                        continue
                    }
                    Err(e) => {
                        return Err(aws_error(
                            &format!("describing table {name} in {region}"),
                            e,
                        ))
                    }
                };
                let arn = described
                    .table()
                    .and_then(|t| t.table_arn())
                    .unwrap_or_default();
                let mut o = Observed::new(
                    &format!("{}.replica.{region}", table.id),
                    Kind::TableReplica,
                    arn,
                )
                .prop("table_name", Val::str(name))
                .prop("region", Val::str(region))
                .prop(
                    "point_in_time_recovery",
                    Val::Bool(point_in_time_recovery(&client, name).await?),
                )
                .output("arn", arn)
                .output("region", region);
                o.name = name.to_string();
                o.stack = table.stack.clone();
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let name = s(spec, "table_name")?;
        let region = s(spec, "region")?;
        let home = &ctx.clients.dynamodb;
        let update = ReplicationGroupUpdate::builder()
            .create(
                CreateReplicationGroupMemberAction::builder()
                    .region_name(region)
                    .build()?,
            )
            .build();
        retry_while(&[TABLE_BUSY], REPLICA_CHANGE_WAIT, || async {
            home.update_table()
                .table_name(name)
                .replica_updates(update.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("adding a replica of {name} in {region}"), e))
        })
        .await
        .map_err(|(_, e)| e)?;
        let remote = ctx.clients.dynamodb_in(region);
        wait_active(&remote, name, region).await?;
        wait_active(home, name, &ctx.clients.region).await?;
        let arn = remote
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| aws_error(&format!("describing table {name} in {region}"), e))?
            .table()
            .and_then(|t| t.table_arn())
            .unwrap_or_default()
            .to_string();
        // Tags are not copied to replicas: tag it so it is recognisable in its own region, and
        // as a replica, so a run in that region does not take it for a table of its own.
        let mut tags = dynamodb_tags(ctx, spec)?;
        tags.push(
            aws_sdk_dynamodb::types::Tag::builder()
                .key(TAG_REPLICA_OF)
                .value(&ctx.clients.region)
                .build()?,
        );
        remote
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(&format!("tagging {arn}"), e))?;
        if b(spec, "point_in_time_recovery")? {
            set_point_in_time_recovery(&remote, name, region, true).await?;
        }
        Ok(observed_from_spec(spec, &arn)
            .output("arn", &arn)
            .output("region", region))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let name = s(spec, "table_name")?;
        let region = s(spec, "region")?;
        let remote = ctx.clients.dynamodb_in(region);
        set_point_in_time_recovery(&remote, name, region, b(spec, "point_in_time_recovery")?)
            .await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current
            .props
            .get("table_name")
            .and_then(Val::as_str)
            .unwrap_or(&current.name)
            .to_string();
        let region = current
            .props
            .get("region")
            .and_then(Val::as_str)
            .ok_or_else(|| anyhow!("replica {}: region unknown", current.physical_id))?
            .to_string();
        let home = &ctx.clients.dynamodb;
        let update = ReplicationGroupUpdate::builder()
            .delete(
                DeleteReplicationGroupMemberAction::builder()
                    .region_name(&region)
                    .build()?,
            )
            .build();
        match retry_while(&[TABLE_BUSY], REPLICA_CHANGE_WAIT, || async {
            home.update_table()
                .table_name(&name)
                .replica_updates(update.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("removing the replica of {name} in {region}"), e))
        })
        .await
        {
            Ok(()) => {}
            Err((Some(code), _)) if code == "ResourceNotFoundException" => return Ok(()),
            Err((_, e)) => return Err(e),
        }
        ctx.clients
            .dynamodb_in(&region)
            .wait_until_table_not_exists()
            .table_name(&name)
            .wait(REPLICA_CHANGE_WAIT)
            .await
            .map_err(|e| {
                waiter_error(
                    &format!("waiting for the replica of {name} in {region} to go"),
                    e,
                )
            })?;
        wait_active(home, &name, &ctx.clients.region).await
    }
}
