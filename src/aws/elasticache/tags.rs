//! ElastiCache tags and ownership.

use crate::aws::ctx::Ctx;
use crate::aws::sdk::aws_error;
use crate::resource::ResourceSpec;
use anyhow::Result;
use aws_sdk_elasticache::types::Tag;

pub(super) fn elasticache_tags(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Vec<Tag> {
    ctx.tags(spec)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of an ElastiCache resource.
pub(super) async fn elasticache_tags_of(ctx: &Ctx<'_>, arn: &str) -> Result<Vec<(String, String)>> {
    let tags = ctx
        .clients
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading tags of {arn}"), e))?;
    Ok(tags
        .tag_list()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect())
}

/// The owner of an ElastiCache resource, read from its tags.
pub(super) async fn elasticache_owner(
    ctx: &Ctx<'_>,
    arn: &str,
) -> Result<Option<(String, String)>> {
    let tags = elasticache_tags_of(ctx, arn).await?;
    Ok(ctx.owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}
