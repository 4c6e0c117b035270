//! ECS tags and ownership.

use crate::aws::ctx::Ctx;
use crate::resource::ResourceSpec;

pub(super) fn ecs_tags(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Vec<aws_sdk_ecs::types::Tag> {
    ctx.tags(spec)
        .into_iter()
        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
        .collect()
}

pub(super) fn ecs_owner(
    ctx: &Ctx<'_>,
    tags: &[aws_sdk_ecs::types::Tag],
) -> Option<(String, String)> {
    ctx.owner(
        tags.iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
    )
}
