//! IAM tags.

use crate::aws::ctx::Ctx;
use crate::resource::ResourceSpec;
use anyhow::Result;

/// The ownership tags of an IAM role or instance profile.
pub(super) fn iam_tags(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    ctx.tags(spec)
        .into_iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(anyhow::Error::from)
        })
        .collect()
}
