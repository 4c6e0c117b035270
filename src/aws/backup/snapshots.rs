//! `ftctl backup` against AWS: on-demand snapshots of the deployment's databases, caches and
//! tables, and the list of every backup of them that exists, including the final ones that
//! outlive a destroyed deployment.

use crate::aws::clients::Clients;
use crate::aws::sdk::{aws_error, unix_now};
use crate::backup::{manual_name, origin_of, owned_name, Backup, Origin, Store};
use crate::deployment::TAG_DEPLOYMENT;
use crate::resource::{Kind, Observed};
use anyhow::Result;

/// The services' own snapshots and backups have one storage tier.
const STANDARD: &str = "standard";

fn seconds(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.map(|t| t.secs())
}

/// Starts an on-demand backup of every database, cache and table in `observed`; returns them
/// as AWS first reports them (usually still being created).
/// When one fails, the error also names those already started (they go on regardless).
pub async fn take(clients: &Clients, env: &str, observed: &[Observed]) -> Result<Vec<Backup>> {
    let mut out = Vec::new();
    for o in observed {
        if let Err(e) = take_one(clients, env, o, &mut out).await {
            if out.is_empty() {
                return Err(e);
            }
            let started: Vec<&str> = out.iter().map(|b| b.name.as_str()).collect();
            anyhow::bail!(
                "{e:#} (already started, and still being made: {})",
                started.join(", ")
            );
        }
    }
    Ok(out)
}

async fn take_one(clients: &Clients, env: &str, o: &Observed, out: &mut Vec<Backup>) -> Result<()> {
    let now = unix_now() as i64;
    {
        let resource = o.physical_id.as_str();
        let name = manual_name(resource, now);
        match o.kind {
            Kind::DbInstance => {
                let tag = aws_sdk_rds::types::Tag::builder()
                    .key(TAG_DEPLOYMENT)
                    .value(env)
                    .build();
                let made = clients
                    .rds
                    .create_db_snapshot()
                    .db_instance_identifier(resource)
                    .db_snapshot_identifier(&name)
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("snapshotting database {resource}"), e))?;
                let s = made.db_snapshot();
                out.push(Backup {
                    store: Store::Database,
                    resource: resource.to_string(),
                    id: name.clone(),
                    name,
                    origin: Origin::Manual,
                    status: s.and_then(|s| s.status()).unwrap_or("creating").to_string(),
                    created: seconds(s.and_then(|s| s.snapshot_create_time())).or(Some(now)),
                    size_bytes: None,
                    storage_class: STANDARD.into(),
                });
            }
            Kind::CacheReplicationGroup => {
                let tag = aws_sdk_elasticache::types::Tag::builder()
                    .key(TAG_DEPLOYMENT)
                    .value(env)
                    .build();
                let made = clients
                    .elasticache
                    .create_snapshot()
                    .replication_group_id(resource)
                    .snapshot_name(&name)
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("snapshotting cache {resource}"), e))?;
                out.push(Backup {
                    store: Store::Cache,
                    resource: resource.to_string(),
                    id: name.clone(),
                    name,
                    origin: Origin::Manual,
                    status: made
                        .snapshot()
                        .and_then(|s| s.snapshot_status())
                        .unwrap_or("creating")
                        .to_string(),
                    created: Some(now),
                    size_bytes: None,
                    storage_class: STANDARD.into(),
                });
            }
            Kind::DocdbCluster => {
                let tag = aws_sdk_docdb::types::Tag::builder()
                    .key(TAG_DEPLOYMENT)
                    .value(env)
                    .build();
                let made = clients
                    .docdb
                    .create_db_cluster_snapshot()
                    .db_cluster_identifier(resource)
                    .db_cluster_snapshot_identifier(&name)
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(&format!("snapshotting document database {resource}"), e)
                    })?;
                let s = made.db_cluster_snapshot();
                out.push(Backup {
                    store: Store::Documents,
                    resource: resource.to_string(),
                    id: name.clone(),
                    name,
                    origin: Origin::Manual,
                    status: s.and_then(|s| s.status()).unwrap_or("creating").to_string(),
                    created: seconds(s.and_then(|s| s.snapshot_create_time())).or(Some(now)),
                    size_bytes: None,
                    storage_class: STANDARD.into(),
                });
            }
            Kind::DynamoTable => {
                let made = clients
                    .dynamodb
                    .create_backup()
                    .table_name(resource)
                    .backup_name(&name)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("backing up table {resource}"), e))?;
                let d = made.backup_details();
                out.push(Backup {
                    store: Store::Table,
                    resource: resource.to_string(),
                    id: d
                        .map(|d| d.backup_arn().to_string())
                        .unwrap_or_else(|| name.clone()),
                    name,
                    origin: Origin::Manual,
                    status: d
                        .map(|d| d.backup_status().as_str().to_string())
                        .unwrap_or_else(|| "CREATING".into()),
                    created: seconds(d.map(|d| d.backup_creation_date_time())).or(Some(now)),
                    size_bytes: d.and_then(|d| d.backup_size_bytes()),
                    storage_class: STANDARD.into(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every backup of a data store named like the deployment's, live or deleted.
pub async fn list(clients: &Clients, env: &str) -> Result<Vec<Backup>> {
    let (dbs, caches, tables, points, documents) = tokio::join!(
        clients
            .rds
            .describe_db_snapshots()
            .into_paginator()
            .items()
            .send()
            .try_collect(),
        clients
            .elasticache
            .describe_snapshots()
            .into_paginator()
            .items()
            .send()
            .try_collect(),
        table_backups(clients),
        recovery_points(clients, env),
        document_snapshots(clients),
    );
    let dbs: Vec<_> = dbs.map_err(|e| aws_error("listing database snapshots", e))?;
    let caches: Vec<_> = caches.map_err(|e| aws_error("listing cache snapshots", e))?;
    let tables = tables?;
    let mut out = points?;
    for s in documents? {
        let resource = s.db_cluster_identifier().unwrap_or_default();
        if !owned_name(env, resource) {
            continue;
        }
        let id = s.db_cluster_snapshot_identifier().unwrap_or_default();
        out.push(Backup {
            store: Store::Documents,
            resource: resource.to_string(),
            id: id.to_string(),
            name: id.to_string(),
            origin: origin_of(id, s.snapshot_type() == Some("automated")),
            status: s.status().unwrap_or_default().to_string(),
            created: seconds(s.snapshot_create_time()),
            size_bytes: None,
            storage_class: STANDARD.into(),
        });
    }
    for s in dbs {
        let resource = s.db_instance_identifier().unwrap_or_default();
        if !owned_name(env, resource) {
            continue;
        }
        let id = s.db_snapshot_identifier().unwrap_or_default();
        out.push(Backup {
            store: Store::Database,
            resource: resource.to_string(),
            id: id.to_string(),
            name: id.to_string(),
            origin: origin_of(id, s.snapshot_type() == Some("automated")),
            status: s.status().unwrap_or_default().to_string(),
            created: seconds(s.snapshot_create_time()),
            size_bytes: s.full_snapshot_size_in_bytes(),
            storage_class: STANDARD.into(),
        });
    }
    for s in caches {
        let resource = s
            .replication_group_id()
            .or(s.cache_cluster_id())
            .unwrap_or_default();
        if !owned_name(env, resource) {
            continue;
        }
        let id = s.snapshot_name().unwrap_or_default();
        out.push(Backup {
            store: Store::Cache,
            resource: resource.to_string(),
            id: id.to_string(),
            name: id.to_string(),
            origin: origin_of(id, s.snapshot_source() == Some("automated")),
            status: s.snapshot_status().unwrap_or_default().to_string(),
            created: seconds(
                s.node_snapshots()
                    .first()
                    .and_then(|n| n.snapshot_create_time()),
            ),
            size_bytes: None,
            storage_class: STANDARD.into(),
        });
    }
    for b in tables {
        let resource = b.table_name().unwrap_or_default();
        if !owned_name(env, resource) {
            continue;
        }
        let name = b.backup_name().unwrap_or_default();
        out.push(Backup {
            store: Store::Table,
            resource: resource.to_string(),
            id: b.backup_arn().unwrap_or(name).to_string(),
            name: name.to_string(),
            origin: origin_of(name, b.backup_type().is_some_and(|t| t.as_str() != "USER")),
            status: b
                .backup_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            created: seconds(b.backup_creation_date_time()),
            size_bytes: b.backup_size_bytes(),
            storage_class: STANDARD.into(),
        });
    }
    Ok(out)
}

/// The recovery points in the deployment's AWS Backup vault, with the storage class each has
/// reached. A vault that is not there
/// (no database asks for AWS Backup, or nothing was made yet) has none.
async fn recovery_points(clients: &Clients, env: &str) -> Result<Vec<Backup>> {
    let vault = crate::expand::backup_vault_name(env);
    // Asked only of a vault that exists: for a missing one AWS Backup answers
    // AccessDeniedException, not ResourceNotFoundException (boto/boto3#2269), which would
    // make the whole listing fail for a deployment without one.
    let vaults: Vec<_> = clients
        .backup
        .list_backup_vaults()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("listing backup vaults", e))?;
    if !vaults
        .iter()
        .any(|v| v.backup_vault_name() == Some(vault.as_str()))
    {
        return Ok(Vec::new());
    }
    let listed: Result<Vec<_>, _> = clients
        .backup
        .list_recovery_points_by_backup_vault()
        .backup_vault_name(&vault)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let now = unix_now() as i64;
    let points = match listed {
        Ok(p) => p,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => {
            return Err(aws_error(
                &format!("listing recovery points in vault {vault}"),
                e,
            ))
        }
    };
    Ok(points
        .into_iter()
        .map(|p| {
            let arn = p.recovery_point_arn().unwrap_or_default();
            let resource = p
                .resource_name()
                .or_else(|| p.resource_arn().and_then(|a| a.rsplit([':', '/']).next()))
                .unwrap_or_default();
            Backup {
                store: Store::RecoveryPoint,
                resource: resource.to_string(),
                id: arn.to_string(),
                name: arn.rsplit([':', '/']).next().unwrap_or(arn).to_string(),
                origin: Origin::Automated,
                status: p
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                created: seconds(p.creation_date()),
                size_bytes: p.backup_size_in_bytes(),
                // The listing carries the lifecycle's dates, not the class itself
                // (DescribeRecoveryPoint has it, at a request per point): past
                // MoveToColdStorageAt, AWS Backup has moved it to cold storage.
                storage_class: match p
                    .calculated_lifecycle()
                    .and_then(|l| l.move_to_cold_storage_at())
                {
                    Some(at) if at.secs() <= now => "cold".into(),
                    _ => "warm".into(),
                },
            }
        })
        .collect())
}

/// DocumentDB's cluster snapshots, manual and automated (DescribeDBClusterSnapshots takes no
/// engine filter: "not currently supported"; a snapshot of another engine is not named like the
/// deployment's). Also lists Aurora's and Neptune's, which `owned_name` leaves out.
async fn document_snapshots(
    clients: &Clients,
) -> Result<Vec<aws_sdk_docdb::types::DbClusterSnapshot>> {
    let all: Vec<aws_sdk_docdb::types::DbClusterSnapshot> = clients
        .docdb
        .describe_db_cluster_snapshots()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("listing document database snapshots", e))?;
    Ok(all
        .into_iter()
        .filter(|s| s.engine().is_none_or(|e| e == "docdb"))
        .collect())
}

/// ListBackups pages by the last backup's ARN; the SDK has no paginator for it.
async fn table_backups(clients: &Clients) -> Result<Vec<aws_sdk_dynamodb::types::BackupSummary>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = clients
            .dynamodb
            .list_backups()
            .set_exclusive_start_backup_arn(after.take())
            .send()
            .await
            .map_err(|e| aws_error("listing table backups", e))?;
        out.extend(page.backup_summaries().iter().cloned());
        match page.last_evaluated_backup_arn() {
            Some(arn) if !arn.is_empty() => after = Some(arn.to_string()),
            _ => return Ok(out),
        }
    }
}
