//! DocumentDB clusters: encrypted, private, backed up, TLS required by their parameter group,
//! the master password generated and kept by DocumentDB in Secrets Manager (ManageMasterUserPassword;
//! DocumentDB Developer Guide, "Password management with Amazon DocumentDB and AWS Secrets
//! Manager"), so ftctl never holds it. The zones are the subnet group's and the instances': the
//! cluster is never given `AvailabilityZones`, which DocumentDB answers with three whatever was
//! asked (hashicorp/terraform-provider-aws#19451).

use super::tags::{docdb_only, docdb_owner, docdb_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, changed, coded, error_code, i, observed_from_spec, retry_while, s, str_list,
    strs, unix_now, version_upgrade, RELEASE_WAIT,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{bail, Result};
use async_trait::async_trait;
use std::time::{Duration, Instant};

/// Every attribute of a docdb cluster; what CreateDBCluster fixes for good replaces it
/// (CloudFormation AWS::DocDB::DBCluster, create-only properties).
static SCHEMA: Schema = Schema::new(
    Kind::DocdbCluster,
    &[
        Attr::new("backup_retention_days"),
        Attr::new("db_subnet_group_name").replaces(),
        Attr::new("deletion_protection"),
        Attr::new("engine_version"),
        Attr::new("manage_master_user_password"),
        Attr::new("master_username").replaces(),
        Attr::new("parameter_group_name"),
        Attr::new("port"),
        Attr::new("security_group_ids"),
        Attr::new("storage_encrypted").replaces(),
    ],
);

pub struct DocdbClusterProvider;

/// A cluster takes minutes to create (RDS's hour fits it, as its instances').
const READY_LIMIT: Duration = Duration::from_secs(3600);
const POLL: Duration = Duration::from_secs(10);

/// The cluster's status, or none once it is gone. There is no cluster waiter in the SDK (only
/// instance waiters), so this is polled.
async fn status(ctx: &Ctx<'_>, id: &str) -> Result<Option<String>> {
    match ctx
        .clients
        .docdb
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .db_clusters()
            .first()
            .map(|c| c.status().unwrap_or_default().to_string())),
        Err(e) if error_code(&e).as_deref() == Some("DBClusterNotFoundFault") => Ok(None),
        Err(e) => Err(aws_error(&format!("reading document database {id}"), e)),
    }
}

/// Waits until the cluster is `available` (true) or gone (false).
pub(crate) async fn wait_settled(ctx: &Ctx<'_>, id: &str, gone_is_done: bool) -> Result<()> {
    let started = Instant::now();
    loop {
        match status(ctx, id).await?.as_deref() {
            Some("available") if !gone_is_done => return Ok(()),
            None if gone_is_done => return Ok(()),
            None => bail!("document database {id} disappeared while ftctl waited for it"),
            Some(s @ ("failed" | "inaccessible-encryption-credentials")) => {
                bail!("document database {id} is {s}")
            }
            _ => {}
        }
        if started.elapsed() > READY_LIMIT {
            bail!(
                "document database {id} did not {} within {} minutes",
                if gone_is_done {
                    "go"
                } else {
                    "become available"
                },
                READY_LIMIT.as_secs() / 60
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

#[async_trait]
impl Provider for DocdbClusterProvider {
    fn kind(&self) -> Kind {
        Kind::DocdbCluster
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = ctx.name_prefix();
        let clusters: Vec<_> = ctx
            .clients
            .docdb
            .describe_db_clusters()
            .filters(docdb_only())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing document databases", e))?;
        let mut found = Vec::new();
        for c in clusters {
            let name = c.db_cluster_identifier().unwrap_or_default();
            if c.engine() != Some("docdb")
                || !name.starts_with(&prefix)
                || c.status() == Some("deleting")
            {
                continue;
            }
            let arn = c.db_cluster_arn().unwrap_or_default();
            let Some((id, stack)) = docdb_owner(ctx, arn).await? else {
                continue;
            };
            let mut o = Observed::new(&id, Kind::DocdbCluster, name)
                .prop(
                    "engine_version",
                    Val::str(c.engine_version().unwrap_or_default()),
                )
                .prop(
                    "master_username",
                    Val::str(c.master_username().unwrap_or_default()),
                )
                .prop(
                    "manage_master_user_password",
                    Val::Bool(c.master_user_secret().is_some()),
                )
                .prop(
                    "storage_encrypted",
                    Val::Bool(c.storage_encrypted().unwrap_or(false)),
                )
                .prop(
                    "backup_retention_days",
                    Val::Int(c.backup_retention_period().unwrap_or(0).into()),
                )
                .prop(
                    "deletion_protection",
                    Val::Bool(c.deletion_protection().unwrap_or(false)),
                )
                .prop("port", Val::Int(c.port().unwrap_or(0).into()))
                .prop(
                    "db_subnet_group_name",
                    Val::str(c.db_subnet_group().unwrap_or_default()),
                )
                .prop(
                    "security_group_ids",
                    str_list(
                        c.vpc_security_groups()
                            .iter()
                            .filter_map(|g| g.vpc_security_group_id()),
                    ),
                )
                .prop(
                    "parameter_group_name",
                    Val::str(c.db_cluster_parameter_group().unwrap_or_default()),
                )
                .output("name", name)
                .output("arn", arn)
                .output("endpoint", c.endpoint().unwrap_or_default())
                .output("reader_endpoint", c.reader_endpoint().unwrap_or_default());
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
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine("docdb")
            .engine_version(s(spec, "engine_version")?)
            .master_username(s(spec, "master_username")?)
            // Never with a MasterUserPassword: DocumentDB refuses the pair (CreateDBCluster).
            .manage_master_user_password(b(spec, "manage_master_user_password")?)
            .storage_encrypted(b(spec, "storage_encrypted")?)
            .backup_retention_period(i(spec, "backup_retention_days")? as i32)
            .deletion_protection(b(spec, "deletion_protection")?)
            .port(i(spec, "port")? as i32)
            .db_subnet_group_name(s(spec, "db_subnet_group_name")?)
            .set_vpc_security_group_ids(Some(strs(spec, "security_group_ids")))
            .db_cluster_parameter_group_name(s(spec, "parameter_group_name")?)
            // Automated and final snapshots carry the ownership tags, which `ftctl backup` reads.
            .copy_tags_to_snapshot(true)
            .set_tags(Some(docdb_tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating document database {id}"), e))?;
        wait_settled(ctx, id, false).await?;
        let c = out.db_cluster();
        Ok(observed_from_spec(spec, id)
            .output("name", id)
            .output(
                "arn",
                c.and_then(|c| c.db_cluster_arn()).unwrap_or_default(),
            )
            .output("endpoint", c.and_then(|c| c.endpoint()).unwrap_or_default()))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let id = current.physical_id.as_str();
        // Only what changed: everything but the password applies at once, whatever
        // ApplyImmediately says (ModifyDBCluster).
        let changed = |key: &str| changed(spec, current, key);
        let mut req = ctx
            .clients
            .docdb
            .modify_db_cluster()
            .db_cluster_identifier(id)
            .apply_immediately(true);
        if changed("engine_version") {
            let (want, major) = version_upgrade(spec, current)?;
            req = req
                .engine_version(want)
                .set_allow_major_version_upgrade(major.then_some(true));
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
            req = req.port(i(spec, "port")? as i32);
        }
        if changed("security_group_ids") {
            req = req.set_vpc_security_group_ids(Some(strs(spec, "security_group_ids")));
        }
        if changed("parameter_group_name") {
            // Its static parameters (tls) apply at each instance's next reboot.
            req = req.db_cluster_parameter_group_name(s(spec, "parameter_group_name")?);
        }
        req.send()
            .await
            .map_err(|e| aws_error(&format!("modifying document database {id}"), e))?;
        wait_settled(ctx, id, false).await?;
        let mut o = observed_from_spec(spec, id);
        o.outputs = current.outputs.clone();
        Ok(o)
    }

    /// After its instances (they refer to it): DocumentDB deletes a cluster only once it has
    /// none (DocumentDB Developer Guide, "Deleting an Amazon DocumentDB cluster").
    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.as_str();
        if ctx.protection_to_lift(current, &format!("document database {id}"))? {
            ctx.clients
                .docdb
                .modify_db_cluster()
                .db_cluster_identifier(id)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| aws_error(&format!("turning deletion protection off on {id}"), e))?;
        }
        // Deleted only while `available` (DocumentDB Developer Guide, "Deleting an Amazon
        // DocumentDB cluster"): just after its protection went off or its last instance went,
        // or while it backs up, it answers InvalidDBClusterStateFault, which is waited out
        // (terraform-provider-aws retries the same, hashicorp/terraform-provider-aws#7122).
        // One of SkipFinalSnapshot and a final snapshot is required (DeleteDBCluster).
        let snapshot = (!ctx.delete.skip_final_snapshot)
            .then(|| crate::backup::final_name(id, unix_now() as i64));
        if let Some(snapshot) = &snapshot {
            tracing::info!("document database {id}: final snapshot {snapshot}");
        }
        let sent = retry_while(&["InvalidDBClusterStateFault"], RELEASE_WAIT, || async {
            ctx.clients
                .docdb
                .delete_db_cluster()
                .db_cluster_identifier(id)
                .skip_final_snapshot(snapshot.is_none())
                .set_final_db_snapshot_identifier(snapshot.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting document database {id}"), e))
        })
        .await;
        match sent {
            Ok(()) => {}
            Err((Some(code), _)) if code == "DBClusterNotFoundFault" => return Ok(()),
            Err((_, e)) => return Err(e),
        }
        wait_settled(ctx, id, true).await
    }
}
