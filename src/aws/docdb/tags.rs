//! DocumentDB tags and ownership, and the engine filter every listing takes.

use crate::aws::ctx::Ctx;
use crate::aws::sdk::aws_error;
use crate::resource::ResourceSpec;
use anyhow::Result;
use aws_sdk_docdb::types::{Filter, Tag};

pub(super) fn docdb_tags(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Vec<Tag> {
    ctx.tags(spec)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Only DocumentDB's: the same listing also answers with RDS (Aurora) and Neptune resources.
pub(super) fn docdb_only() -> Filter {
    Filter::builder().name("engine").values("docdb").build()
}

/// The owner of a DocumentDB resource, read from its tags (listings of parameter groups carry
/// none).
pub(super) async fn docdb_owner(ctx: &Ctx<'_>, arn: &str) -> Result<Option<(String, String)>> {
    let tags = ctx
        .clients
        .docdb
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
