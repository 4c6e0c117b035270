//! EC2 tags: tag specifications, ownership, names.

use crate::aws::ctx::Ctx;
use crate::aws::sdk::filter;
use crate::deployment::TAG_DEPLOYMENT;
use crate::resource::ResourceSpec;

/// The EC2 filter selecting what this deployment owns.
pub fn owned_filter(ctx: &Ctx<'_>) -> aws_sdk_ec2::types::Filter {
    filter(&format!("tag:{TAG_DEPLOYMENT}"), ctx.env())
}

/// EC2 tag specifications for a resource type.
pub fn ec2_tags(
    ctx: &Ctx<'_>,
    spec: &ResourceSpec,
    resource_type: aws_sdk_ec2::types::ResourceType,
) -> aws_sdk_ec2::types::TagSpecification {
    let tags = ctx.tags(spec);
    tag_specification(
        resource_type,
        tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
    )
}

/// EC2 tag specifications for a resource type, from (key, value) pairs.
pub fn tag_specification<'a>(
    resource_type: aws_sdk_ec2::types::ResourceType,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> aws_sdk_ec2::types::TagSpecification {
    let mut b = aws_sdk_ec2::types::TagSpecification::builder().resource_type(resource_type);
    for (k, v) in tags {
        b = b.tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build());
    }
    b.build()
}

pub fn ec2_owner(ctx: &Ctx<'_>, tags: &[aws_sdk_ec2::types::Tag]) -> Option<(String, String)> {
    ctx.owner(
        tags.iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
    )
}

pub fn ec2_name(tags: &[aws_sdk_ec2::types::Tag]) -> String {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .unwrap_or_default()
        .to_string()
}
