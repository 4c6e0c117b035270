//! DynamoDB tags.

use crate::aws::ctx::Ctx;
use crate::resource::ResourceSpec;
use anyhow::Result;

pub fn dynamodb_tags(
    ctx: &Ctx<'_>,
    spec: &ResourceSpec,
) -> Result<Vec<aws_sdk_dynamodb::types::Tag>> {
    ctx.tags(spec)
        .into_iter()
        .map(|(k, v)| {
            aws_sdk_dynamodb::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(anyhow::Error::from)
        })
        .collect()
}
