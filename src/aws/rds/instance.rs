//! RDS database instances: Multi-AZ, encrypted, private, backed up, with the master password
//! created and kept by RDS in Secrets Manager, so ftctl never holds it.

use super::tags::rds_tags;
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, changed, delta, error_code, i, observed_from_spec, s, str_list, strs, unix_now,
    version_upgrade, waiter_error,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Compare, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_rds::client::Waiters;
use std::time::Duration;

/// Every attribute of a rds db instance: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::DbInstance,
    &[
        Attr::new("allocated_storage_gb"),
        Attr::new("backup_retention_days"),
        Attr::new("db_subnet_group_name").replaces(),
        Attr::new("deletion_protection"),
        Attr::new("engine").replaces(),
        // Chosen at creation; ModifyDBInstance cannot change it.
        Attr::new("engine_lifecycle_support").create_only(),
        // RDS runs a requested `8.0` as `8.0.39`.
        Attr::new("engine_version").compare(Compare::VersionPrefix),
        Attr::new("iam_auth"),
        Attr::new("instance_class"),
        Attr::new("log_exports"),
        Attr::new("manage_master_user_password"),
        Attr::new("master_username").replaces(),
        Attr::new("multi_az"),
        Attr::new("parameter_group_name"),
        Attr::new("port"),
        Attr::new("publicly_accessible"),
        Attr::new("security_group_ids"),
        Attr::new("storage_encrypted").replaces(),
    ],
);

pub struct DbInstanceProvider;

async fn wait_available(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    ctx.clients
        .rds
        .wait_until_db_instance_available()
        .db_instance_identifier(id)
        .wait(Duration::from_secs(3600))
        .await
        .map_err(|e| waiter_error(&format!("waiting for database {id} to become available"), e))?;
    Ok(())
}

#[async_trait]
impl Provider for DbInstanceProvider {
    fn kind(&self) -> Kind {
        Kind::DbInstance
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let dbs: Vec<_> = ctx
            .clients
            .rds
            .describe_db_instances()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing DB instances", e))?;
        let mut found = Vec::new();
        for db in dbs {
            if db.db_instance_status() == Some("deleting") {
                continue;
            }
            // RDS lists DocumentDB and Neptune instances too (DocumentDB API reference,
            // DescribeDBInstances: filter engine=docdb for DocumentDB's only); theirs are the
            // DocumentDB provider's, even when they carry this deployment's tags.
            if matches!(db.engine(), Some("docdb" | "neptune")) {
                continue;
            }
            let Some((id, stack)) = ctx.owner(
                db.tag_list()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
            ) else {
                continue;
            };
            let name = db.db_instance_identifier().unwrap_or_default();
            let port = db
                .endpoint()
                .and_then(|e| e.port())
                .or(db.db_instance_port().filter(|p| *p != 0))
                .unwrap_or(0);
            let mut o = Observed::new(&id, Kind::DbInstance, name)
                .prop("engine", Val::str(db.engine().unwrap_or_default()))
                .prop(
                    "engine_version",
                    Val::str(db.engine_version().unwrap_or_default()),
                )
                .prop(
                    "instance_class",
                    Val::str(db.db_instance_class().unwrap_or_default()),
                )
                .prop(
                    "allocated_storage_gb",
                    Val::Int(db.allocated_storage().unwrap_or(0).into()),
                )
                .prop("multi_az", Val::Bool(db.multi_az().unwrap_or(false)))
                .prop(
                    "storage_encrypted",
                    Val::Bool(db.storage_encrypted().unwrap_or(false)),
                )
                .prop(
                    "publicly_accessible",
                    Val::Bool(db.publicly_accessible().unwrap_or(false)),
                )
                .prop(
                    "backup_retention_days",
                    Val::Int(db.backup_retention_period().unwrap_or(0).into()),
                )
                .prop(
                    "deletion_protection",
                    Val::Bool(db.deletion_protection().unwrap_or(false)),
                )
                .prop(
                    "master_username",
                    Val::str(db.master_username().unwrap_or_default()),
                )
                .prop(
                    "manage_master_user_password",
                    Val::Bool(db.master_user_secret().is_some()),
                )
                .prop("port", Val::Int(port.into()))
                .prop(
                    "db_subnet_group_name",
                    Val::str(
                        db.db_subnet_group()
                            .and_then(|g| g.db_subnet_group_name())
                            .unwrap_or_default(),
                    ),
                )
                .prop(
                    "security_group_ids",
                    str_list(
                        db.vpc_security_groups()
                            .iter()
                            .filter_map(|g| g.vpc_security_group_id()),
                    ),
                )
                .prop(
                    "parameter_group_name",
                    Val::str(
                        db.db_parameter_groups()
                            .first()
                            .and_then(|g| g.db_parameter_group_name())
                            .unwrap_or_default(),
                    ),
                )
                .prop(
                    "iam_auth",
                    Val::Bool(db.iam_database_authentication_enabled().unwrap_or(false)),
                )
                .prop("log_exports", {
                    let mut exports = db.enabled_cloudwatch_logs_exports().to_vec();
                    exports.sort();
                    str_list(exports)
                })
                .output("name", name)
                .output("arn", db.db_instance_arn().unwrap_or_default())
                .output(
                    "endpoint",
                    db.endpoint().and_then(|e| e.address()).unwrap_or_default(),
                );
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
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine(s(spec, "engine")?)
            .engine_version(s(spec, "engine_version")?)
            .db_instance_class(s(spec, "instance_class")?)
            .allocated_storage(i(spec, "allocated_storage_gb")? as i32)
            .storage_type("gp3")
            .multi_az(b(spec, "multi_az")?)
            .storage_encrypted(b(spec, "storage_encrypted")?)
            .publicly_accessible(b(spec, "publicly_accessible")?)
            .backup_retention_period(i(spec, "backup_retention_days")? as i32)
            .deletion_protection(b(spec, "deletion_protection")?)
            .master_username(s(spec, "master_username")?)
            .manage_master_user_password(b(spec, "manage_master_user_password")?)
            .port(i(spec, "port")? as i32)
            .db_subnet_group_name(s(spec, "db_subnet_group_name")?)
            .set_vpc_security_group_ids(Some(strs(spec, "security_group_ids")))
            // Made with its parameter group: a group given later applies only after a reboot.
            // RDS advises waiting 5 minutes after creating a group before it becomes a new
            // instance's (CreateDBParameterGroup), for parameters used while the database is
            // first made (character sets); ftctl's are dynamic ones read at each connection.
            .db_parameter_group_name(s(spec, "parameter_group_name")?)
            .enable_iam_database_authentication(b(spec, "iam_auth")?)
            .set_enable_cloudwatch_logs_exports(Some(strs(spec, "log_exports")))
            .copy_tags_to_snapshot(true)
            .auto_minor_version_upgrade(true)
            // Said explicitly: RDS's default enrols a major version past its end of standard
            // support in paid Extended Support (RDS API reference, EngineLifecycleSupport).
            .engine_lifecycle_support(s(spec, "engine_lifecycle_support")?)
            .set_tags(Some(rds_tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating database {id}"), e))?;
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
        // Only what changed is sent: some modifications (class, storage) restart or slow the
        // database, and sending unchanged values can still trigger them.
        let changed = |key: &str| changed(spec, current, key);
        let mut req = ctx
            .clients
            .rds
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(true);
        if changed("engine_version") {
            let (want, major) = version_upgrade(spec, current)?;
            req = req
                .engine_version(want)
                .set_allow_major_version_upgrade(major.then_some(true));
        }
        if changed("instance_class") {
            req = req.db_instance_class(s(spec, "instance_class")?);
        }
        if changed("allocated_storage_gb") {
            req = req.allocated_storage(i(spec, "allocated_storage_gb")? as i32);
        }
        if changed("multi_az") {
            req = req.multi_az(b(spec, "multi_az")?);
        }
        if changed("publicly_accessible") {
            req = req.publicly_accessible(b(spec, "publicly_accessible")?);
        }
        if changed("backup_retention_days") {
            req = req.backup_retention_period(i(spec, "backup_retention_days")? as i32);
        }
        if changed("deletion_protection") {
            req = req.deletion_protection(b(spec, "deletion_protection")?);
        }
        if changed("manage_master_user_password") {
            req = req.manage_master_user_password(b(spec, "manage_master_user_password")?);
        }
        if changed("port") {
            req = req.db_port_number(i(spec, "port")? as i32);
        }
        if changed("security_group_ids") {
            req = req.set_vpc_security_group_ids(Some(strs(spec, "security_group_ids")));
        }
        if changed("parameter_group_name") {
            // Applies at the database's next reboot, which ftctl does not make on its own
            // (the plan says so); RDS reports the group as pending-reboot until then.
            req = req.db_parameter_group_name(s(spec, "parameter_group_name")?);
        }
        if changed("iam_auth") {
            req = req.enable_iam_database_authentication(b(spec, "iam_auth")?);
        }
        if changed("log_exports") {
            let (enable, disable) = delta(spec, current, "log_exports");
            let config = aws_sdk_rds::types::CloudwatchLogsExportConfiguration::builder()
                .set_enable_log_types(Some(enable))
                .set_disable_log_types(Some(disable))
                .build();
            req = req.cloudwatch_logs_export_configuration(config);
        }
        req.send()
            .await
            .map_err(|e| aws_error(&format!("modifying database {id}"), e))?;
        wait_available(ctx, id).await?;
        let mut o = observed_from_spec(spec, id);
        o.outputs = current.outputs.clone();
        Ok(o)
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.as_str();
        if ctx.protection_to_lift(current, &format!("database {id}"))? {
            ctx.clients
                .rds
                .modify_db_instance()
                .db_instance_identifier(id)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| aws_error(&format!("turning deletion protection off on {id}"), e))?;
        }
        let mut req = ctx
            .clients
            .rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .delete_automated_backups(false);
        if ctx.delete.skip_final_snapshot {
            req = req.skip_final_snapshot(true);
        } else {
            let snapshot = crate::backup::final_name(id, unix_now() as i64);
            tracing::info!("database {id}: final snapshot {snapshot}");
            req = req
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(snapshot);
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if error_code(&e).as_deref() == Some("DBInstanceNotFound") => return Ok(()),
            Err(e) => return Err(aws_error(&format!("deleting database {id}"), e)),
        }
        ctx.clients
            .rds
            .wait_until_db_instance_deleted()
            .db_instance_identifier(id)
            .wait(Duration::from_secs(3600))
            .await
            .map_err(|e| waiter_error(&format!("waiting for database {id} to be deleted"), e))?;
        Ok(())
    }
}
