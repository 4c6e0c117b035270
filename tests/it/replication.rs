//! `ftctl chaos pause-replication` on a deployed stage 2 (a DynamoDB table replicated to
//! us-west-2): the experiment is offered, its dry run changes nothing, the run puts ftctl's deny
//! of the replication role on the replica's resource policy (beside the owner's own statement),
//! replication is really held back while it is there (the emulator layer models that:
//! localstack/ministack_patches/dynamodb.py), and rollback puts back exactly the owner's policy,
//! after which the held writes arrive. The marker writer runs beside it: markers the test deletes
//! (acknowledged writes lost) are reported missing in every region, with a non-zero RPO, and the
//! rest are removed afterwards.

use crate::chaos::{journal, spawn_ftctl, Deployed};
use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::time::Duration;

/// The replica's resource policy as the emulator holds it, `None` when there is none.
async fn policy(aws: &Aws, arn: &str) -> Option<Value> {
    match aws
        .dynamodb_west
        .get_resource_policy()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(out) => Some(serde_json::from_str(out.policy().unwrap()).unwrap()),
        Err(e) => {
            let code = aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e).map(str::to_string);
            assert_eq!(code.as_deref(), Some("PolicyNotFoundException"), "{e:?}");
            None
        }
    }
}

fn key(pk: &str) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("pk".to_string(), AttributeValue::S(pk.into())),
        ("sk".to_string(), AttributeValue::S("x".into())),
    ]
    .into_iter()
    .collect()
}

async fn holds(client: &aws_sdk_dynamodb::Client, table: &str, pk: &str) -> bool {
    client
        .get_item()
        .table_name(table)
        .set_key(Some(key(pk)))
        .send()
        .await
        .unwrap()
        .item()
        .is_some()
}

/// Marker partition keys in one region's copy of the table.
async fn markers(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<String> {
    let out = client.scan().table_name(table).send().await.unwrap();
    out.items()
        .iter()
        .filter_map(|i| i.get("pk").and_then(|v| v.as_s().ok()).cloned())
        .filter(|pk| pk.starts_with("ftctl-marker#"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_replication_denies_the_replication_role_and_rollback_restores_the_policy() {
    let _emulators = emulators().await;
    // The stack's RPO reaches the run through the table's tag.
    let d = Deployed::of(
        "stage2",
        "pr",
        &[
            "caches.session.autoscaling.enabled=false",
            "tables.orders.rpo_seconds=0.5",
        ],
    );
    let aws = aws().await;
    calm_alarms(&aws, &d.env).await;
    let table = format!("{}-orders", d.env);
    let replica = aws
        .dynamodb_west
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_string();

    let run = ftctl(&["chaos", "list", "--env", &d.env, "--json"]).ok();
    let list: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        list["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["experiment"] == "pause-replication"
                && e["targets"].as_str().unwrap().contains(REPLICA_REGION)),
        "{list}"
    );

    // The owner's own statement, which rollback must leave exactly as it was.
    let own = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "OwnersReaders",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::000000000000:root" },
            "Action": "dynamodb:GetItem",
            "Resource": replica,
        }],
    });
    aws.dynamodb_west
        .put_resource_policy()
        .resource_arn(&replica)
        .policy(own.to_string())
        .send()
        .await
        .unwrap();

    ftctl(&[
        "chaos",
        "pause-replication",
        "--env",
        &d.env,
        "--duration",
        "60",
        "--dry-run",
    ])
    .success()
    .stdout_has("pause replication of table")
    .stdout_has(REPLICA_REGION);
    assert_eq!(
        policy(&aws, &replica).await,
        Some(own.clone()),
        "the dry run changed the policy"
    );
    // Out of range: refused by the parser, nothing sent.
    ftctl(&[
        "chaos",
        "pause-replication",
        "--env",
        &d.env,
        "--duration",
        "30",
    ])
    .failure(2);

    let reports = tempfile::tempdir().unwrap();
    let (command, mut child) = spawn_ftctl(&[
        "chaos",
        "pause-replication",
        "--env",
        &d.env,
        "--duration",
        "60",
        "--interval",
        "0.2",
        "--after-timeout",
        "2",
        "--marker-rate",
        "10",
        "--converge-timeout",
        "10",
        "--report-dir",
        reports.path().to_str().unwrap(),
    ]);
    let paused = until(300, || async {
        policy(&aws, &replica)
            .await
            .filter(|p| p["Statement"].as_array().unwrap().len() == 2)
    })
    .await;
    let Some(paused) = paused else {
        let _ = child.kill();
        panic!("{command}: the replica's policy never got ftctl's deny");
    };
    let deny = &paused["Statement"][1];
    assert_eq!(deny["Sid"], "FtctlChaosPauseReplication");
    assert_eq!(deny["Effect"], "Deny");
    assert!(deny["Principal"]["AWS"]
        .as_str()
        .unwrap()
        .ends_with(":role/aws-service-role/replication.dynamodb.amazonaws.com/AWSServiceRoleForDynamoDBReplication"));
    assert_eq!(deny["Resource"], replica.as_str());
    assert!(deny["Condition"]["DateLessThan"]["aws:CurrentTime"].is_string());
    assert_eq!(paused["Statement"][0], own["Statement"][0]);
    assert_eq!(
        journal(reports.path())["pending_undo"][0]["undo"],
        "resume-replication"
    );

    // Replication is held back: a write at home does not reach the replica.
    aws.dynamodb
        .put_item()
        .table_name(&table)
        .set_item(Some(key("written-while-paused")))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(holds(&aws.dynamodb, &table, "written-while-paused").await);
    assert!(!holds(&aws.dynamodb_west, &table, "written-while-paused").await);

    // Three acknowledged markers are lost (deleted at home, so everywhere once replication
    // resumes): the markers must say so.
    let Some(mut written) = until(100, || async {
        Some(markers(&aws.dynamodb, &table).await).filter(|w| w.len() >= 6)
    })
    .await
    else {
        let _ = child.kill();
        panic!("{command}: fewer than 6 markers were written");
    };
    written.sort();
    for pk in &written[1..4] {
        aws.dynamodb
            .delete_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S("ftctl-marker".into()))
            .send()
            .await
            .unwrap();
    }

    // Ctrl-C: the run aborts and its rollback takes the deny out.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let run = finish((command, child)).await.failure(2);
    let j = journal(reports.path());
    assert_eq!(j["outcome"], "aborted", "{}", run.stdout);
    assert_eq!(j["pending_undo"].as_array().unwrap().len(), 0, "{j}");
    assert_eq!(
        policy(&aws, &replica).await,
        Some(own),
        "rollback did not restore the policy"
    );
    // The held write arrives once the deny is gone.
    assert!(holds(&aws.dynamodb_west, &table, "written-while-paused").await);

    let m = &j["markers"][0];
    assert_eq!(m["table"], table.as_str(), "{j}");
    for region in m["regions"].as_array().unwrap() {
        assert_eq!(region["missing"], 3, "{m}");
        assert!(region["lost_seconds"].as_f64().unwrap() > 0.0, "{m}");
    }
    assert!(m["rpo_seconds"].as_f64().unwrap() > 0.0, "{m}");
    assert_eq!(m["rpo_objective"], 0.5, "{m}");
    assert!(
        run.stdout.contains("3 acknowledged writes lost"),
        "{}",
        run.stdout
    );
    assert_eq!(m["left_behind"], 0, "{m}");
    assert!(markers(&aws.dynamodb, &table).await.is_empty());
    assert!(markers(&aws.dynamodb_west, &table).await.is_empty());
}
