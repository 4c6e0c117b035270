//! EFS tags and ownership.

use crate::aws::ctx::Ctx;
use crate::resource::ResourceSpec;
use anyhow::Result;

pub(super) fn efs_tags(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Vec<aws_sdk_efs::types::Tag>> {
    ctx.tags(spec)
        .into_iter()
        .map(|(k, v)| {
            aws_sdk_efs::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(anyhow::Error::from)
        })
        .collect()
}

pub(super) fn efs_owner(
    ctx: &Ctx<'_>,
    tags: &[aws_sdk_efs::types::Tag],
) -> Option<(String, String)> {
    ctx.owner(tags.iter().map(|t| (t.key(), t.value())))
}
