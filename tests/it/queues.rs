//! The SQS queue kind against ministack, through the cloud seam the engine uses (no stack
//! component makes queues yet; the `[queues.NAME]` component of issue 19 will): a dead-letter
//! queue and a queue that redrives to it are created with their attributes and ownership tags,
//! found again by those tags, changed in place, and removed by `ftctl destroy`, which finds them
//! like every other kind.

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
