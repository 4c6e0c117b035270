//! RDS tags and ownership.

use crate::aws::ctx::Ctx;
use crate::aws::sdk::aws_error;
use crate::resource::ResourceSpec;
use anyhow::Result;
use aws_sdk_rds::types::Tag;

pub(super) fn rds_tags(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Vec<Tag> {
    ctx.tags(spec)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The owner of an RDS resource, read from its tags (RDS listings carry none for subnet and
/// parameter groups).
pub(super) async fn rds_owner(ctx: &Ctx<'_>, arn: &str) -> Result<Option<(String, String)>> {
    let tags = ctx
        .clients
        .rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading tags of {arn}"), e))?;
    Ok(ctx.owner(
        tags.tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
    ))
}
