//! Customer managed KMS keys, for what must be encrypted with a key the account controls (the
//! alarm topics: SNS.1). Found by their alias `alias/<deployment>-…`; a key whose alias was
//! never made (a run stopped between the two calls) is found by its tags among the account's
//! unaliased keys, so it is adopted instead of left behind. Deleting schedules the deletion:
//! KMS never deletes a key at once.

use crate::aws::clients::caller_account;
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, changed, error_code, read_each, s, str_list, strs, updated_in_place, wait_for,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_kms::types::{KeyManagerType, KeyState, Tag};
use std::time::Duration;

/// Every attribute of a kms key: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::KmsKey,
    &[
        Attr::new("alias"),
        Attr::new("description"),
        Attr::new("region"),
        Attr::new("rotation"),
        Attr::new("services"),
    ],
);

pub struct KmsKeyProvider;

/// The waiting period before KMS deletes a key (7–30 days; AWS's default is 30). A key deleted
/// by mistake can be recovered with CancelKeyDeletion until then.
const DELETION_WINDOW_DAYS: i32 = 30;

const KEY_PROPAGATION: Duration = Duration::from_secs(120);

/// The key policy: the account administers the key through IAM (without this statement KMS
/// refuses the policy, as it would lock the account out), and the listed services may use it
/// to encrypt and decrypt on behalf of this account only. CloudWatch needs exactly these two
/// actions to publish alarms to a topic encrypted with the key, and accepts the
/// aws:SourceAccount condition (SNS Developer Guide, "Enable compatibility between event
/// sources from AWS services and encrypted topics").
fn policy(partition: &str, account: &str, services: &[String]) -> String {
    let mut statements = vec![serde_json::json!({
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:{partition}:iam::{account}:root") },
        "Action": "kms:*",
        "Resource": "*",
    })];
    if !services.is_empty() {
        statements.push(serde_json::json!({
            "Sid": "ServicesUseForThisAccount",
            "Effect": "Allow",
            "Principal": { "Service": services },
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": { "StringEquals": { "aws:SourceAccount": account } },
        }));
    }
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

/// The service principals a key policy lets use the key.
fn policy_services(policy: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return Vec::new();
    };
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        one => vec![one.clone()],
    };
    let mut services = Vec::new();
    for st in statements.iter().filter(|s| s["Effect"] == "Allow") {
        match &st["Principal"]["Service"] {
            serde_json::Value::String(s) => services.push(s.clone()),
            serde_json::Value::Array(a) => {
                services.extend(a.iter().filter_map(|s| s.as_str().map(str::to_string)))
            }
            _ => {}
        }
    }
    services.sort();
    services.dedup();
    services
}

fn alias(name: &str) -> String {
    format!("alias/{name}")
}

/// Reads one key's tags: its owner (logical id, stack) and `Name` when this deployment owns it;
/// `None` when it does not or the key cannot be read by us (a key whose policy does not admit
/// the account's IAM principals).
async fn owned(ctx: &Ctx<'_>, key_id: &str) -> Result<Option<(String, String, String)>> {
    match ctx
        .clients
        .kms
        .list_resource_tags()
        .key_id(key_id)
        .send()
        .await
    {
        Ok(out) => {
            let tags: Vec<(&str, &str)> = out
                .tags()
                .iter()
                .map(|t| (t.tag_key(), t.tag_value()))
                .collect();
            let name = tags
                .iter()
                .find(|(k, _)| *k == "Name")
                .map(|(_, v)| v.to_string())
                .unwrap_or_default();
            Ok(ctx
                .owner(tags.iter().copied())
                .map(|(id, stack)| (id, stack, name)))
        }
        Err(e) if error_code(&e).as_deref() == Some("AccessDeniedException") => Ok(None),
        Err(e) => Err(aws_error(&format!("reading tags of KMS key {key_id}"), e)),
    }
}

async fn describe(ctx: &Ctx<'_>, key_id: &str) -> Result<aws_sdk_kms::types::KeyMetadata> {
    ctx.clients
        .kms
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| aws_error(&format!("describing KMS key {key_id}"), e))?
        .key_metadata
        .ok_or_else(|| anyhow!("DescribeKey returned no metadata for {key_id}"))
}

/// A key's state as its spec's attributes, or `None` when it is on its way out or not ours
/// (a key whose policy does not admit this account's IAM principals cannot even be described).
async fn read(ctx: &Ctx<'_>, key_id: &str, key_aliases: &[&str]) -> Result<Option<Observed>> {
    let meta = match ctx.clients.kms.describe_key().key_id(key_id).send().await {
        Ok(out) => match out.key_metadata {
            Some(m) => m,
            None => return Ok(None),
        },
        Err(e) if error_code(&e).as_deref() == Some("AccessDeniedException") => return Ok(None),
        Err(e) => return Err(aws_error(&format!("describing KMS key {key_id}"), e)),
    };
    if meta.key_manager() == Some(&KeyManagerType::Aws)
        || matches!(
            meta.key_state(),
            Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
        )
    {
        return Ok(None);
    }
    let Some((id, stack, name)) = owned(ctx, key_id).await? else {
        return Ok(None);
    };
    // Of the key's aliases, the one named after it (others may have been added by hand).
    let own_alias = alias(&name);
    let alias_name = key_aliases.iter().find(|a| **a == own_alias);
    let kms = &ctx.clients.kms;
    let rotation = kms
        .get_key_rotation_status()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the rotation of KMS key {key_id}"), e))?
        .key_rotation_enabled();
    let policy_doc = kms
        .get_key_policy()
        .key_id(key_id)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the policy of KMS key {key_id}"), e))?
        .policy
        .unwrap_or_default();
    let arn = meta.arn().unwrap_or_default();
    let mut o = Observed::new(&id, Kind::KmsKey, key_id)
        .prop(
            "description",
            Val::str(meta.description().unwrap_or_default()),
        )
        .prop("rotation", Val::Bool(rotation))
        .prop("services", str_list(policy_services(&policy_doc)))
        .output("arn", arn)
        .output("id", key_id);
    if let Some(a) = alias_name {
        o = o.prop("alias", Val::str(*a));
    }
    o.name = name;
    o.stack = stack;
    Ok(Some(o))
}

/// Points the spec's alias at `key_id`: made when missing, moved when it names a key that is
/// pending deletion (a destroy stopped between deleting the alias and the key leaves none;
/// one stopped before leaves the alias on a dying key).
async fn set_alias(ctx: &Ctx<'_>, spec: &ResourceSpec, key_id: &str) -> Result<()> {
    let name = s(spec, "alias")?.to_string();
    let kms = &ctx.clients.kms;
    match kms
        .create_alias()
        .alias_name(&name)
        .target_key_id(key_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e).as_deref() == Some("AlreadyExistsException") => {
            let aliases: Vec<_> = kms
                .list_aliases()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error("listing KMS aliases", e))?;
            let target = aliases
                .iter()
                .find(|a| a.alias_name() == Some(name.as_str()))
                .and_then(|a| a.target_key_id());
            // Our own earlier attempt (the SDK retried after a lost answer).
            if target == Some(key_id) {
                return Ok(());
            }
            let dying = match target {
                Some(t) => describe(ctx, t).await?.key_state() == Some(&KeyState::PendingDeletion),
                None => false,
            };
            if !dying {
                anyhow::bail!("KMS alias {name} already names another key: delete or rename it");
            }
            kms.update_alias()
                .alias_name(&name)
                .target_key_id(key_id)
                .send()
                .await
                .map_err(|e| aws_error(&format!("moving KMS alias {name}"), e))?;
            Ok(())
        }
        Err(e) => Err(aws_error(&format!("creating KMS alias {name}"), e)),
    }
}

#[async_trait]
impl Provider for KmsKeyProvider {
    fn kind(&self) -> Kind {
        Kind::KmsKey
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let kms = &ctx.clients.kms;
        let aliases: Vec<_> = kms
            .list_aliases()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing KMS aliases", e))?;
        let keys: Vec<_> = kms
            .list_keys()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing KMS keys", e))?;
        let ours = format!("alias/{}", ctx.name_prefix());
        let aliases_of = |key_id: &str| -> Vec<&str> {
            aliases
                .iter()
                .filter(|a| a.target_key_id() == Some(key_id))
                .filter_map(|a| a.alias_name())
                .collect()
        };
        let mut found: Vec<Observed> = Vec::new();
        for a in &aliases {
            let (Some(name), Some(target)) = (a.alias_name(), a.target_key_id()) else {
                continue;
            };
            // A second alias on the same key (made by hand) is not a second key: deleting it
            // as a duplicate would schedule the deletion of the key in use.
            if !name.starts_with(&ours) || found.iter().any(|o| o.physical_id == target) {
                continue;
            }
            found.extend(read(ctx, target, &aliases_of(target)).await?);
        }
        // Keys no alias names: AWS managed keys always have one, so these are few.
        let unaliased: Vec<String> = keys
            .iter()
            .filter_map(|k| k.key_id())
            .filter(|id| !aliases.iter().any(|a| a.target_key_id() == Some(*id)))
            .map(str::to_string)
            .collect();
        found.extend(read_each(unaliased, |id| async move { read(ctx, &id, &[]).await }).await?);
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let (partition, account) = caller_account(ctx).await?;
        let tags: Vec<Tag> = ctx
            .tags(spec)
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().ok())
            .collect();
        let kms = &ctx.clients.kms;
        let meta = kms
            .create_key()
            .description(s(spec, "description")?)
            .policy(policy(&partition, &account, &strs(spec, "services")))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating KMS key {}", spec.name), e))?
            .key_metadata
            .ok_or_else(|| anyhow!("CreateKey returned no metadata"))?;
        let key_id = meta.key_id().to_string();
        // KMS is eventually consistent: a key just made may be NotFound for a moment to the
        // calls that follow (KMS Developer Guide, "Eventual consistency";
        // terraform-provider-aws waits the same way before configuring a new key).
        wait_for(
            &format!("KMS key {key_id} to be visible"),
            KEY_PROPAGATION,
            || async {
                match kms.describe_key().key_id(&key_id).send().await {
                    Ok(_) => Ok(true),
                    Err(e) if error_code(&e).as_deref() == Some("NotFoundException") => Ok(false),
                    Err(e) => Err(aws_error(&format!("describing KMS key {key_id}"), e)),
                }
            },
        )
        .await?;
        let current = Observed::new(&spec.id, Kind::KmsKey, &key_id)
            .prop("rotation", Val::Bool(false))
            .output("arn", meta.arn().unwrap_or_default())
            .output("id", &key_id);
        self.update(ctx, spec, &current).await
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let key_id = current.physical_id.as_str();
        let kms = &ctx.clients.kms;
        if changed(spec, current, "rotation") {
            let doing = format!("setting the rotation of KMS key {key_id}");
            if b(spec, "rotation")? {
                kms.enable_key_rotation()
                    .key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| aws_error(&doing, e))?;
            } else {
                kms.disable_key_rotation()
                    .key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| aws_error(&doing, e))?;
            }
        }
        // A key just created carries the policy it was created with.
        if current.props.contains_key("services") && changed(spec, current, "services") {
            let (partition, account) = caller_account(ctx).await?;
            kms.put_key_policy()
                .key_id(key_id)
                .policy_name("default")
                .policy(policy(&partition, &account, &strs(spec, "services")))
                .send()
                .await
                .map_err(|e| aws_error(&format!("writing the policy of KMS key {key_id}"), e))?;
        }
        if current.props.contains_key("description") && changed(spec, current, "description") {
            kms.update_key_description()
                .key_id(key_id)
                .description(s(spec, "description")?)
                .send()
                .await
                .map_err(|e| aws_error(&format!("describing KMS key {key_id}"), e))?;
        }
        if changed(spec, current, "alias") {
            set_alias(ctx, spec, key_id).await?;
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let kms = &ctx.clients.kms;
        let key_id = current.physical_id.as_str();
        // The alias first, so the name is free for a new key at once.
        if let Some(name) = current.props.get("alias").and_then(Val::as_str) {
            match kms.delete_alias().alias_name(name).send().await {
                Ok(_) => {}
                Err(e) if error_code(&e).as_deref() == Some("NotFoundException") => {}
                Err(e) => return Err(aws_error(&format!("deleting KMS alias {name}"), e)),
            }
        }
        match kms
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(DELETION_WINDOW_DAYS)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already scheduled (KMSInvalidStateException) or gone: what was wanted.
            Err(e)
                if matches!(
                    error_code(&e).as_deref(),
                    Some("NotFoundException" | "KMSInvalidStateException")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_error(
                &format!("scheduling the deletion of KMS key {key_id}"),
                e,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_keeps_the_account_in_charge_and_names_its_services() {
        let doc = policy("aws", "111122223333", &["cloudwatch.amazonaws.com".into()]);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(
            v["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111122223333:root"
        );
        assert_eq!(v["Statement"][0]["Action"], "kms:*");
        assert_eq!(
            v["Statement"][1]["Condition"]["StringEquals"]["aws:SourceAccount"],
            "111122223333"
        );
        assert_eq!(policy_services(&doc), vec!["cloudwatch.amazonaws.com"]);
        let no_services = policy("aws-cn", "111122223333", &[]);
        assert!(policy_services(&no_services).is_empty());
        assert!(no_services.contains("arn:aws-cn:iam::111122223333:root"));
    }

    #[test]
    fn services_are_read_from_any_allowing_statement() {
        let doc = r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"}}}"#;
        assert_eq!(policy_services(doc), vec!["sns.amazonaws.com"]);
        let denied = r#"{"Statement":[{"Effect":"Deny","Principal":{"Service":"x"}}]}"#;
        assert!(policy_services(denied).is_empty());
        assert!(policy_services("not json").is_empty());
    }
}
