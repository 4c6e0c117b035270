//! ELB tags: reading them in batches, ownership, tag lists.

use crate::aws::ctx::Ctx;
use crate::aws::sdk::aws_error;
use crate::resource::ResourceSpec;
use anyhow::Result;
use aws_sdk_elasticloadbalancingv2::types::Tag;
use std::collections::HashMap;

/// Tags of ELB resources, 20 ARNs per call (the API's limit).
pub(super) async fn elb_tags(
    ctx: &Ctx<'_>,
    arns: &[String],
) -> Result<HashMap<String, Vec<(String, String)>>> {
    let mut out = HashMap::new();
    for chunk in arns.chunks(20) {
        let resp = ctx
            .clients
            .elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("reading load balancing tags", e))?;
        for d in resp.tag_descriptions() {
            let tags = d
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            out.insert(d.resource_arn().unwrap_or_default().to_string(), tags);
        }
    }
    Ok(out)
}

pub(super) fn elb_owner(
    ctx: &Ctx<'_>,
    tags: Option<&Vec<(String, String)>>,
) -> Option<(String, String)> {
    ctx.owner(tags?.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

pub(super) fn elb_tag_list(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Vec<Tag> {
    ctx.tags(spec)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
