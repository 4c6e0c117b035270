//! Reads shared by the providers of one `observe` in one region: a service that lists its
//! resources without what ftctl compares (tags, a role's policies) has, on AWS, an account-wide
//! call that answers it for all of them in a few pages. Each read is made at most once per
//! observe, and only when a provider asks for it; a provider that finds a resource the shared
//! read does not cover reads that one resource from its own service, so the answer is the same
//! either way, only the request count differs.

use crate::aws::ctx::Ctx;
use crate::aws::sdk::{aws_error, error_code};
use crate::deployment::TAG_DEPLOYMENT;
use anyhow::Result;
use aws_sdk_iam::types::{EntityType, RoleDetail};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use std::collections::HashMap;
use tokio::sync::OnceCell;

/// The resource types (Resource Groups Tagging API's `service:type`) whose providers take their
/// tags from the tag index. Only those whose own service has no tags in its listing and whose
/// ownership tags ftctl never changes after creation: the index can be behind the service.
/// GetResources answers every resource type but IAM users and roles and Auto Scaling groups
/// (API reference, "Services that support the Resource Groups Tagging API").
const INDEXED_TYPES: &[&str] = &["cloudwatch:alarm"];

/// The largest page GetResources gives (API reference: ResourcesPerPage, 1–100).
const RESOURCES_PER_PAGE: i32 = 100;

/// The largest page GetAccountAuthorizationDetails gives (API reference: MaxItems, 1–1000).
const ROLES_PER_PAGE: i32 = 1000;

/// Error codes that mean the caller may not make the shared read: the providers then read per
/// resource, as they would without it, and say so once.
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
];

/// The shared reads of one observe, in one region.
#[derive(Default)]
pub struct SharedReads {
    tags: OnceCell<TagIndex>,
    roles: OnceCell<Option<Vec<RoleDetail>>>,
}

/// Tags by ARN of every resource of `INDEXED_TYPES` in the region that carries a deployment tag
/// (any deployment's: a name prefix may be shared by two deployments, and one not in the index
/// costs a read of its own).
///
/// Advisory, never a listing: GetResources is eventually consistent and also answers resources
/// that were tagged once (Resource Groups Tagging API Reference, GetResources), so existence
/// still comes from each service's own listing, and a resource found there but not here (made
/// moments ago, or in a service this endpoint does not index) has its tags read from its service.
#[derive(Default)]
pub struct TagIndex(HashMap<String, Vec<(String, String)>>);

impl TagIndex {
    /// The tags of the resource `arn` names, if the index holds it.
    pub fn get(&self, arn: &str) -> Option<&[(String, String)]> {
        self.0.get(arn).map(Vec::as_slice)
    }
}

impl SharedReads {
    /// The tag index of the context's region (one paginated GetResources).
    pub async fn tags(&self, ctx: &Ctx<'_>) -> Result<&TagIndex> {
        self.tags
            .get_or_try_init(|| async {
                let pages: Result<Vec<_>, _> = ctx
                    .clients
                    .tagging
                    .get_resources()
                    .tag_filters(TagFilter::builder().key(TAG_DEPLOYMENT).build())
                    .set_resource_type_filters(Some(
                        INDEXED_TYPES.iter().map(|t| t.to_string()).collect(),
                    ))
                    .resources_per_page(RESOURCES_PER_PAGE)
                    .into_paginator()
                    .send()
                    .try_collect()
                    .await;
                let pages = match pages {
                    Ok(pages) => pages,
                    Err(e) if denied(error_code(&e).as_deref()) => {
                        tracing::warn!(
                            "tag:GetResources is not allowed ({}); reading each alarm's tags",
                            error_code(&e).unwrap_or_default()
                        );
                        return Ok(TagIndex::default());
                    }
                    Err(e) => return Err(aws_error("listing tagged resources", e)),
                };
                let index = pages
                    .iter()
                    .flat_map(|p| p.resource_tag_mapping_list())
                    .filter_map(|m| {
                        let tags = m
                            .tags()
                            .iter()
                            .map(|t| (t.key().to_string(), t.value().to_string()))
                            .collect();
                        Some((m.resource_arn()?.to_string(), tags))
                    })
                    .collect();
                Ok(TagIndex(index))
            })
            .await
    }

    /// Every role of the account under the deployment's IAM path, with its tags, trust, inline
    /// and attached policies and instance profiles (paginated GetAccountAuthorizationDetails,
    /// roles only). `None` when the caller may not make that call: roles are then read one by
    /// one.
    pub async fn roles(&self, ctx: &Ctx<'_>) -> Result<Option<&[RoleDetail]>> {
        let path = ctx.iam_path();
        let roles = self
            .roles
            .get_or_try_init(|| async {
                let pages: Result<Vec<_>, _> = ctx
                    .clients
                    .iam
                    .get_account_authorization_details()
                    .filter(EntityType::Role)
                    .max_items(ROLES_PER_PAGE)
                    .into_paginator()
                    .send()
                    .try_collect()
                    .await;
                match pages {
                    Ok(pages) => Ok(Some(
                        pages
                            .into_iter()
                            .flat_map(|p| p.role_detail_list.unwrap_or_default())
                            .filter(|r| r.path().is_some_and(|p| p.starts_with(&path)))
                            .collect(),
                    )),
                    Err(e) if denied(error_code(&e).as_deref()) => {
                        tracing::warn!(
                            "iam:GetAccountAuthorizationDetails is not allowed ({}); reading \
                             each role",
                            error_code(&e).unwrap_or_default()
                        );
                        Ok(None)
                    }
                    Err(e) => Err(aws_error("reading the account's roles", e)),
                }
            })
            .await?;
        Ok(roles.as_deref())
    }

    /// The tags of instance profile `name` as the roles read above show them, when they do
    /// (AWS's examples of GetAccountAuthorizationDetails show instance profiles without tags).
    pub async fn profile_tags(
        &self,
        ctx: &Ctx<'_>,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>> {
        let Some(roles) = self.roles(ctx).await? else {
            return Ok(None);
        };
        Ok(roles
            .iter()
            .flat_map(|r| r.instance_profile_list())
            .find(|p| p.instance_profile_name() == name)
            .and_then(|p| p.tags.as_ref())
            .filter(|tags| !tags.is_empty())
            .map(|tags| {
                tags.iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()
            }))
    }
}

fn denied(code: Option<&str>) -> bool {
    code.is_some_and(|c| DENIED.contains(&c))
}
