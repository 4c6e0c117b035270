//! A replica's resource policy, as `ftctl chaos pause-replication` edits it: ftctl's deny of the
//! replication role added to whatever the policy holds, and taken out again on rollback. The
//! policy text itself is built and taken apart in the core (`chaos::design::replication`); this
//! file does the conditional reads and writes.
//!
//! Every write is conditional on the revision just read (`ExpectedRevisionId`, `NO_POLICY` when
//! there is none: DynamoDB API Reference, PutResourcePolicy), so an edit someone makes meanwhile
//! is never overwritten: the write fails with `PolicyNotFoundException` and is redone from a fresh
//! read. `GetResourcePolicy` is eventually consistent right after a put, and a policy cannot be
//! changed again for 15 seconds after a change ("Resource-based policy considerations"), so both
//! edits retry for a while.

use crate::aws::sdk::{coded, error_code, retry_while};
use anyhow::{anyhow, Result};
use aws_sdk_dynamodb::Client;
use ftctl_core::chaos::design::replication::{self, EXPIRY_GRACE_SECONDS};
use std::time::{Duration, SystemTime};

/// The answers to wait out: a stale read (the revision moved on), a change too soon after the
/// previous one, or too many control-plane requests at once.
const RETRY: &[&str] = &[
    "PolicyNotFoundException",
    "ResourceInUseException",
    "LimitExceededException",
];
const EDIT_WAIT: Duration = Duration::from_secs(120);
/// How long a read may still show the policy from before ftctl's put.
const STALE_READ_WAIT: Duration = Duration::from_secs(20);

/// The policy and its revision, `None` when the table has none.
async fn read(
    client: &Client,
    arn: &str,
) -> Result<Option<(String, String)>, (Option<String>, anyhow::Error)> {
    match client.get_resource_policy().resource_arn(arn).send().await {
        Ok(out) => Ok(Some((
            out.policy().unwrap_or_default().to_string(),
            out.revision_id().unwrap_or_default().to_string(),
        ))),
        Err(e) if error_code(&e).as_deref() == Some("PolicyNotFoundException") => Ok(None),
        Err(e) => Err(coded(&format!("reading the resource policy of {arn}"), e)),
    }
}

fn plain(e: String) -> (Option<String>, anyhow::Error) {
    (None, anyhow!(e))
}

/// Denies DynamoDB's replication role on the replica `arn` for `seconds` (plus the grace after
/// which the statement stops applying by itself).
pub async fn pause(client: &Client, arn: &str, seconds: u32) -> Result<()> {
    let until = SystemTime::now() + Duration::from_secs(u64::from(seconds + EXPIRY_GRACE_SECONDS));
    let until = aws_smithy_types::DateTime::from(until)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .map_err(|e| anyhow!("formatting the deny's expiry: {e}"))?;
    let statement = replication::deny_statement(arn, &until).map_err(|e| anyhow!(e))?;
    retry_while(RETRY, EDIT_WAIT, || async {
        let current = read(client, arn).await?;
        let policy =
            replication::with_deny(current.as_ref().map(|(p, _)| p.as_str()), statement.clone())
                .map_err(plain)?;
        let revision = current
            .map(|(_, r)| r)
            .unwrap_or_else(|| "NO_POLICY".into());
        client
            .put_resource_policy()
            .resource_arn(arn)
            .policy(policy)
            .expected_revision_id(revision)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| coded(&format!("denying replication on {arn}"), e))
    })
    .await
    .map_err(|(_, e)| e)
}

/// Takes ftctl's deny out of the replica's policy, keeping every other statement, and deletes
/// the policy when nothing else is left. Nothing to take out is success (the run may have died
/// before its put), once a read has had time to show a put made just before.
pub async fn resume(client: &Client, arn: &str) -> Result<()> {
    let started = std::time::Instant::now();
    retry_while(RETRY, EDIT_WAIT, || async {
        let current = loop {
            let current = read(client, arn).await?;
            let ours = current
                .as_ref()
                .is_some_and(|(p, _)| replication::denies(p));
            if ours || started.elapsed() >= STALE_READ_WAIT {
                break current;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        };
        let Some((policy, revision)) = current.filter(|(p, _)| replication::denies(p)) else {
            return Ok(());
        };
        match replication::without_deny(&policy).map_err(plain)? {
            Some(rest) => client
                .put_resource_policy()
                .resource_arn(arn)
                .policy(rest)
                .expected_revision_id(revision)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("taking ftctl's deny out of {arn}'s policy"), e)),
            None => client
                .delete_resource_policy()
                .resource_arn(arn)
                .expected_revision_id(revision)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting the resource policy of {arn}"), e)),
        }
    })
    .await
    .map_err(|(_, e)| e)
}
