//! AWS Backup tags (ListTags serves vaults and plans) and ownership.

use crate::aws::ctx::Ctx;
use crate::aws::sdk::aws_error;
use anyhow::Result;
use std::collections::HashMap;

/// The tags of a vault or plan (AWS Backup's ListTags serves both).
pub(super) async fn tags_of(
    ctx: &Ctx<'_>,
    arn: &str,
    what: &str,
) -> Result<HashMap<String, String>> {
    let out = ctx
        .clients
        .backup
        .list_tags()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading tags of {what}"), e))?;
    Ok(out.tags.unwrap_or_default())
}

/// The logical id and stack of a vault or plan, if this deployment owns it.
pub(super) async fn backup_owner(
    ctx: &Ctx<'_>,
    arn: &str,
    what: &str,
) -> Result<Option<(String, String)>> {
    let tags = tags_of(ctx, arn, what).await?;
    Ok(ctx.owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}
