//! CloudWatch metric alarms, each notifying the deployment's topic on ALARM and on OK.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, f, i, observed_from_spec, read_each, s, str_list, strs, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_cloudwatch::types::MetricAlarm;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use std::collections::BTreeMap;

/// Every attribute of a cloudwatch alarm: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::MetricAlarm,
    &[
        Attr::new("alarm_actions"),
        Attr::new("comparison_operator"),
        Attr::new("description"),
        Attr::new("dimensions"),
        Attr::new("evaluation_periods"),
        Attr::new("metric_name"),
        Attr::new("namespace"),
        Attr::new("ok_actions"),
        Attr::new("period"),
        Attr::new("region"),
        Attr::new("statistic"),
        Attr::new("threshold"),
        Attr::new("treat_missing_data"),
    ],
);

pub struct MetricAlarmProvider;

async fn put(ctx: &Ctx<'_>, spec: &ResourceSpec, with_tags: bool) -> Result<()> {
    let dims: Vec<Dimension> = spec
        .props
        .get("dimensions")
        .and_then(|v| v.as_map())
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    Dimension::builder()
                        .name(k)
                        .value(v.as_str().unwrap_or_default())
                        .build()
                })
                .collect()
        })
        .unwrap_or_default();
    let mut req = ctx
        .clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&spec.name)
        .alarm_description(s(spec, "description")?)
        .namespace(s(spec, "namespace")?)
        .metric_name(s(spec, "metric_name")?)
        .statistic(Statistic::from(s(spec, "statistic")?))
        .set_dimensions(Some(dims))
        .comparison_operator(ComparisonOperator::from(s(spec, "comparison_operator")?))
        .threshold(f(spec, "threshold")?)
        .period(i(spec, "period")? as i32)
        .evaluation_periods(i(spec, "evaluation_periods")? as i32)
        .treat_missing_data(s(spec, "treat_missing_data")?)
        .actions_enabled(true)
        .set_alarm_actions(Some(strs(spec, "alarm_actions")))
        .set_ok_actions(Some(strs(spec, "ok_actions")));
    if with_tags {
        let tags: Vec<Tag> = ctx
            .tags(spec)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        req = req.set_tags(Some(tags));
    }
    req.send()
        .await
        .map_err(|e| aws_error(&format!("writing alarm {}", spec.name), e))?;
    Ok(())
}

#[async_trait]
impl Provider for MetricAlarmProvider {
    fn kind(&self) -> Kind {
        Kind::MetricAlarm
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let alarms: Vec<_> = ctx
            .clients
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(ctx.name_prefix())
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing alarms", e))?;
        // Owned items: the futures must not borrow from a listing local to this call.
        let alarms: Vec<MetricAlarm> = alarms
            .into_iter()
            .flat_map(|page| page.metric_alarms.unwrap_or_default())
            .collect();
        // Alarm listings carry no tags: the region's tag index has them, and an alarm it does
        // not hold yet costs a read of its own.
        let index = if alarms.is_empty() {
            None
        } else {
            Some(ctx.reads.tags(ctx).await?)
        };
        read_each(alarms, |a| async move {
            let arn = a.alarm_arn().unwrap_or_default();
            let tags: Vec<(String, String)> = match index.and_then(|i| i.get(arn)) {
                Some(tags) => tags.to_vec(),
                None => ctx
                    .clients
                    .cloudwatch
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("reading tags of {arn}"), e))?
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.key()?.to_string(),
                            t.value().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect(),
            };
            let Some((id, stack)) = ctx.owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            else {
                return Ok(None);
            };
            let name = a.alarm_name().unwrap_or_default();
            let dims: BTreeMap<String, Val> = a
                .dimensions()
                .iter()
                .filter_map(|d| Some((d.name()?.to_string(), Val::str(d.value()?))))
                .collect();
            let mut o = Observed::new(&id, Kind::MetricAlarm, name)
                .prop(
                    "description",
                    Val::str(a.alarm_description().unwrap_or_default()),
                )
                .prop("namespace", Val::str(a.namespace().unwrap_or_default()))
                .prop("metric_name", Val::str(a.metric_name().unwrap_or_default()))
                .prop(
                    "statistic",
                    Val::str(a.statistic().map(|x| x.as_str()).unwrap_or_default()),
                )
                .prop("dimensions", Val::Map(dims))
                .prop(
                    "comparison_operator",
                    Val::str(
                        a.comparison_operator()
                            .map(|x| x.as_str())
                            .unwrap_or_default(),
                    ),
                )
                .prop("threshold", Val::Float(a.threshold().unwrap_or(0.0)))
                .prop("period", Val::Int(a.period().unwrap_or(0).into()))
                .prop(
                    "evaluation_periods",
                    Val::Int(a.evaluation_periods().unwrap_or(0).into()),
                )
                .prop(
                    "treat_missing_data",
                    Val::str(a.treat_missing_data().unwrap_or("missing")),
                )
                .prop("alarm_actions", str_list(a.alarm_actions().to_vec()))
                .prop("ok_actions", str_list(a.ok_actions().to_vec()))
                .output("arn", arn)
                .output("name", name)
                .output(
                    "state",
                    a.state_value().map(|s| s.as_str()).unwrap_or_default(),
                );
            o.name = name.to_string();
            o.stack = stack;
            Ok(Some(o))
        })
        .await
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        put(ctx, spec, true).await?;
        // PutMetricAlarm answers nothing; the ARN (which dashboards and FIS refer to) is read.
        let described = ctx
            .clients
            .cloudwatch
            .describe_alarms()
            .alarm_names(&spec.name)
            .send()
            .await
            .map_err(|e| aws_error(&format!("reading alarm {}", spec.name), e))?;
        let arn = described
            .metric_alarms()
            .first()
            .and_then(|a| a.alarm_arn())
            .unwrap_or_default();
        Ok(observed_from_spec(spec, &spec.name)
            .output("name", &spec.name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        put(ctx, spec, false).await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        ctx.clients
            .cloudwatch
            .delete_alarms()
            .alarm_names(&current.physical_id)
            .send()
            .await
            .map_err(|e| aws_error(&format!("deleting alarm {}", current.physical_id), e))?;
        Ok(())
    }
}
