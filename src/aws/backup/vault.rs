//! The AWS Backup vault a deployment's backup plan writes its recovery points into, encrypted
//! with AWS Backup's managed key. A vault that holds recovery points outlives the deployment, as
//! final snapshots do: destroy hands it over (tagged `ftctl:retained-from`) instead of deleting
//! backups.

use super::tags::{backup_owner, tags_of};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::s3::bucket::RETAINED_FROM;
use crate::aws::sdk::{aws_error, error_code, observed_from_spec, read_each, updated_in_place};
use crate::deployment::{TAG_DEPLOYMENT, TAG_HOME_REGION, TAG_LOGICAL_ID, TAG_STACK};
use crate::resource::{Kind, Observed, ResourceSpec};
use crate::schema::Schema;
use anyhow::Result;
use async_trait::async_trait;
use std::collections::HashMap;

/// A backup vault has no attributes: all there is to it is its name and tags.
static SCHEMA: Schema = Schema::new(Kind::BackupVault, &[]);

pub struct BackupVaultProvider;

#[async_trait]
impl Provider for BackupVaultProvider {
    fn kind(&self) -> Kind {
        Kind::BackupVault
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let backup = &ctx.clients.backup;
        let vaults: Vec<_> = backup
            .list_backup_vaults()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing backup vaults", e))?;
        let prefix = ctx.name_prefix();
        let ours = vaults.into_iter().filter(|v| {
            v.backup_vault_name()
                .is_some_and(|n| n.starts_with(&prefix))
        });
        read_each(ours, |v| async move {
            let (Some(name), Some(arn)) = (v.backup_vault_name(), v.backup_vault_arn()) else {
                return Ok(None);
            };
            let what = format!("backup vault {name}");
            let Some((id, stack)) = backup_owner(ctx, arn, &what).await? else {
                return Ok(None);
            };
            let mut o = Observed::new(&id, Kind::BackupVault, name)
                .output("name", name)
                .output("arn", arn)
                .output("recovery_points", v.number_of_recovery_points().to_string());
            o.name = name.to_string();
            o.stack = stack;
            Ok(Some(o))
        })
        .await
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let backup = &ctx.clients.backup;
        let name = spec.name.as_str();
        let tags: HashMap<String, String> = ctx.tags(spec).into_iter().collect();
        let arn = match backup
            .create_backup_vault()
            .backup_vault_name(name)
            .set_backup_vault_tags(Some(tags.clone()))
            .send()
            .await
        {
            Ok(out) => out.backup_vault_arn().unwrap_or_default().to_string(),
            // The vault an earlier destroy of this deployment kept with its recovery points:
            // taken back, with them.
            Err(e) if error_code(&e).as_deref() == Some("AlreadyExistsException") => {
                let vault = backup
                    .describe_backup_vault()
                    .backup_vault_name(name)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("reading backup vault {name}"), e))?;
                let arn = vault.backup_vault_arn().unwrap_or_default().to_string();
                let held = tags_of(ctx, &arn, &format!("backup vault {name}")).await?;
                let kept_from_us = held.get(RETAINED_FROM).is_some_and(|env| env == ctx.env());
                if !kept_from_us {
                    anyhow::bail!(
                        "backup vault {name} exists and is not this deployment's: rename or \
                         delete it"
                    );
                }
                backup
                    .tag_resource()
                    .resource_arn(&arn)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("taking back backup vault {name}"), e))?;
                backup
                    .untag_resource()
                    .resource_arn(&arn)
                    .tag_key_list(RETAINED_FROM)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("taking back backup vault {name}"), e))?;
                tracing::info!("backup vault {name} taken back with its recovery points");
                arn
            }
            Err(e) => return Err(aws_error(&format!("creating backup vault {name}"), e)),
        };
        Ok(observed_from_spec(spec, name)
            .output("name", name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        _: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let backup = &ctx.clients.backup;
        let name = current.physical_id.as_str();
        match backup
            .delete_backup_vault()
            .backup_vault_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => Ok(()),
            // "Backup vault cannot be deleted because it contains recovery points": the
            // backups stay, in a vault that is no longer the deployment's.
            Err(e) if error_code(&e).as_deref() == Some("InvalidRequestException") => {
                let arn = current.outputs.get("arn").cloned().unwrap_or_default();
                // The hand-over mark first: stopped between the two, the vault is still found
                // (by either mark), never left with no ftctl tag at all.
                backup
                    .tag_resource()
                    .resource_arn(&arn)
                    .tags(RETAINED_FROM, ctx.env())
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("handing over backup vault {name}"), e))?;
                backup
                    .untag_resource()
                    .resource_arn(&arn)
                    .set_tag_key_list(Some(
                        [TAG_DEPLOYMENT, TAG_STACK, TAG_LOGICAL_ID, TAG_HOME_REGION]
                            .map(String::from)
                            .to_vec(),
                    ))
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("handing over backup vault {name}"), e))?;
                tracing::warn!(
                    "backup vault {name} kept with its recovery points (tagged {RETAINED_FROM}); \
                     delete them in AWS Backup when they are no longer needed"
                );
                Ok(())
            }
            Err(e) => Err(aws_error(&format!("deleting backup vault {name}"), e)),
        }
    }
}
