//! The message queues of a stack (`[queues.NAME]`, SQS): their settings in the stack file, what
//! is checked of them beyond what the types say, the resources they expand into (the queue, its
//! dead-letter queue, the queue policy and two alarms), the permissions they give the tiers'
//! instance roles, and their row on the dashboard.

use super::monitoring::{metric, Row};
use super::{alarm, statement, AlarmDef, Component, Cx, TOPIC};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Tiers whose instances send messages into it.
    #[serde(default)]
    pub producers: Vec<String>,
    /// Tiers whose instances receive messages from it and delete them once handled.
    #[serde(default)]
    pub consumers: Vec<String>,
    /// The deployment's alarm topic publishes into it too (an SQS subscription), for a consumer
    /// that acts on alarms.
    #[serde(default)]
    pub from_alarm_topic: bool,
    /// How long a received message stays hidden from other consumers (0 to 43200 s).
    #[serde(default = "default_visibility")]
    pub visibility_timeout_seconds: u32,
    /// How long an unhandled message is kept (1 to 13 days: the dead-letter queue keeps its
    /// messages the 14 days SQS allows, which must be longer, since a message keeps its
    /// enqueue time when it moves there; SQS Developer Guide, "Configuring a dead-letter queue
    /// retention period").
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// Receives after which a message moves to the dead-letter queue (1 to 1000).
    #[serde(default = "default_max_receive")]
    pub max_receive_count: u32,
    /// The age of the oldest waiting message above which it alarms.
    #[serde(default = "default_age_alarm")]
    pub oldest_message_alarm_seconds: u32,
    #[serde(default = "five_minute_alarm")]
    pub alarm: AlarmPolicy,
}

fn default_visibility() -> u32 {
    30
}
fn default_retention_days() -> u32 {
    4
}
fn default_max_receive() -> u32 {
    5
}
fn default_age_alarm() -> u32 {
    300
}

/// What the dead-letter queue keeps: the 14 days SQS allows at most (CreateQueue,
/// MessageRetentionPeriod).
const DEAD_LETTER_RETENTION_SECONDS: i64 = 1_209_600;
/// Queue names are at most 80 characters (CreateQueue, QueueName).
const QUEUE_NAME_MAX: usize = 80;

/// What a producer's instances may do: send (the batch form needs no action of its own; SQS
/// Developer Guide, "Amazon SQS batch actions"), and look the queue's URL up by its name.
const PRODUCER_ACTIONS: &[&str] = &["sqs:SendMessage", "sqs:GetQueueUrl"];
/// What a consumer's instances may do: receive, delete what they handled, extend the time a
/// message stays hidden while they work on it, read the queue's attributes (SDK helpers and
/// long polling do) and look its URL up.
const CONSUMER_ACTIONS: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
];

/// The logical id of queue `name` (its dead-letter queue is `<id>.dead`).
pub(crate) fn queue_id(name: &str) -> String {
    format!("queue.{name}")
}

/// The statements queue access adds to `tier`'s instance role: exactly the actions of the part
/// it plays, on exactly the queues it plays it for.
pub(crate) fn tier_statements(stack: &Stack, tier: &str) -> Vec<Val> {
    let mut out = Vec::new();
    for (name, q) in &stack.queues {
        let arn = || vec![Val::reference(queue_id(name), "arn")];
        if q.producers.iter().any(|t| t == tier) {
            out.push(statement(PRODUCER_ACTIONS, arn()));
        }
        if q.consumers.iter().any(|t| t == tier) {
            out.push(statement(CONSUMER_ACTIONS, arn()));
        }
    }
    out
}

/// Queue subscriptions of the alarm topic: the queues that asked for its notifications.
pub(crate) fn topic_subscriptions(stack: &Stack) -> Vec<Val> {
    stack
        .queues
        .iter()
        .filter(|(_, q)| q.from_alarm_topic)
        .map(|(name, _)| {
            Val::map([
                ("protocol", Val::str("sqs")),
                ("endpoint", Val::reference(queue_id(name), "arn")),
            ])
        })
        .collect()
}

/// The queues, their dead-letter queues, their policies and alarms.
pub(crate) struct Queues;

impl Component for Queues {
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (name, q) in &stack.queues {
            let at = format!("queues.{name}");
            if !valid_component_name(name) {
                bad(
                    at.clone(),
                    "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
                );
            }
            for (field, tiers) in [("producers", &q.producers), ("consumers", &q.consumers)] {
                for (i, tier) in tiers.iter().enumerate() {
                    if !stack.tiers.contains_key(tier) {
                        bad(
                            format!("{at}.{field}.{i}"),
                            format!("no tier named `{tier}`"),
                        );
                    } else if tiers[..i].contains(tier) {
                        bad(
                            format!("{at}.{field}.{i}"),
                            format!("`{tier}` is listed twice"),
                        );
                    }
                }
            }
            if q.producers.is_empty() && !q.from_alarm_topic {
                bad(
                    format!("{at}.producers"),
                    "nothing could send to the queue: name a tier, or set from_alarm_topic".into(),
                );
            }
            if q.consumers.is_empty() {
                bad(
                    format!("{at}.consumers"),
                    "nothing could receive from the queue: name the tiers that handle its messages"
                        .into(),
                );
            }
            if q.visibility_timeout_seconds > 43_200 {
                bad(
                    format!("{at}.visibility_timeout_seconds"),
                    "SQS allows at most 43200 seconds (12 hours)".into(),
                );
            }
            if !(1..=13).contains(&q.retention_days) {
                bad(
                    format!("{at}.retention_days"),
                    "must be 1 to 13 days: the dead-letter queue keeps messages 14 days, the most \
                     SQS allows, and must keep them longer than the queue"
                        .into(),
                );
            }
            if !(1..=1000).contains(&q.max_receive_count) {
                bad(
                    format!("{at}.max_receive_count"),
                    "must be 1 to 1000 (SQS RedrivePolicy)".into(),
                );
            }
            if q.oldest_message_alarm_seconds < 60 {
                bad(
                    format!("{at}.oldest_message_alarm_seconds"),
                    "at least 60: SQS publishes its metrics once a minute".into(),
                );
            }
            check_policy(bad, &format!("{at}.alarm"), q.alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx { stack, env, .. } = *cx;
        for (name, q) in &stack.queues {
            let id = queue_id(name);
            let dead = format!("{id}.dead");
            // Both encrypted with SQS-managed keys (SSE-SQS, Security Hub SQS.1): no KMS key
            // whose policy the alarm topic's SNS deliveries would need.
            out.push(
                ResourceSpec::new(
                    &dead,
                    Kind::SqsQueue,
                    physical_name(env, &format!("{name}-dead"), QUEUE_NAME_MAX),
                )
                .with(
                    "visibility_timeout_seconds",
                    Val::Int(q.visibility_timeout_seconds.into()),
                )
                .with(
                    "message_retention_seconds",
                    Val::Int(DEAD_LETTER_RETENTION_SECONDS),
                )
                .with("sqs_managed_sse", Val::Bool(true)),
            );
            out.push(
                ResourceSpec::new(
                    &id,
                    Kind::SqsQueue,
                    physical_name(env, name, QUEUE_NAME_MAX),
                )
                .with(
                    "visibility_timeout_seconds",
                    Val::Int(q.visibility_timeout_seconds.into()),
                )
                .with(
                    "message_retention_seconds",
                    Val::Int(i64::from(q.retention_days) * 86_400),
                )
                .with("sqs_managed_sse", Val::Bool(true))
                .with("dead_letter_queue_arn", Val::reference(&dead, "arn"))
                .with("max_receive_count", Val::Int(q.max_receive_count.into())),
            );
            // Its own resource, after the roles it names, which refer to the queue themselves.
            let roles = |tiers: &[String]| {
                Val::list(
                    tiers
                        .iter()
                        .map(|t| Val::reference(format!("tier.{t}.role"), "arn")),
                )
            };
            let mut policy = ResourceSpec::new(
                format!("{id}.policy"),
                Kind::QueuePolicy,
                physical_name(env, name, QUEUE_NAME_MAX),
            )
            .with("queue_url", Val::reference(&id, "url"))
            .with("queue_arn", Val::reference(&id, "arn"))
            .with("senders", roles(&q.producers))
            .with("receivers", roles(&q.consumers));
            if q.from_alarm_topic {
                policy = policy.with("sending_topic", Val::reference(TOPIC, "arn"));
            }
            out.push(policy);
            let window = q.alarm;
            out.push(alarm(
                env,
                TOPIC,
                AlarmDef {
                    id: format!("alarm.{id}.age"),
                    name_suffix: format!("{name}-queue-age"),
                    description: format!(
                        "ftctl: the oldest message of queue {name} has waited over {} s",
                        q.oldest_message_alarm_seconds
                    ),
                    namespace: "AWS/SQS",
                    metric: "ApproximateAgeOfOldestMessage",
                    statistic: "Maximum",
                    dimensions: vec![("QueueName", Val::reference(&id, "name"))],
                    comparison: "GreaterThanThreshold",
                    threshold: q.oldest_message_alarm_seconds.into(),
                    policy: window,
                    // SQS publishes only for active queues (with messages, or used in the
                    // last six hours; SQS Developer Guide, "Monitoring Amazon SQS queues
                    // using CloudWatch"): no data is an idle, empty queue.
                    missing: "notBreaching",
                },
            ));
            out.push(alarm(
                env,
                TOPIC,
                AlarmDef {
                    id: format!("alarm.{id}.dead-letters"),
                    name_suffix: format!("{name}-queue-dead-letters"),
                    description: format!(
                        "ftctl: messages of queue {name} failed {} receives and wait in its \
                         dead-letter queue",
                        q.max_receive_count
                    ),
                    namespace: "AWS/SQS",
                    // Not NumberOfMessagesSent: a message moved by redrive is not counted as
                    // sent (SQS Developer Guide, "Using dead-letter queues").
                    metric: "ApproximateNumberOfMessagesVisible",
                    statistic: "Maximum",
                    dimensions: vec![("QueueName", Val::reference(&dead, "name"))],
                    comparison: "GreaterThanThreshold",
                    threshold: 0.0,
                    policy: AlarmPolicy {
                        period_seconds: 60,
                        evaluation_periods: 1,
                    },
                    missing: "notBreaching",
                },
            ));
        }
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .queues
            .keys()
            .map(|name| {
                let id = queue_id(name);
                let main = [("QueueName", Val::reference(&id, "name"))];
                let dead = [("QueueName", Val::reference(format!("{id}.dead"), "name"))];
                Row::new(
                    cx,
                    format!("Queue {name}"),
                    vec![
                        (
                            "Oldest message (s)",
                            vec![metric("AWS/SQS", "ApproximateAgeOfOldestMessage", &main)],
                            "Maximum",
                        ),
                        (
                            "Waiting",
                            vec![metric(
                                "AWS/SQS",
                                "ApproximateNumberOfMessagesVisible",
                                &main,
                            )],
                            "Maximum",
                        ),
                        (
                            "Dead letters",
                            vec![metric(
                                "AWS/SQS",
                                "ApproximateNumberOfMessagesVisible",
                                &dead,
                            )],
                            "Maximum",
                        ),
                    ],
                )
            })
            .collect()
    }
}
