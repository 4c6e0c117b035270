//! SQS queue policies: who may use a queue besides those its account's IAM already lets. A
//! resource of its own (the queue's `Policy` attribute), made after the queue and after the
//! instance roles it names, which refer to the queue themselves. It admits the sending tiers'
//! roles to send, the receiving tiers' roles to receive, and, when asked, the deployment's alarm
//! topic to deliver (SNS Developer Guide, "Subscribing an Amazon SQS queue to an Amazon SNS
//! topic", step 2: the service principal with `aws:SourceArn`); it refuses plain HTTP (SQS
//! Developer Guide, security best practices: `aws:SecureTransport`). Within the account, a
//! principal whose own IAM policy grants SQS can still use the queue: an Allow here restricts
//! nobody, and SQS's documented condition keys do not include the `aws:PrincipalArn` a Deny
//! would need to.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, coded, observed_from_spec, retry_while, s, strs};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashMap;
use std::time::Duration;

/// Who may do what; the queue it is on is its identity.
static SCHEMA: Schema = Schema::new(
    Kind::QueuePolicy,
    &[
        Attr::new("queue_arn").replaces(),
        Attr::new("queue_url").replaces(),
        Attr::new("receivers"),
        Attr::new("senders"),
        Attr::new("sending_topic"),
    ],
);

pub struct QueuePolicyProvider;

/// The output under which the queue provider hands over the queue's `Policy` as it read it.
pub const POLICY_OUTPUT: &str = "policy";

/// A policy's physical id: its queue's URL, marked, since no two resources may share one
/// (`destroy` orders deletions by physical ids: the policy must go before its queue).
fn policy_id(queue_url: &str) -> String {
    format!("{queue_url}#policy")
}

const SENDERS_SID: &str = "TiersSend";
const RECEIVERS_SID: &str = "TiersReceive";
const TOPIC_SID: &str = "AlarmTopicDelivers";
const TLS_SID: &str = "DenyInsecureTransport";

/// A role IAM made moments ago may not be a valid principal yet: SQS refuses the policy with
/// InvalidAttributeValue until it is (terraform-provider-aws retries the same,
/// hashicorp/terraform-provider-aws#35861).
const NEW_PRINCIPAL_WAIT: Duration = Duration::from_secs(90);

/// The policy document `spec` stands for. Always with a `Version`: without one SQS takes the
/// 2008 language (hashicorp/terraform-provider-aws#24046).
fn document(spec: &ResourceSpec) -> Result<String> {
    let arn = s(spec, "queue_arn")?;
    let mut statements = Vec::new();
    for (sid, key, actions) in [
        (SENDERS_SID, "senders", &["sqs:SendMessage"][..]),
        (
            RECEIVERS_SID,
            "receivers",
            &[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ][..],
        ),
    ] {
        let roles = strs(spec, key);
        if !roles.is_empty() {
            statements.push(serde_json::json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": { "AWS": roles },
                "Action": actions,
                "Resource": arn,
            }));
        }
    }
    if let Some(topic) = spec.props.get("sending_topic").and_then(Val::as_str) {
        statements.push(serde_json::json!({
            "Sid": TOPIC_SID,
            "Effect": "Allow",
            "Principal": { "Service": "sns.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": topic } },
        }));
    }
    statements.push(serde_json::json!({
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": arn,
        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
    }));
    Ok(serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string())
}

/// A policy as SQS holds it, in the spec's terms; none when ftctl did not write it.
fn observed(queue: &Observed, policy: &str) -> Option<Observed> {
    let doc: serde_json::Value = serde_json::from_str(policy).ok()?;
    let statements = doc["Statement"].as_array()?;
    let by_sid = |sid: &str| statements.iter().find(|st| st["Sid"] == sid);
    by_sid(TLS_SID)?;
    // IAM writes a lone principal as a string, several as a list.
    let principals = |sid: &str| -> Val {
        let p = by_sid(sid).map(|st| &st["Principal"]["AWS"]);
        let list: Vec<Val> = match p {
            Some(serde_json::Value::String(one)) => vec![Val::str(one)],
            Some(serde_json::Value::Array(many)) => many
                .iter()
                .filter_map(|v| v.as_str().map(Val::str))
                .collect(),
            _ => Vec::new(),
        };
        Val::List(list)
    };
    let arn = queue.outputs.get("arn").cloned().unwrap_or_default();
    let mut o = Observed::new(
        &format!("{}.policy", queue.id),
        Kind::QueuePolicy,
        &policy_id(&queue.physical_id),
    )
    .prop("queue_url", Val::str(&queue.physical_id))
    .prop("queue_arn", Val::str(&arn))
    .prop("senders", principals(SENDERS_SID))
    .prop("receivers", principals(RECEIVERS_SID));
    if let Some(topic) =
        by_sid(TOPIC_SID).and_then(|st| st["Condition"]["ArnEquals"]["aws:SourceArn"].as_str())
    {
        o = o.prop("sending_topic", Val::str(topic));
    }
    o.name = queue.name.clone();
    o.stack = queue.stack.clone();
    Some(o)
}

async fn set_policy(ctx: &Ctx<'_>, url: &str, policy: String) -> Result<()> {
    retry_while(&["InvalidAttributeValue"], NEW_PRINCIPAL_WAIT, || async {
        ctx.clients
            .sqs
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(HashMap::from([(
                QueueAttributeName::Policy,
                policy.clone(),
            )])))
            .send()
            .await
            .map_err(|e| coded(&format!("writing the policy of {url}"), e))
    })
    .await
    .map_err(|(_, e)| e)?;
    Ok(())
}

#[async_trait]
impl Provider for QueuePolicyProvider {
    fn kind(&self) -> Kind {
        Kind::QueuePolicy
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::SqsQueue]
    }

    /// Read from what the queue provider read (its `Policy` with every other attribute): no
    /// request of its own.
    async fn observe(&self, _: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        Ok(found
            .iter()
            .filter(|q| q.kind == Kind::SqsQueue)
            .filter_map(|q| observed(q, q.outputs.get(POLICY_OUTPUT)?))
            .collect())
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let url = s(spec, "queue_url")?;
        set_policy(ctx, url, document(spec)?).await?;
        Ok(observed_from_spec(spec, &policy_id(url)))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        _current: &Observed,
    ) -> Result<Observed> {
        self.create(ctx, spec).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let url = current
            .physical_id
            .strip_suffix("#policy")
            .unwrap_or(&current.physical_id);
        // SetQueueAttributes takes an empty Policy to remove it; a queue already gone has none.
        match ctx
            .clients
            .sqs
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(HashMap::from([(
                QueueAttributeName::Policy,
                String::new(),
            )])))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if super::queue::gone(&e) => Ok(()),
            Err(e) => Err(aws_error(&format!("removing the policy of {url}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_reads_back_as_written() {
        let spec = ResourceSpec::new("queue.jobs.policy", Kind::QueuePolicy, "dev-jobs")
            .with("queue_url", Val::str("https://sqs/123/dev-jobs"))
            .with("queue_arn", Val::str("arn:aws:sqs:us-east-1:123:dev-jobs"))
            .with(
                "senders",
                Val::list([Val::str("arn:aws:iam::123:role/web")]),
            )
            .with(
                "receivers",
                Val::list([
                    Val::str("arn:aws:iam::123:role/app"),
                    Val::str("arn:aws:iam::123:role/web"),
                ]),
            )
            .with(
                "sending_topic",
                Val::str("arn:aws:sns:us-east-1:123:dev-alerts"),
            );
        let doc = document(&spec).unwrap();
        let queue = Observed::new("queue.jobs", Kind::SqsQueue, "https://sqs/123/dev-jobs")
            .output("arn", "arn:aws:sqs:us-east-1:123:dev-jobs");
        let seen = observed(&queue, &doc).unwrap();
        assert_eq!(seen.id, "queue.jobs.policy");
        assert_eq!(seen.physical_id, "https://sqs/123/dev-jobs#policy");
        for key in [
            "senders",
            "receivers",
            "sending_topic",
            "queue_arn",
            "queue_url",
        ] {
            assert_eq!(seen.props[key], spec.props[key], "{key}");
        }
        // A policy somebody else wrote is not taken for ftctl's.
        assert!(observed(&queue, r#"{"Version":"2012-10-17","Statement":[]}"#).is_none());
        // No topic, no statement admitting SNS.
        let mut quiet = spec.clone();
        quiet.props.remove("sending_topic");
        assert!(!document(&quiet).unwrap().contains("sns.amazonaws.com"));
    }
}
