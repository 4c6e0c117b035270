//! SQS queues against ministack: the queue kind through the cloud seam the engine uses (a
//! dead-letter queue and a queue that redrives to it are created with their attributes and
//! ownership tags, found again by those tags, changed in place, and removed by `ftctl destroy`),
//! and the `[queues.NAME]` component through `ftctl` (queue, dead-letter queue, policy, the
//! tiers' permissions, the alarm topic's subscription, alarms).

use crate::support::*;
use aws_sdk_sqs::types::QueueAttributeName;
use ftctl::aws::{AwsCloud, DeleteOptions};
use ftctl::cloud::Cloud;
use ftctl::deployment::Deployment;
use ftctl::plan;
use ftctl::resource::{Kind, Observed, ResourceSpec, Val};

fn queue(env: &str, id: &str, suffix: &str, visibility: i64) -> ResourceSpec {
    ResourceSpec::new(id, Kind::SqsQueue, format!("{env}-{suffix}"))
        .with("visibility_timeout_seconds", Val::Int(visibility))
        .with("message_retention_seconds", Val::Int(1_209_600))
        .with("sqs_managed_sse", Val::Bool(true))
}

/// The queue's attributes as SQS itself reports them.
async fn attributes(aws: &Aws, url: &str) -> std::collections::HashMap<QueueAttributeName, String> {
    aws.sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes()
        .cloned()
        .unwrap_or_default()
}

/// Plans `specs` against what was observed and fails unless nothing would change: what SQS
/// reports back must compare equal to what was asked under the kind's schema, or every plan of a
/// deployment with queues would show a change that never goes away.
fn assert_no_changes(specs: &[ResourceSpec], observed: &[Observed], after: &str) {
    let planned = plan::diff(specs, observed, &ftctl::aws::schema).unwrap();
    assert!(
        planned.is_empty(),
        "plan after {after} is not empty: {:?}",
        planned.changes
    );
}

fn found<'a>(observed: &'a [Observed], id: &str) -> &'a Observed {
    observed
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("{id} not found by its tags among {observed:?}"))
}

#[tokio::test]
async fn a_queue_and_its_dead_letter_queue_are_made_found_changed_and_destroyed() {
    require_emulators();
    let _shared = emulators().await;
    let aws = aws().await;
    let mut test = TestDeployment::new("queue");
    let env = test.created().to_string();
    let deployment = Deployment {
        env: env.clone(),
        stack: "queues".into(),
    };
    let cloud = AwsCloud::connect(None, DeleteOptions::default())
        .await
        .unwrap();

    eprintln!("creating {env}-jobs-dead and {env}-jobs through AwsCloud::create");
    let dead = queue(&env, "queue.jobs.dead", "jobs-dead", 30);
    let made_dead = cloud.create(&deployment, &dead).await.unwrap();
    let dead_arn = made_dead.outputs["arn"].clone();
    let jobs = queue(&env, "queue.jobs", "jobs", 60)
        .with("dead_letter_queue_arn", Val::str(&dead_arn))
        .with("max_receive_count", Val::Int(5));
    let made = cloud.create(&deployment, &jobs).await.unwrap();

    let have = attributes(&aws, &made.physical_id).await;
    assert_eq!(have[&QueueAttributeName::VisibilityTimeout], "60");
    assert_eq!(have[&QueueAttributeName::MessageRetentionPeriod], "1209600");
    let redrive: serde_json::Value =
        serde_json::from_str(&have[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], dead_arn.as_str());
    let tags = aws
        .sqs
        .list_queue_tags()
        .queue_url(&made.physical_id)
        .send()
        .await
        .unwrap();
    let tags = tags.tags().cloned().unwrap_or_default();
    assert_eq!(
        tags.get("ftctl:logical-id").map(String::as_str),
        Some("queue.jobs")
    );

    eprintln!("observing deployment {env} through AwsCloud::observe");
    let observed = cloud.observe(&deployment).await.unwrap();
    let jobs_seen = found(&observed, "queue.jobs");
    assert_eq!(jobs_seen.props["visibility_timeout_seconds"], Val::Int(60));
    assert_eq!(jobs_seen.props["max_receive_count"], Val::Int(5));
    assert_eq!(
        jobs_seen.props["dead_letter_queue_arn"],
        Val::str(&dead_arn)
    );
    assert_eq!(found(&observed, "queue.jobs.dead").outputs["arn"], dead_arn);
    assert_no_changes(&[dead.clone(), jobs.clone()], &observed, "create");

    eprintln!("changing {env}-jobs in place through AwsCloud::update");
    let changed = queue(&env, "queue.jobs", "jobs", 120)
        .with("dead_letter_queue_arn", Val::str(&dead_arn))
        .with("max_receive_count", Val::Int(3));
    cloud
        .update(&deployment, &changed, jobs_seen)
        .await
        .unwrap();
    let have = attributes(&aws, &made.physical_id).await;
    assert_eq!(have[&QueueAttributeName::VisibilityTimeout], "120");
    let redrive: serde_json::Value =
        serde_json::from_str(&have[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "3"
    );
    let observed = cloud.observe(&deployment).await.unwrap();
    assert_no_changes(&[dead.clone(), changed.clone()], &observed, "update");
    // A shorter visibility timeout is changed in place, not by replacing the queue.
    let shorter = queue(&env, "queue.jobs", "jobs", 90)
        .with("dead_letter_queue_arn", Val::str(&dead_arn))
        .with("max_receive_count", Val::Int(3));
    let planned = plan::diff(&[dead.clone(), shorter], &observed, &ftctl::aws::schema).unwrap();
    assert_eq!(planned.changes.len(), 1, "{:?}", planned.changes);
    assert_eq!(planned.summary.update, 1, "{:?}", planned.summary);

    test.destroy().run().success();
    test.destroyed();
    let left = aws
        .sqs
        .list_queues()
        .queue_name_prefix(format!("{env}-"))
        .send()
        .await
        .unwrap();
    assert!(
        left.queue_urls().is_empty(),
        "ftctl destroy left queues: {:?}",
        left.queue_urls()
    );
}

/// The attributes of the queue named `name`, and its URL.
async fn queue_named(
    aws: &Aws,
    name: &str,
) -> (
    String,
    std::collections::HashMap<QueueAttributeName, String>,
) {
    let url = aws
        .sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue {name}: {e:?}"))
        .queue_url()
        .unwrap()
        .to_string();
    let attrs = attributes(aws, &url).await;
    (url, attrs)
}

/// The inline policy ftctl keeps on `role`, as text.
async fn role_policy(aws: &Aws, role: &str) -> String {
    let got = aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name("ftctl")
        .send()
        .await
        .unwrap_or_else(|e| panic!("policy of {role}: {e:?}"));
    ftctl::aws::iam::role::decode_policy(got.policy_document())
        .expect("an IAM policy document")
        .to_string()
}

/// `[queues.NAME]` on stage 1: the web tier sends, the app tier receives, the alarm topic
/// delivers. Applied, the queue, its dead-letter queue, its policy, the roles' statements, the
/// topic's subscription and the two alarms are what SQS, IAM, SNS and CloudWatch hold; a message
/// received too often moves to the dead-letter queue; a second plan is empty; a changed redrive
/// limit is one in-place update; destroy leaves no queue.
#[tokio::test(flavor = "multi_thread")]
async fn a_stack_queue_is_applied_described_changed_and_destroyed() {
    let _emulators = emulators().await;
    let aws = aws().await;
    let vars = [
        "queues.jobs.producers=[\"web\"]",
        "queues.jobs.consumers=[\"app\"]",
        "queues.jobs.from_alarm_topic=true",
        "queues.jobs.max_receive_count=2",
    ];
    let d = crate::chaos::Deployed::of("stage1", "qs", &vars);
    let env = d.env.clone();

    let (url, queue) = queue_named(&aws, &format!("{env}-jobs")).await;
    let (dead_url, dead) = queue_named(&aws, &format!("{env}-jobs-dead")).await;
    assert_eq!(queue[&QueueAttributeName::VisibilityTimeout], "30");
    assert_eq!(queue[&QueueAttributeName::MessageRetentionPeriod], "345600");
    assert_eq!(queue[&QueueAttributeName::SqsManagedSseEnabled], "true");
    assert_eq!(dead[&QueueAttributeName::MessageRetentionPeriod], "1209600");
    let redrive: serde_json::Value =
        serde_json::from_str(&queue[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        dead[&QueueAttributeName::QueueArn].as_str()
    );
    // Only the named tiers, and the topic, by its ARN; never over plain HTTP.
    let policy: serde_json::Value =
        serde_json::from_str(&queue[&QueueAttributeName::Policy]).unwrap();
    let sid = |s: &str| {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["Sid"] == s)
            .unwrap_or_else(|| panic!("no {s} in {policy}"))
            .clone()
    };
    let web_role = format!("{env}-web-instance-us-east-1");
    let app_role = format!("{env}-app-instance-us-east-1");
    assert!(sid("TiersSend")["Principal"]["AWS"]
        .to_string()
        .contains(&web_role));
    assert!(sid("TiersReceive")["Principal"]["AWS"]
        .to_string()
        .contains(&app_role));
    assert!(!sid("TiersReceive")["Principal"]["AWS"]
        .to_string()
        .contains(&web_role));
    let topic = sid("AlarmTopicDelivers")["Condition"]["ArnEquals"]["aws:SourceArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(topic.ends_with(&format!(":{env}-alerts")), "{topic}");
    assert_eq!(sid("DenyInsecureTransport")["Effect"], "Deny");
    // Each role exactly its part.
    let web = role_policy(&aws, &web_role).await;
    let app = role_policy(&aws, &app_role).await;
    assert!(
        web.contains("sqs:SendMessage") && !web.contains("sqs:ReceiveMessage"),
        "{web}"
    );
    assert!(
        app.contains("sqs:ReceiveMessage") && !app.contains("sqs:SendMessage"),
        "{app}"
    );
    let subs = aws
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    assert!(subs
        .subscriptions()
        .iter()
        .any(|s| s.protocol() == Some("sqs")
            && s.endpoint() == Some(queue[&QueueAttributeName::QueueArn].as_str())));
    let alarms = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{env}-jobs-queue-"))
        .send()
        .await
        .unwrap();
    let by_metric: std::collections::BTreeMap<&str, &str> = alarms
        .metric_alarms()
        .iter()
        .map(|a| {
            (
                a.metric_name().unwrap_or_default(),
                a.dimensions()[0].value().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        by_metric,
        [
            (
                "ApproximateAgeOfOldestMessage",
                format!("{env}-jobs").as_str()
            ),
            (
                "ApproximateNumberOfMessagesVisible",
                format!("{env}-jobs-dead").as_str()
            ),
        ]
        .into_iter()
        .collect()
    );

    // A message received twice and never deleted moves to the dead-letter queue (SQS moves it
    // when a receive finds its count beyond the limit). The queue also hears the alarm topic:
    // an alarm changing state (other tests' metrics reach this deployment's alarms in
    // ministack) puts a notification in it, which is handled (deleted) and not counted.
    aws.sqs
        .send_message()
        .queue_url(&url)
        .message_body("payment 1")
        .send()
        .await
        .unwrap();
    let received = std::sync::atomic::AtomicUsize::new(0);
    let moved = until(40, || async {
        let got = aws
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for m in got.messages() {
            let handle = m.receipt_handle().unwrap();
            if m.body() == Some("payment 1") {
                received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                aws.sqs
                    .change_message_visibility()
                    .queue_url(&url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
            } else {
                aws.sqs
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .unwrap();
            }
        }
        let dead = aws
            .sqs
            .receive_message()
            .queue_url(&dead_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        dead.messages()
            .iter()
            .find(|m| m.body() == Some("payment 1"))
            .map(|_| ())
    })
    .await;
    assert!(
        moved.is_some(),
        "payment 1 never reached the dead-letter queue"
    );
    let received = received.into_inner();
    assert!(
        received >= 2,
        "moved after {received} receives, not the limit of 2"
    );

    let mut plan = Ftctl::new().args(["plan", "stage1", "--env", &env, "--detailed-exitcode"]);
    for v in vars {
        plan = plan.var(v);
    }
    plan.run().success();
    let mut plan = Ftctl::new().args(["plan", "stage1", "--env", &env, "--json"]);
    for v in vars.iter().take(3) {
        plan = plan.var(v);
    }
    let run = plan.var("queues.jobs.max_receive_count=4").run().ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    // The queue in place, and the dead-letter alarm, whose description names the limit.
    let changes: std::collections::BTreeMap<&str, &str> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [
            ("alarm.queue.jobs.dead-letters", "update"),
            ("queue.jobs", "update")
        ]
        .into_iter()
        .collect()
    );

    d.destroy().run().success();
    let left: Vec<String> = leftovers(&aws, &env)
        .await
        .into_iter()
        .filter(|l| l.starts_with("queue "))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
