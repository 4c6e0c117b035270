//! Listener rules: requests whose path matches go to a service's target group, the rest to the
//! listener's default. Found through the deployment's listeners.

use super::tags::{elb_owner, elb_tag_list, elb_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, error_code, i, observed_from_spec, s, str_list, strs, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, PathPatternConditionConfig, RuleCondition, RulePriorityPair,
};

/// Every attribute of an elbv2 listener rule: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::ListenerRule,
    &[
        Attr::new("forward_to"),
        Attr::new("listener_arn").replaces(),
        Attr::new("path_patterns"),
        Attr::new("priority"),
    ],
);

pub struct ListenerRuleProvider;

fn condition(spec: &ResourceSpec) -> RuleCondition {
    RuleCondition::builder()
        .field("path-pattern")
        .path_pattern_config(
            PathPatternConditionConfig::builder()
                .set_values(Some(strs(spec, "path_patterns")))
                .build(),
        )
        .build()
}

fn forward(spec: &ResourceSpec) -> Result<Action> {
    Ok(Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(s(spec, "forward_to")?)
        .build())
}

#[async_trait]
impl Provider for ListenerRuleProvider {
    fn kind(&self) -> Kind {
        Kind::ListenerRule
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::Listener]
    }

    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let mut rules = Vec::new();
        for listener in found.iter().filter(|o| o.kind == Kind::Listener) {
            let out = ctx
                .clients
                .elb
                .describe_rules()
                .listener_arn(&listener.physical_id)
                .send()
                .await
                .map_err(|e| aws_error(&format!("listing rules of {}", listener.name), e))?;
            rules.extend(
                out.rules()
                    .iter()
                    .filter(|r| !r.is_default().unwrap_or(false))
                    .map(|r| (listener.physical_id.clone(), r.clone())),
            );
        }
        let arns: Vec<String> = rules
            .iter()
            .filter_map(|(_, r)| r.rule_arn().map(str::to_string))
            .collect();
        let tags = elb_tags(ctx, &arns).await?;
        let mut out = Vec::new();
        for (listener, r) in rules {
            let arn = r.rule_arn().unwrap_or_default();
            let Some((id, stack)) = elb_owner(ctx, tags.get(arn)) else {
                continue;
            };
            let name = tags
                .get(arn)
                .and_then(|t| t.iter().find(|(k, _)| k == "Name"))
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let patterns: Vec<String> = r
                .conditions()
                .iter()
                .filter(|c| c.field() == Some("path-pattern"))
                .flat_map(|c| {
                    let configured = c
                        .path_pattern_config()
                        .map(|p| p.values().to_vec())
                        .unwrap_or_default();
                    if configured.is_empty() {
                        c.values().to_vec()
                    } else {
                        configured
                    }
                })
                .collect();
            let target = r
                .actions()
                .iter()
                .find_map(|a| a.target_group_arn())
                .unwrap_or_default();
            let mut o = Observed::new(&id, Kind::ListenerRule, arn)
                .prop("listener_arn", Val::Str(listener))
                .prop(
                    "priority",
                    Val::Int(r.priority().and_then(|p| p.parse().ok()).unwrap_or(0)),
                )
                .prop("path_patterns", str_list(patterns))
                .prop("forward_to", Val::str(target))
                .output("arn", arn);
            o.name = name;
            o.stack = stack;
            out.push(o);
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .elb
            .create_rule()
            .listener_arn(s(spec, "listener_arn")?)
            .priority(i(spec, "priority")? as i32)
            .conditions(condition(spec))
            .actions(forward(spec)?)
            .set_tags(Some(elb_tag_list(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating listener rule {}", spec.id), e))?;
        let arn = out
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .unwrap_or_default();
        Ok(observed_from_spec(spec, arn).output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let arn = current.physical_id.as_str();
        let elb = &ctx.clients.elb;
        elb.modify_rule()
            .rule_arn(arn)
            .conditions(condition(spec))
            .actions(forward(spec)?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("modifying listener rule {arn}"), e))?;
        if current.props.get("priority") != spec.props.get("priority") {
            elb.set_rule_priorities()
                .rule_priorities(
                    RulePriorityPair::builder()
                        .rule_arn(arn)
                        .priority(i(spec, "priority")? as i32)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_error(&format!("reordering listener rule {arn}"), e))?;
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let arn = current.physical_id.as_str();
        match ctx.clients.elb.delete_rule().rule_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("RuleNotFound") => Ok(()),
            Err(e) => Err(aws_error(&format!("deleting listener rule {arn}"), e)),
        }
    }
}
