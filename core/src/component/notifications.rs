//! The notifications of a stack (where alarms are sent): their settings in the stack file, what is
//! checked of them beyond what the types say, the resources they expand into and, where they have
//! metrics worth watching, their rows on the dashboard.

use super::{Component, Cx, ROUTE53_METRICS_REGION, TOPIC};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub https_endpoints: Vec<String>,
    #[serde(default)]
    pub sqs_queue_arns: Vec<String>,
}

/// The alarm topic, its key, and their copies where Route 53 publishes its metrics.
pub(crate) struct NotificationsComponent;

impl Component for NotificationsComponent {
    /// Reports each problem of the stack's notifications as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (i, email) in stack.notifications.emails.iter().enumerate() {
            if !crate::stack::looks_like_email(email) {
                bad(
                    format!("notifications.emails.{i}"),
                    format!("`{email}` is not an e-mail address"),
                );
            }
        }
        for (i, url) in stack.notifications.https_endpoints.iter().enumerate() {
            if !url.starts_with("https://") {
                bad(
                    format!("notifications.https_endpoints.{i}"),
                    "must be an https:// URL".into(),
                );
            }
        }
        for (i, arn) in stack.notifications.sqs_queue_arns.iter().enumerate() {
            if !arn.starts_with("arn:") || !arn.contains(":sqs:") {
                bad(
                    format!("notifications.sqs_queue_arns.{i}"),
                    "must be an SQS queue ARN".into(),
                );
            }
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack, env, region, ..
        } = *cx;
        let topic = TOPIC;
        let mut subscriptions = Vec::new();
        for (protocol, endpoints) in [
            ("email", &stack.notifications.emails),
            ("https", &stack.notifications.https_endpoints),
            ("sqs", &stack.notifications.sqs_queue_arns),
        ] {
            for endpoint in endpoints {
                subscriptions.push(Val::map([
                    ("protocol", Val::str(protocol)),
                    ("endpoint", Val::str(endpoint)),
                ]));
            }
        }
        // Route 53 health checks and CloudFront publish their metrics in us-east-1 only.
        let public_health_check = stack.dns.as_ref().is_some_and(|d| !d.private);
        if (public_health_check || stack.edge.is_some()) && region != ROUTE53_METRICS_REGION {
            let name = physical_name(env, &format!("{region}-alerts"), KEY_ALIAS_MAX);
            out.push(
                notifications_key(US_EAST_1_KEY, &name)
                    .with("region", Val::str(ROUTE53_METRICS_REGION)),
            );
            out.push(
                ResourceSpec::new(
                    US_EAST_1_TOPIC,
                    Kind::SnsTopic,
                    physical_name(env, &format!("{region}-alerts"), 256),
                )
                .with("region", Val::str(ROUTE53_METRICS_REGION))
                .with("subscriptions", Val::List(subscriptions.clone()))
                .with("kms_key_id", Val::reference(US_EAST_1_KEY, "arn")),
            );
        }
        // Queues that asked for the alarms hear only the deployment's own topic (their policy
        // admits no other).
        subscriptions.extend(super::queue::topic_subscriptions(stack));
        let key = "notifications.key";
        out.push(notifications_key(
            key,
            &physical_name(env, "alerts", KEY_ALIAS_MAX),
        ));
        out.push(
            ResourceSpec::new(topic, Kind::SnsTopic, physical_name(env, "alerts", 256))
                .with("subscriptions", Val::List(subscriptions))
                .with("kms_key_id", Val::reference(key, "arn")),
        );
    }
}

/// The topic the alarms on us-east-1's metrics (Route 53 health checks, CloudFront) notify when
/// the deployment lives elsewhere.
pub(crate) const US_EAST_1_TOPIC: &str = "notifications.topic.us-east-1";
/// The key of that topic: KMS keys are regional.
const US_EAST_1_KEY: &str = "notifications.key.us-east-1";
/// A KMS alias is at most 256 characters, `alias/` included.
const KEY_ALIAS_MAX: usize = 250;

/// The customer managed key an alarm topic is encrypted with (SNS.1). Not the AWS managed
/// `alias/aws/sns`: its policy cannot be changed to admit CloudWatch, so alarms published to a
/// topic encrypted with it are dropped without an error (SNS Developer Guide, "Enable
/// compatibility between event sources from AWS services and encrypted topics"). Rotated
/// yearly (KMS.4). Costs $1 a month per key plus $0.03 per 10,000 requests.
fn notifications_key(id: &str, name: &str) -> ResourceSpec {
    ResourceSpec::new(id, Kind::KmsKey, name)
        // Part of the key: a run stopped between CreateKey and CreateAlias leaves a key
        // without it, which the next run finds by its tags and names.
        .with("alias", Val::str(format!("alias/{name}")))
        .with(
            "description",
            Val::str("ftctl: encrypts the alarm notifications topic"),
        )
        .with("rotation", Val::Bool(true))
        .with(
            "services",
            Val::list([Val::str("cloudwatch.amazonaws.com")]),
        )
}
