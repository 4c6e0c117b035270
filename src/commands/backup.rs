//! `ftctl backup`: on-demand backups of a deployment's data stores and the list of what exists.

use super::InputError;
use crate::aws::{backup, AwsCloud, DeleteOptions};
use crate::backup::{render, sort, Backup};
use crate::cloud::Cloud;
use crate::deployment::{self, Deployment};
use crate::resource::Kind;
use anyhow::{bail, Result};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Databases take the longest: a large one can snapshot for an hour or more.
const WAIT_LIMIT: Duration = Duration::from_secs(4 * 3600);
const POLL: Duration = Duration::from_secs(10);

pub async fn run(
    env: &str,
    region: Option<&str>,
    list_only: bool,
    wait: bool,
    json: bool,
) -> Result<ExitCode> {
    deployment::validate_env(env).map_err(InputError)?;
    let cloud = AwsCloud::connect(region, DeleteOptions::default()).await?;
    let clients = &cloud.clients;
    let mut taken: Vec<Backup> = Vec::new();
    if !list_only {
        let observed = cloud
            .observe(&Deployment {
                env: env.to_string(),
                stack: String::new(),
            })
            .await?;
        let stores: Vec<_> = observed
            .into_iter()
            .filter(|o| {
                matches!(
                    o.kind,
                    Kind::DbInstance
                        | Kind::CacheReplicationGroup
                        | Kind::DynamoTable
                        | Kind::DocdbCluster
                )
            })
            .collect();
        if stores.is_empty() {
            bail!(
                "deployment {env} has no database, cache or table in {} to back up \
                 (ftctl backup --list shows backups left by a destroyed deployment)",
                cloud.target()
            );
        }
        if !json {
            println!(
                "Backing up {} data store{} of deployment {env} in {}:",
                stores.len(),
                if stores.len() == 1 { "" } else { "s" },
                cloud.target()
            );
        }
        taken = backup::take(clients, env, &stores).await?;
        if !json {
            for b in &taken {
                println!("  {} {}: started {}", b.store.label(), b.resource, b.id);
            }
        }
        if wait {
            wait_complete(clients, env, &taken, json).await?;
        }
    }
    let mut all = backup::list(clients, env).await?;
    sort(&mut all);
    if json {
        let doc = serde_json::json!({
            "deployment": env,
            "taken": taken,
            "backups": all,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("No backups of deployment {env} in {}.", cloud.target());
    } else {
        println!("\nBackups of deployment {env}:\n{}", render(&all));
        println!(
            "Restore: aws rds restore-db-instance-from-db-snapshot, \
             aws elasticache create-replication-group --snapshot-name, \
             aws dynamodb restore-table-from-backup (or restore-table-to-point-in-time)."
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn wait_complete(
    clients: &crate::aws::Clients,
    env: &str,
    taken: &[Backup],
    json: bool,
) -> Result<()> {
    let started = Instant::now();
    loop {
        let now = backup::list(clients, env).await?;
        let failed: Vec<String> = now
            .iter()
            .filter(|b| b.has_failed() && taken.iter().any(|t| t.store == b.store && t.id == b.id))
            .map(|b| format!("{} ({})", b.name, b.status))
            .collect();
        if !failed.is_empty() {
            bail!("backups failed: {}", failed.join(", "));
        }
        let pending: Vec<&Backup> = taken
            .iter()
            .filter(|t| {
                !now.iter()
                    .any(|b| b.store == t.store && b.id == t.id && b.is_complete())
            })
            .collect();
        if pending.is_empty() {
            if !json {
                println!(
                    "All {} backups complete after {:.0}s.",
                    taken.len(),
                    started.elapsed().as_secs_f64()
                );
            }
            return Ok(());
        }
        if started.elapsed() > WAIT_LIMIT {
            let names: Vec<&str> = pending.iter().map(|b| b.id.as_str()).collect();
            bail!(
                "backups still not complete after {}s: {}",
                WAIT_LIMIT.as_secs(),
                names.join(", ")
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
