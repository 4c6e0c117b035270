//! The SNS topic every alarm notifies, with its subscriptions, encrypted at rest with the
//! deployment's KMS key (`KmsMasterKeyId`).

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, changed, observed_from_spec};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_sns::types::Tag;

/// Every attribute of an sns topic: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::SnsTopic,
    &[
        Attr::new("kms_key_id"),
        Attr::new("region"),
        Attr::new("subscriptions"),
    ],
);

pub struct SnsTopicProvider;

type Subscription = (String, String); // (protocol, endpoint)

/// The topic attribute naming its KMS key; empty when the topic is not encrypted.
const KMS_KEY: &str = "KmsMasterKeyId";

fn key_of(spec: &ResourceSpec) -> Option<&str> {
    spec.props.get("kms_key_id").and_then(Val::as_str)
}

fn wanted(spec: &ResourceSpec) -> Vec<Subscription> {
    spec.props
        .get("subscriptions")
        .map(|v| {
            v.as_list()
                .iter()
                .filter_map(|s| {
                    let m = s.as_map()?;
                    Some((
                        m.get("protocol")?.as_str()?.to_string(),
                        m.get("endpoint")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn subscriptions_val(subs: &[Subscription]) -> Val {
    Val::list(
        subs.iter()
            .map(|(p, e)| Val::map([("protocol", Val::str(p)), ("endpoint", Val::str(e))])),
    )
}

/// (protocol, endpoint, subscription ARN or "PendingConfirmation").
async fn current_subscriptions(
    ctx: &Ctx<'_>,
    topic: &str,
) -> Result<Vec<(String, String, String)>> {
    let subs: Vec<_> = ctx
        .clients
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error(&format!("listing subscriptions of {topic}"), e))?;
    Ok(subs
        .iter()
        .map(|s| {
            (
                s.protocol().unwrap_or_default().to_string(),
                s.endpoint().unwrap_or_default().to_string(),
                s.subscription_arn().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

#[async_trait]
impl Provider for SnsTopicProvider {
    fn kind(&self) -> Kind {
        Kind::SnsTopic
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = format!(":{}", ctx.name_prefix());
        let topics: Vec<_> = ctx
            .clients
            .sns
            .list_topics()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing SNS topics", e))?;
        let mut found = Vec::new();
        for t in topics {
            let Some(arn) = t.topic_arn() else { continue };
            if !arn.contains(&prefix) {
                continue;
            }
            let tags = ctx
                .clients
                .sns
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading tags of {arn}"), e))?;
            let Some((id, stack)) = ctx.owner(tags.tags().iter().map(|t| (t.key(), t.value())))
            else {
                continue;
            };
            let subs: Vec<Subscription> = current_subscriptions(ctx, arn)
                .await?
                .into_iter()
                .map(|(p, e, _)| (p, e))
                .collect();
            let attributes = ctx
                .clients
                .sns
                .get_topic_attributes()
                .topic_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading attributes of {arn}"), e))?;
            let key = attributes
                .attributes()
                .and_then(|a| a.get(KMS_KEY))
                .map(String::as_str)
                .unwrap_or_default();
            let name = arn.rsplit(':').next().unwrap_or_default();
            let mut o = Observed::new(&id, Kind::SnsTopic, arn)
                .prop("subscriptions", subscriptions_val(&subs))
                .prop("kms_key_id", Val::str(key))
                .output("arn", arn)
                .output("name", name);
            o.name = name.to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let tags: Vec<Tag> = ctx
            .tags(spec)
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let out = ctx
            .clients
            .sns
            .create_topic()
            .name(&spec.name)
            .set_tags(Some(tags))
            // Encrypted from the start: no message is ever stored in the clear.
            .set_attributes(key_of(spec).map(|k| [(KMS_KEY.to_string(), k.to_string())].into()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating SNS topic {}", spec.name), e))?;
        let arn = out
            .topic_arn()
            .ok_or_else(|| anyhow!("CreateTopic returned no ARN"))?
            .to_string();
        let current = Observed::new(&spec.id, Kind::SnsTopic, &arn)
            .prop("subscriptions", Val::list([]))
            .prop("kms_key_id", Val::str(key_of(spec).unwrap_or_default()))
            .output("arn", &arn);
        self.update(ctx, spec, &current).await
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let arn = current.physical_id.as_str();
        if changed(spec, current, "kms_key_id") {
            ctx.clients
                .sns
                .set_topic_attributes()
                .topic_arn(arn)
                .attribute_name(KMS_KEY)
                .attribute_value(key_of(spec).unwrap_or_default())
                .send()
                .await
                .map_err(|e| aws_error(&format!("setting the KMS key of {arn}"), e))?;
        }
        let want = wanted(spec);
        let have = current_subscriptions(ctx, arn).await?;
        for (protocol, endpoint, sub_arn) in &have {
            let keep = want.iter().any(|(p, e)| p == protocol && e == endpoint);
            // Pending subscriptions have no ARN yet and cannot be removed; they expire in 3 days.
            if !keep && sub_arn.starts_with("arn:") {
                ctx.clients
                    .sns
                    .unsubscribe()
                    .subscription_arn(sub_arn)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("unsubscribing {endpoint}"), e))?;
            }
        }
        for (protocol, endpoint) in &want {
            if !have.iter().any(|(p, e, _)| p == protocol && e == endpoint) {
                ctx.clients
                    .sns
                    .subscribe()
                    .topic_arn(arn)
                    .protocol(protocol)
                    .endpoint(endpoint)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("subscribing {endpoint} to {arn}"), e))?;
            }
        }
        let name = arn.rsplit(':').next().unwrap_or_default();
        Ok(observed_from_spec(spec, arn)
            .output("arn", arn)
            .output("name", name))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        ctx.clients
            .sns
            .delete_topic()
            .topic_arn(&current.physical_id)
            .send()
            .await
            .map_err(|e| aws_error(&format!("deleting SNS topic {}", current.physical_id), e))?;
        Ok(())
    }
}
