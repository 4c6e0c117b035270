//! DocumentDB instances: the writer and the replicas of a cluster, one per zone in turn. Storage,
//! encryption, network and backups are the cluster's; an instance has its class, its zone and
//! the order in which failover promotes it (DocumentDB Developer Guide, "Amazon DocumentDB
//! failover": the lowest promotion tier first).

use super::tags::{docdb_only, docdb_owner, docdb_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, changed, error_code, i, observed_from_spec, s, waiter_error};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_docdb::client::Waiters;
use std::time::Duration;

/// Every attribute of a docdb instance; its cluster and zone are fixed at creation
/// (CloudFormation AWS::DocDB::DBInstance, create-only properties).
static SCHEMA: Schema = Schema::new(
    Kind::DocdbInstance,
    &[
        Attr::new("availability_zone").replaces(),
        Attr::new("cluster").replaces(),
        Attr::new("instance_class"),
        Attr::new("promotion_tier"),
    ],
);

pub struct DocdbInstanceProvider;

const WAIT: Duration = Duration::from_secs(3600);

async fn wait_available(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    ctx.clients
        .docdb
        .wait_until_db_instance_available()
        .db_instance_identifier(id)
        .wait(WAIT)
        .await
        .map_err(|e| {
            waiter_error(
                &format!("waiting for document database instance {id} to become available"),
                e,
            )
        })?;
    Ok(())
}

#[async_trait]
impl Provider for DocdbInstanceProvider {
    fn kind(&self) -> Kind {
        Kind::DocdbInstance
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = ctx.name_prefix();
        let instances: Vec<_> = ctx
            .clients
            .docdb
            .describe_db_instances()
            .filters(docdb_only())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing document database instances", e))?;
        let mut found = Vec::new();
        for db in instances {
            let name = db.db_instance_identifier().unwrap_or_default();
            if db.engine() != Some("docdb")
                || !name.starts_with(&prefix)
                || db.db_instance_status() == Some("deleting")
            {
                continue;
            }
            let arn = db.db_instance_arn().unwrap_or_default();
            let Some((id, stack)) = docdb_owner(ctx, arn).await? else {
                continue;
            };
            let mut o = Observed::new(&id, Kind::DocdbInstance, name)
                .prop(
                    "cluster",
                    Val::str(db.db_cluster_identifier().unwrap_or_default()),
                )
                .prop(
                    "instance_class",
                    Val::str(db.db_instance_class().unwrap_or_default()),
                )
                .prop(
                    "availability_zone",
                    Val::str(db.availability_zone().unwrap_or_default()),
                )
                .prop(
                    "promotion_tier",
                    Val::Int(db.promotion_tier().unwrap_or(1).into()),
                )
                .output("name", name)
                .output("arn", arn);
            o.name = name.to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let id = spec.name.as_str();
        let out = ctx
            .clients
            .docdb
            .create_db_instance()
            .db_instance_identifier(id)
            .engine("docdb")
            .db_cluster_identifier(s(spec, "cluster")?)
            .db_instance_class(s(spec, "instance_class")?)
            .availability_zone(s(spec, "availability_zone")?)
            .promotion_tier(i(spec, "promotion_tier")? as i32)
            .set_tags(Some(docdb_tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating document database instance {id}"), e))?;
        wait_available(ctx, id).await?;
        let arn = out
            .db_instance()
            .and_then(|d| d.db_instance_arn())
            .unwrap_or_default();
        Ok(observed_from_spec(spec, id)
            .output("name", id)
            .output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let id = current.physical_id.as_str();
        let mut req = ctx
            .clients
            .docdb
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(true);
        // A new class restarts the instance (a replica's restart is no outage; the writer's
        // fails over first when the cluster has a replica).
        if changed(spec, current, "instance_class") {
            req = req.db_instance_class(s(spec, "instance_class")?);
        }
        if changed(spec, current, "promotion_tier") {
            req = req.promotion_tier(i(spec, "promotion_tier")? as i32);
        }
        req.send()
            .await
            .map_err(|e| aws_error(&format!("modifying document database instance {id}"), e))?;
        wait_available(ctx, id).await?;
        let mut o = observed_from_spec(spec, id);
        o.outputs = current.outputs.clone();
        Ok(o)
    }

    /// Allowed even while the cluster has deletion protection, which guards the cluster and
    /// its data, not its instances (DocumentDB Developer Guide, "Deleting an Amazon DocumentDB
    /// cluster").
    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.as_str();
        match ctx
            .clients
            .docdb
            .delete_db_instance()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e).as_deref() == Some("DBInstanceNotFound") => return Ok(()),
            Err(e) => {
                return Err(aws_error(
                    &format!("deleting document database instance {id}"),
                    e,
                ))
            }
        }
        ctx.clients
            .docdb
            .wait_until_db_instance_deleted()
            .db_instance_identifier(id)
            .wait(WAIT)
            .await
            .map_err(|e| {
                waiter_error(
                    &format!("waiting for document database instance {id} to be deleted"),
                    e,
                )
            })?;
        Ok(())
    }
}
