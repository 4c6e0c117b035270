//! SQS queues: a standard queue encrypted at rest with SQS-managed keys, with its visibility
//! timeout, message retention and, when it has one, the dead-letter queue its failed messages
//! move to after a number of receives. The queue URL is its physical id.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, b, changed, coded, error_code, i, observed_from_spec, retry_while,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashMap;
use std::time::Duration;

/// Every attribute changes in place (SetQueueAttributes); the name is the queue's identity.
static SCHEMA: Schema = Schema::new(
    Kind::SqsQueue,
    &[
        Attr::new("dead_letter_queue_arn"),
        Attr::new("max_receive_count"),
        Attr::new("message_retention_seconds"),
        Attr::new("sqs_managed_sse"),
        Attr::new("visibility_timeout_seconds"),
    ],
);

pub struct SqsQueueProvider;

/// The keys a queue's attributes are read and set by (SQS API reference, SetQueueAttributes).
const VISIBILITY: &str = "VisibilityTimeout";
const RETENTION: &str = "MessageRetentionPeriod";
const MANAGED_SSE: &str = "SqsManagedSseEnabled";
const REDRIVE: &str = "RedrivePolicy";
const ARN: &str = "QueueArn";

/// SQS refuses a queue of a name deleted less than 60 seconds ago (QueueDeletedRecently; SQS API
/// reference, DeleteQueue), which a destroy followed by an apply meets: wait it out, a little
/// longer than the 60 seconds.
const DELETED_RECENTLY_WAIT: Duration = Duration::from_secs(70);
/// Its code in both forms SQS errors take: the query protocol's and the JSON protocol's shape name
/// (which one the SDK reports was not checked against real SQS; ministack was not made to refuse).
const DELETED_RECENTLY: [&str; 2] = [
    "AWS.SimpleQueueService.QueueDeletedRecently",
    "QueueDeletedRecently",
];

/// The queue's RedrivePolicy as SQS takes it: a JSON document naming the dead-letter queue and
/// the receives after which a message moves there. Empty (no policy) when the spec names none.
fn redrive_policy(spec: &ResourceSpec) -> Result<String> {
    let Some(target) = spec
        .props
        .get("dead_letter_queue_arn")
        .and_then(Val::as_str)
    else {
        return Ok(String::new());
    };
    Ok(serde_json::json!({
        "deadLetterTargetArn": target,
        "maxReceiveCount": i(spec, "max_receive_count")?,
    })
    .to_string())
}

/// The attributes `spec` wants, as SQS names and writes them.
fn attributes(spec: &ResourceSpec) -> Result<HashMap<QueueAttributeName, String>> {
    Ok(HashMap::from([
        (
            QueueAttributeName::VisibilityTimeout,
            i(spec, "visibility_timeout_seconds")?.to_string(),
        ),
        (
            QueueAttributeName::MessageRetentionPeriod,
            i(spec, "message_retention_seconds")?.to_string(),
        ),
        (
            QueueAttributeName::SqsManagedSseEnabled,
            b(spec, "sqs_managed_sse")?.to_string(),
        ),
        (QueueAttributeName::RedrivePolicy, redrive_policy(spec)?),
    ]))
}

/// A queue as SQS describes it, in the spec's terms.
fn observed(id: &str, url: &str, attrs: &HashMap<String, String>) -> Observed {
    let int = |k: &str| Val::Int(attrs.get(k).and_then(|v| v.parse().ok()).unwrap_or(-1));
    let mut o = Observed::new(id, Kind::SqsQueue, url)
        .prop("visibility_timeout_seconds", int(VISIBILITY))
        .prop("message_retention_seconds", int(RETENTION))
        .prop(
            "sqs_managed_sse",
            Val::Bool(attrs.get(MANAGED_SSE).is_some_and(|v| v == "true")),
        );
    let redrive: Option<serde_json::Value> = attrs
        .get(REDRIVE)
        .filter(|p| !p.is_empty())
        .and_then(|p| serde_json::from_str(p).ok());
    if let Some(policy) = redrive {
        if let Some(target) = policy["deadLetterTargetArn"].as_str() {
            o = o.prop("dead_letter_queue_arn", Val::str(target));
        }
        // SQS has written the count as a number and as a string.
        let count = policy["maxReceiveCount"]
            .as_i64()
            .or_else(|| policy["maxReceiveCount"].as_str()?.parse().ok());
        if let Some(count) = count {
            o = o.prop("max_receive_count", Val::Int(count));
        }
    }
    with_outputs(
        o,
        url,
        attrs.get(ARN).map(String::as_str).unwrap_or_default(),
    )
}

fn with_outputs(o: Observed, url: &str, arn: &str) -> Observed {
    let name = url.rsplit('/').next().unwrap_or_default().to_string();
    let mut o = o
        .output("url", url)
        .output("arn", arn)
        .output("name", &name);
    o.name = name;
    o
}

async fn queue_arn(ctx: &Ctx<'_>, url: &str) -> Result<String> {
    let out = ctx
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the ARN of {url}"), e))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| anyhow!("GetQueueAttributes returned no QueueArn for {url}"))
}

#[async_trait]
impl Provider for SqsQueueProvider {
    fn kind(&self) -> Kind {
        Kind::SqsQueue
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        // Every queue of the deployment's names, then the tags that say which are its own.
        let urls: Vec<String> = ctx
            .clients
            .sqs
            .list_queues()
            .queue_name_prefix(ctx.name_prefix())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing SQS queues", e))?;
        let mut found = Vec::new();
        for url in urls {
            let tags = match ctx
                .clients
                .sqs
                .list_queue_tags()
                .queue_url(&url)
                .send()
                .await
            {
                Ok(t) => t,
                // Deleted since it was listed (deletion takes up to 60 seconds to show).
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(aws_error(&format!("reading tags of {url}"), e)),
            };
            let tags = tags.tags().cloned().unwrap_or_default();
            let Some((id, stack)) = ctx.owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            else {
                continue;
            };
            let attrs = ctx
                .clients
                .sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading attributes of {url}"), e))?;
            let attrs: HashMap<String, String> = attrs
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let mut o = observed(&id, &url, &attrs);
            // For the queue policy's provider, which reads it from here.
            if let Some(policy) = attrs.get("Policy").filter(|p| !p.is_empty()) {
                o = o.output(super::policy::POLICY_OUTPUT, policy);
            }
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let tags: HashMap<String, String> = ctx.tags(spec).into_iter().collect();
        let mut attrs = attributes(spec)?;
        // CreateQueue takes no empty RedrivePolicy; SetQueueAttributes does (to remove one).
        attrs.retain(|_, v| !v.is_empty());
        let url = retry_while(&DELETED_RECENTLY, DELETED_RECENTLY_WAIT, || async {
            let out = ctx
                .clients
                .sqs
                .create_queue()
                .queue_name(&spec.name)
                .set_attributes(Some(attrs.clone()))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(|e| coded(&format!("creating SQS queue {}", spec.name), e))?;
            Ok(out.queue_url().unwrap_or_default().to_string())
        })
        .await
        .map_err(|(_, e)| e)?;
        if url.is_empty() {
            return Err(anyhow!("CreateQueue returned no URL for {}", spec.name));
        }
        let arn = queue_arn(ctx, &url).await?;
        Ok(with_outputs(observed_from_spec(spec, &url), &url, &arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let url = current.physical_id.as_str();
        let keys = [
            "visibility_timeout_seconds",
            "message_retention_seconds",
            "sqs_managed_sse",
            "dead_letter_queue_arn",
            "max_receive_count",
        ];
        if keys.iter().any(|k| changed(spec, current, k)) {
            ctx.clients
                .sqs
                .set_queue_attributes()
                .queue_url(url)
                .set_attributes(Some(attributes(spec)?))
                .send()
                .await
                .map_err(|e| aws_error(&format!("setting attributes of {url}"), e))?;
        }
        let arn = current.outputs.get("arn").cloned().unwrap_or_default();
        Ok(with_outputs(observed_from_spec(spec, url), url, &arn))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let url = current.physical_id.as_str();
        match ctx.clients.sqs.delete_queue().queue_url(url).send().await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(aws_error(&format!("deleting SQS queue {url}"), e)),
        }
    }
}

/// Whether SQS says the queue does not exist (any more): the JSON protocol's code and the
/// query protocol's.
pub(super) fn gone<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(
        error_code(err).as_deref(),
        Some("QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue")
    )
}
