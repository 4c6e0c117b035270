//! AWS X-Ray for a traced tier: a group (the tier's traces, for the service map and Insights) and
//! a sampling rule. Both carry the ownership tags, but X-Ray has no listing by tag, and asking
//! it on every plan would make X-Ray a requirement of every deployment. So the tier's Auto
//! Scaling group gets a marker tag naming each X-Ray resource (set before the resource is
//! created, removed after it is deleted), and X-Ray is asked only about marked names.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_XRAY` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "XRAY";

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, changed, error_code, f, i, observed_from_spec, s, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_xray::types::{InsightsConfiguration, SamplingRule, SamplingRuleUpdate, Tag};

/// Every attribute of an xray group: what expansion writes and this provider reads.
static GROUP_SCHEMA: Schema = Schema::new(
    Kind::TracingGroup,
    &[
        Attr::new("asg_name"),
        Attr::new("filter_expression"),
        Attr::new("insights"),
    ],
);

/// Every attribute of an xray sampling rule: what expansion writes and this provider reads.
static RULE_SCHEMA: Schema = Schema::new(
    Kind::SamplingRule,
    &[
        Attr::new("asg_name"),
        Attr::new("fixed_rate"),
        Attr::new("priority"),
        Attr::new("reservoir_size"),
        Attr::new("service_name"),
    ],
);

/// Marks an Auto Scaling group whose tier has an X-Ray group (value: the group's name).
pub const TAG_XRAY_GROUP: &str = "ftctl:xray-group";
/// Marks an Auto Scaling group whose tier has an X-Ray sampling rule (value: the rule's name).
pub const TAG_XRAY_RULE: &str = "ftctl:xray-sampling-rule";

/// Which X-Ray resource.
#[derive(Clone, Copy)]
pub enum Traced {
    Group,
    SamplingRule,
}

pub struct XrayProvider(pub Traced);

impl Traced {
    fn kind(self) -> Kind {
        match self {
            Traced::Group => Kind::TracingGroup,
            Traced::SamplingRule => Kind::SamplingRule,
        }
    }
    pub fn marker(self) -> &'static str {
        match self {
            Traced::Group => TAG_XRAY_GROUP,
            Traced::SamplingRule => TAG_XRAY_RULE,
        }
    }
    /// The Auto Scaling group output carrying the marker's value.
    pub fn output(self) -> &'static str {
        match self {
            Traced::Group => "xray_group",
            Traced::SamplingRule => "xray_sampling_rule",
        }
    }

    /// Sets (`Some(name)`) or removes the marker tag on the tier's Auto Scaling group.
    async fn mark(self, ctx: &Ctx<'_>, group: &str, name: Option<&str>) -> Result<()> {
        let asg = &ctx.clients.autoscaling;
        let tag = aws_sdk_autoscaling::types::Tag::builder()
            .key(self.marker())
            .resource_id(group)
            .resource_type("auto-scaling-group")
            .propagate_at_launch(false);
        match name {
            Some(name) => asg
                .create_or_update_tags()
                .tags(tag.value(name).build())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(&format!("marking {group} as traced"), e)),
            None => match asg.delete_tags().tags(tag.build()).send().await {
                Ok(_) => Ok(()),
                // The group may be gone already (destroyed out of order by hand).
                Err(e) if error_code(&e).as_deref() == Some("ValidationError") => Ok(()),
                Err(e) => Err(aws_error(&format!("unmarking {group}"), e)),
            },
        }
    }
}

fn tags(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Vec<Tag> {
    ctx.tags(spec)
        .into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

async fn owner(ctx: &Ctx<'_>, arn: &str) -> Result<Option<(String, String)>> {
    let tags: Vec<Tag> = ctx
        .clients
        .xray
        .list_tags_for_resource()
        .resource_arn(arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error(&format!("reading the tags of {arn}"), e))?;
    Ok(ctx.owner(tags.iter().map(|t| (t.key(), t.value()))))
}

fn insights(spec: &ResourceSpec) -> Result<InsightsConfiguration> {
    Ok(InsightsConfiguration::builder()
        .insights_enabled(b(spec, "insights")?)
        .build())
}

async fn put_group(ctx: &Ctx<'_>, spec: &ResourceSpec, create: bool) -> Result<String> {
    let xray = &ctx.clients.xray;
    let name = spec.name.as_str();
    let group = if create {
        xray.create_group()
            .group_name(name)
            .filter_expression(s(spec, "filter_expression")?)
            .insights_configuration(insights(spec)?)
            .set_tags(Some(tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating X-Ray group {name}"), e))?
            .group
    } else {
        xray.update_group()
            .group_name(name)
            .filter_expression(s(spec, "filter_expression")?)
            .insights_configuration(insights(spec)?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("updating X-Ray group {name}"), e))?
            .group
    };
    Ok(group
        .and_then(|g| g.group_arn)
        .unwrap_or_else(|| name.to_string()))
}

fn sampling_rule(spec: &ResourceSpec) -> Result<SamplingRule> {
    Ok(SamplingRule::builder()
        .rule_name(&spec.name)
        .resource_arn("*")
        .priority(i(spec, "priority")? as i32)
        .fixed_rate(f(spec, "fixed_rate")?)
        .reservoir_size(i(spec, "reservoir_size")? as i32)
        .service_name(s(spec, "service_name")?)
        .service_type("*")
        .host("*")
        .http_method("*")
        .url_path("*")
        .version(1)
        .build()?)
}

async fn put_rule(ctx: &Ctx<'_>, spec: &ResourceSpec, create: bool) -> Result<String> {
    let xray = &ctx.clients.xray;
    let name = spec.name.as_str();
    let record = if create {
        xray.create_sampling_rule()
            .sampling_rule(sampling_rule(spec)?)
            .set_tags(Some(tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating X-Ray sampling rule {name}"), e))?
            .sampling_rule_record
    } else {
        xray.update_sampling_rule()
            .sampling_rule_update(
                SamplingRuleUpdate::builder()
                    .rule_name(name)
                    .priority(i(spec, "priority")? as i32)
                    .fixed_rate(f(spec, "fixed_rate")?)
                    .reservoir_size(i(spec, "reservoir_size")? as i32)
                    .service_name(s(spec, "service_name")?)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("updating X-Ray sampling rule {name}"), e))?
            .sampling_rule_record
    };
    Ok(record
        .and_then(|r| r.sampling_rule)
        .and_then(|r| r.rule_arn)
        .unwrap_or_else(|| name.to_string()))
}

#[async_trait]
impl Provider for XrayProvider {
    fn kind(&self) -> Kind {
        self.0.kind()
    }

    fn schema(&self) -> &'static Schema {
        match self.0 {
            Traced::Group => &GROUP_SCHEMA,
            Traced::SamplingRule => &RULE_SCHEMA,
        }
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::AutoScalingGroup]
    }

    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        let traced = self.0;
        // (X-Ray name, the marked Auto Scaling group's name)
        let marked: Vec<(&str, &str)> = found
            .iter()
            .filter(|o| o.kind == Kind::AutoScalingGroup)
            .filter_map(|o| {
                let name = o.outputs.get(traced.output())?;
                Some((name.as_str(), o.physical_id.as_str()))
            })
            .collect();
        if marked.is_empty() {
            return Ok(Vec::new());
        }
        let xray = &ctx.clients.xray;
        let mut out = Vec::new();
        match traced {
            Traced::Group => {
                for (name, asg) in marked {
                    let group = match xray.get_group().group_name(name).send().await {
                        Ok(answer) => answer.group,
                        // A marker left by a run that stopped before creating the group.
                        Err(e) if error_code(&e).as_deref() == Some("InvalidRequestException") => {
                            None
                        }
                        Err(e) => return Err(aws_error(&format!("reading X-Ray group {name}"), e)),
                    };
                    let Some(group) = group else { continue };
                    let arn = group.group_arn().unwrap_or_default();
                    let Some((id, stack)) = owner(ctx, arn).await? else {
                        continue;
                    };
                    // Known by ARN: the name is the tier's group's name too.
                    let mut o = Observed::new(&id, Kind::TracingGroup, arn)
                        .prop(
                            "filter_expression",
                            Val::str(group.filter_expression().unwrap_or_default()),
                        )
                        .prop(
                            "insights",
                            Val::Bool(
                                group
                                    .insights_configuration()
                                    .and_then(|c| c.insights_enabled())
                                    .unwrap_or(false),
                            ),
                        )
                        .prop("asg_name", Val::str(asg))
                        .output("name", name)
                        .output("arn", arn);
                    o.name = name.to_string();
                    o.stack = stack;
                    out.push(o);
                }
            }
            Traced::SamplingRule => {
                let records: Vec<_> = xray
                    .get_sampling_rules()
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| aws_error("listing X-Ray sampling rules", e))?;
                for record in records {
                    let Some(rule) = record.sampling_rule() else {
                        continue;
                    };
                    let Some(&(name, asg)) = marked
                        .iter()
                        .find(|(name, _)| rule.rule_name() == Some(*name))
                    else {
                        continue;
                    };
                    let arn = rule.rule_arn().unwrap_or_default();
                    let Some((id, stack)) = owner(ctx, arn).await? else {
                        continue;
                    };
                    let mut o = Observed::new(&id, Kind::SamplingRule, arn)
                        .prop("service_name", Val::str(rule.service_name()))
                        .prop("fixed_rate", Val::Float(rule.fixed_rate()))
                        .prop("reservoir_size", Val::Int(rule.reservoir_size().into()))
                        .prop("priority", Val::Int(rule.priority().into()))
                        .prop("asg_name", Val::str(asg))
                        .output("name", name)
                        .output("arn", arn);
                    o.name = name.to_string();
                    o.stack = stack;
                    out.push(o);
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let traced = self.0;
        let asg = s(spec, "asg_name")?;
        // Marked first: an X-Ray resource that exists is then always looked for, even after a
        // crash between the two calls.
        traced.mark(ctx, asg, Some(&spec.name)).await?;
        let made = match traced {
            Traced::Group => put_group(ctx, spec, true).await,
            Traced::SamplingRule => put_rule(ctx, spec, true).await,
        };
        let arn = match made {
            Ok(arn) => arn,
            Err(e) => {
                // Nothing was made: take the mark off again (best effort; a stale mark costs
                // one lookup that finds nothing).
                let _ = traced.mark(ctx, asg, None).await;
                return Err(e);
            }
        };
        Ok(observed_from_spec(spec, &arn)
            .output("name", &spec.name)
            .output("arn", &arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let traced = self.0;
        if changed(spec, current, "asg_name") {
            traced
                .mark(ctx, s(spec, "asg_name")?, Some(&spec.name))
                .await?;
        }
        match traced {
            Traced::Group => put_group(ctx, spec, false).await?,
            Traced::SamplingRule => put_rule(ctx, spec, false).await?,
        };
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let traced = self.0;
        let xray = &ctx.clients.xray;
        let name = current.name.as_str();
        let doing = format!("deleting {} {name}", traced.kind());
        // InvalidRequestException: gone already (deleted by a run that stopped before unmarking).
        let gone = Some("InvalidRequestException");
        match traced {
            Traced::Group => match xray.delete_group().group_name(name).send().await {
                Err(e) if error_code(&e).as_deref() != gone => return Err(aws_error(&doing, e)),
                _ => {}
            },
            Traced::SamplingRule => {
                match xray.delete_sampling_rule().rule_name(name).send().await {
                    Err(e) if error_code(&e).as_deref() != gone => {
                        return Err(aws_error(&doing, e))
                    }
                    _ => {}
                }
            }
        }
        if let Some(asg) = current.props.get("asg_name").and_then(Val::as_str) {
            traced.mark(ctx, asg, None).await?;
        }
        Ok(())
    }
}
