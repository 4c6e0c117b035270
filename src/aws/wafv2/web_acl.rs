//! AWS WAF web ACLs in front of internet-facing balancers: AWS's baseline managed rule groups
//! (common exploits, known bad inputs), everything else allowed. One ACL per balancer, named
//! after it, found by name and tags; its association with the balancer is part of it.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, changed, coded, delete_waiting, error_code, observed_from_spec, read_each,
    retry_while, s, str_list, strs, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_wafv2::types::{
    AllowAction, DefaultAction, ManagedRuleGroupStatement, NoneAction, OverrideAction,
    ResourceType, Rule, Scope, Statement, Tag, VisibilityConfig,
};
use std::time::Duration;

/// Every attribute of a wafv2 web acl: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::WebAcl,
    &[
        Attr::new("description"),
        Attr::new("managed_rule_groups"),
        Attr::new("resource_arn"),
    ],
);

pub struct WebAclProvider;

/// Right after an ACL or a balancer is made, WAF may not see it yet; terraform-provider-aws
/// retries these for minutes (issues #17527, #29080; WAFv2 API reference, AssociateWebACL).
const PROPAGATING: &[&str] = &[
    "WAFUnavailableEntityException",
    "WAFNonexistentItemException",
];
const PROPAGATION_WAIT: Duration = Duration::from_secs(300);

fn visibility(metric: &str) -> Result<VisibilityConfig> {
    // Metric names allow letters, digits, - and _ only.
    let metric: String = metric
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(metric)
        .build()?)
}

/// One rule per AWS managed rule group, in the stack's order (their priority).
fn rules(spec: &ResourceSpec) -> Result<Vec<Rule>> {
    strs(spec, "managed_rule_groups")
        .iter()
        .enumerate()
        .map(|(i, group)| {
            Ok(Rule::builder()
                .name(group)
                .priority(i as i32)
                .statement(
                    Statement::builder()
                        .managed_rule_group_statement(
                            ManagedRuleGroupStatement::builder()
                                .vendor_name("AWS")
                                .name(group)
                                .build()?,
                        )
                        .build(),
                )
                // A rule group's own actions apply (its rules block).
                .override_action(
                    OverrideAction::builder()
                        .none(NoneAction::builder().build())
                        .build(),
                )
                .visibility_config(visibility(&format!("{}-{group}", spec.name))?)
                .build()?)
        })
        .collect()
}

fn allow_by_default() -> DefaultAction {
    DefaultAction::builder()
        .allow(AllowAction::builder().build())
        .build()
}

/// The ACL's id, name and current lock token (every change needs the latest).
struct Handle {
    name: String,
    id: String,
}

fn handle(current: &Observed) -> Handle {
    Handle {
        name: current.name.clone(),
        id: current.outputs.get("id").cloned().unwrap_or_default(),
    }
}

async fn lock_token(ctx: &Ctx<'_>, h: &Handle) -> Result<String, (Option<String>, anyhow::Error)> {
    let out = ctx
        .clients
        .wafv2
        .get_web_acl()
        .name(&h.name)
        .id(&h.id)
        .scope(Scope::Regional)
        .send()
        .await
        .map_err(|e| coded(&format!("reading web ACL {}", h.name), e))?;
    out.lock_token.ok_or_else(|| {
        (
            None,
            anyhow!("GetWebACL returned no lock token for {}", h.name),
        )
    })
}

async fn associate(ctx: &Ctx<'_>, acl_arn: &str, resource: &str) -> Result<()> {
    retry_while(PROPAGATING, PROPAGATION_WAIT, || async {
        ctx.clients
            .wafv2
            .associate_web_acl()
            .web_acl_arn(acl_arn)
            .resource_arn(resource)
            .send()
            .await
            .map(drop)
            .map_err(|e| coded(&format!("protecting {resource} with web ACL {acl_arn}"), e))
    })
    .await
    .map_err(|(_, e)| e)
}

async fn disassociate(ctx: &Ctx<'_>, resource: &str) -> Result<()> {
    match ctx
        .clients
        .wafv2
        .disassociate_web_acl()
        .resource_arn(resource)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e).as_deref() == Some("WAFNonexistentItemException") => Ok(()),
        Err(e) => Err(aws_error(&format!("removing the web ACL of {resource}"), e)),
    }
}

#[async_trait]
impl Provider for WebAclProvider {
    fn kind(&self) -> Kind {
        Kind::WebAcl
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let waf = &ctx.clients.wafv2;
        // ListWebACLs has no paginator in the SDK: NextMarker by hand. WAF returns a marker even
        // with the last page (boto/boto3#3715), so an empty page or a repeated marker ends it.
        let mut summaries = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = waf
                .list_web_acls()
                .scope(Scope::Regional)
                .limit(100)
                .set_next_marker(marker.clone())
                .send()
                .await
                .map_err(|e| aws_error("listing web ACLs", e))?;
            summaries.extend(out.web_acls().iter().cloned());
            match out.next_marker() {
                Some(m)
                    if !m.is_empty()
                        && !out.web_acls().is_empty()
                        && marker.as_deref() != Some(m) =>
                {
                    marker = Some(m.into())
                }
                _ => break,
            }
        }
        let prefix = ctx.name_prefix();
        let ours = summaries
            .into_iter()
            .filter(|a| a.name().is_some_and(|n| n.starts_with(&prefix)));
        read_each(ours, |a| async move {
            let (Some(arn), Some(name), Some(id)) = (a.arn(), a.name(), a.id()) else {
                return Ok(None);
            };
            let waf = &ctx.clients.wafv2;
            let tags = waf
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading tags of web ACL {name}"), e))?;
            let pairs = tags
                .tag_info_for_resource()
                .map(|t| t.tag_list())
                .unwrap_or_default()
                .iter()
                .map(|t| (t.key(), t.value()));
            let Some((logical, stack)) = ctx.owner(pairs) else {
                return Ok(None);
            };
            let acl = waf
                .get_web_acl()
                .name(name)
                .id(id)
                .scope(Scope::Regional)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading web ACL {name}"), e))?;
            let mut groups: Vec<(i32, String)> = acl
                .web_acl()
                .map(|w| w.rules())
                .unwrap_or_default()
                .iter()
                .filter_map(|r| {
                    let g = r.statement()?.managed_rule_group_statement()?;
                    Some((r.priority(), g.name().to_string()))
                })
                .collect();
            groups.sort();
            let protected = waf
                .list_resources_for_web_acl()
                .web_acl_arn(arn)
                .resource_type(ResourceType::ApplicationLoadBalancer)
                .send()
                .await
                .map_err(|e| aws_error(&format!("listing what web ACL {name} protects"), e))?;
            let description = acl
                .web_acl()
                .and_then(|w| w.description())
                .unwrap_or_default();
            let mut o = Observed::new(&logical, Kind::WebAcl, arn)
                .prop("description", Val::str(description))
                .prop(
                    "managed_rule_groups",
                    str_list(groups.into_iter().map(|(_, g)| g)),
                )
                .prop(
                    "resource_arn",
                    Val::str(
                        protected
                            .resource_arns()
                            .first()
                            .map(String::as_str)
                            .unwrap_or_default(),
                    ),
                )
                .output("arn", arn)
                .output("id", id);
            o.name = name.to_string();
            o.stack = stack;
            Ok(Some(o))
        })
        .await
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let tags: Vec<Tag> = ctx
            .tags(spec)
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let summary = ctx
            .clients
            .wafv2
            .create_web_acl()
            .name(&spec.name)
            .scope(Scope::Regional)
            .default_action(allow_by_default())
            .description(s(spec, "description")?)
            .set_rules(Some(rules(spec)?))
            .visibility_config(visibility(&spec.name)?)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating web ACL {}", spec.name), e))?
            .summary
            .ok_or_else(|| anyhow!("CreateWebACL returned no summary"))?;
        let arn = summary.arn().unwrap_or_default().to_string();
        associate(ctx, &arn, s(spec, "resource_arn")?).await?;
        Ok(observed_from_spec(spec, &arn)
            .output("arn", &arn)
            .output("id", summary.id().unwrap_or_default()))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let arn = current.physical_id.as_str();
        let h = handle(current);
        if changed(spec, current, "managed_rule_groups") || changed(spec, current, "description") {
            // Another writer in between makes the token stale: read it again and retry.
            retry_while(
                &["WAFOptimisticLockException"],
                PROPAGATION_WAIT,
                || async {
                    let token = lock_token(ctx, &h).await?;
                    ctx.clients
                        .wafv2
                        .update_web_acl()
                        .name(&h.name)
                        .id(&h.id)
                        .scope(Scope::Regional)
                        .lock_token(token)
                        .default_action(allow_by_default())
                        .description(s(spec, "description").map_err(|e| (None, e))?)
                        .set_rules(Some(rules(spec).map_err(|e| (None, e))?))
                        .visibility_config(visibility(&spec.name).map_err(|e| (None, e))?)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| coded(&format!("updating web ACL {}", h.name), e))
                },
            )
            .await
            .map_err(|(_, e)| e)?;
        }
        if changed(spec, current, "resource_arn") {
            if let Some(old) = current.props.get("resource_arn").and_then(Val::as_str) {
                if !old.is_empty() {
                    disassociate(ctx, old).await?;
                }
            }
            associate(ctx, arn, s(spec, "resource_arn")?).await?;
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        if let Some(resource) = current.props.get("resource_arn").and_then(Val::as_str) {
            if !resource.is_empty() {
                disassociate(ctx, resource).await?;
            }
        }
        let h = handle(current);
        // The association takes a moment to clear (WAFAssociatedItemException until then).
        let busy = [
            "WAFAssociatedItemException",
            "WAFUnavailableEntityException",
            "WAFOptimisticLockException",
        ];
        delete_waiting(&busy, "WAFNonexistentItemException", || async {
            let token = lock_token(ctx, &h).await?;
            ctx.clients
                .wafv2
                .delete_web_acl()
                .name(&h.name)
                .id(&h.id)
                .scope(Scope::Regional)
                .lock_token(token)
                .send()
                .await
                .map(drop)
                .map_err(|e| coded(&format!("deleting web ACL {}", h.name), e))
        })
        .await
    }
}
