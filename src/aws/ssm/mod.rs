//! Systems Manager Run Command, for the gray-failure experiments: send a document to instances
//! and see it start, and cancel it and see it end. SSM has no resource kind of ftctl's, so it
//! has no providers in the registry; its endpoint variable is still declared here, like every
//! service's.
//!
//! AWS facts relied on (SSM API Reference): SendCommand takes DocumentName, up to 50 InstanceIds,
//! Parameters (a map of string lists), TimeoutSeconds (how long a command may wait to be
//! delivered, 30 s at least) and a Comment of up to 100 characters; ListCommands takes an
//! InstanceId and a DocumentName filter; ListCommandInvocations gives each instance's Status
//! (Pending, InProgress, Delayed, Success, Cancelled, TimedOut, Failed, Cancelling);
//! CancelCommand "attempts to cancel" a command on the instances given (there is no guarantee),
//! so a cancellation is only done once every invocation reports a final status.

use crate::aws::clients::Clients;
use crate::aws::sdk::aws_error;
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_SSM` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "SSM";

/// How long a command may wait for delivery before SSM gives up on it (SendCommand
/// TimeoutSeconds): an instance whose agent cannot be reached fails the injection instead of
/// receiving the fault minutes later.
const DELIVERY_TIMEOUT_SECONDS: i32 = 60;
/// How long to wait for the invocations to start, or to end after a cancel.
const SETTLE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_secs(1);

/// Statuses after which an invocation runs no more.
fn is_final(status: &str) -> bool {
    matches!(status, "Success" | "Cancelled" | "TimedOut" | "Failed")
}

/// instance id -> status of each invocation of a command.
async fn invocations(clients: &Clients, command_id: &str) -> Result<BTreeMap<String, String>> {
    let items: Vec<_> = clients
        .ssm
        .list_command_invocations()
        .command_id(command_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| {
            aws_error(
                &format!("reading the invocations of command {command_id}"),
                e,
            )
        })?;
    Ok(items
        .iter()
        .filter_map(|i| {
            Some((
                i.instance_id()?.to_string(),
                i.status()?.as_str().to_string(),
            ))
        })
        .collect())
}

/// Sends `document` to `instances` and waits until it runs on every one of them. Returns the
/// command id. An instance where it failed to start (not managed, no route to SSM, the tools
/// could not be installed) is an error naming it and its status.
pub async fn send(
    clients: &Clients,
    document: &str,
    instances: &[String],
    parameters: &BTreeMap<String, Vec<String>>,
    comment: &str,
) -> Result<String> {
    let out = clients
        .ssm
        .send_command()
        .document_name(document)
        .set_instance_ids(Some(instances.to_vec()))
        .set_parameters(Some(parameters.clone().into_iter().collect()))
        .timeout_seconds(DELIVERY_TIMEOUT_SECONDS)
        .comment(comment)
        .send()
        .await
        .map_err(|e| aws_error(&format!("sending {document} to {}", instances.join(" ")), e))?;
    let Some(id) = out
        .command()
        .and_then(|c| c.command_id())
        .map(str::to_string)
    else {
        bail!("SendCommand of {document} returned no command id");
    };
    let start = Instant::now();
    loop {
        let states = invocations(clients, &id).await?;
        let failed: Vec<String> = states
            .iter()
            .filter(|(_, s)| is_final(s) && s.as_str() != "Success")
            .map(|(i, s)| format!("{i}: {s}"))
            .collect();
        if !failed.is_empty() {
            bail!(
                "command {id} ({document}) did not run on {} (see its output in Systems Manager, Run Command)",
                failed.join(", ")
            );
        }
        let started = instances.iter().all(|i| {
            states
                .get(i)
                .is_some_and(|s| s == "InProgress" || s == "Success")
        });
        if started {
            return Ok(id);
        }
        if start.elapsed() > SETTLE {
            bail!(
                "command {id} ({document}) had not started on every instance after {} s: {states:?}",
                SETTLE.as_secs()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Cancels the commands of `document` marked `comment` that still run on `instances`, and waits
/// until every invocation of them there has ended. Nothing to cancel is success: the command
/// was never sent, or it already ended by itself after its DurationSeconds.
pub async fn cancel(
    clients: &Clients,
    document: &str,
    instances: &[String],
    comment: &str,
) -> Result<()> {
    let Some(first) = instances.first() else {
        return Ok(());
    };
    let filter = aws_sdk_ssm::types::CommandFilter::builder()
        .key(aws_sdk_ssm::types::CommandFilterKey::DocumentName)
        .value(document)
        .build()
        .map_err(|e| anyhow::anyhow!("building a command filter: {e}"))?;
    let commands: Vec<_> = clients
        .ssm
        .list_commands()
        .instance_id(first)
        .filters(filter)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error(&format!("listing the commands sent to {first}"), e))?;
    let ours: Vec<String> = commands
        .iter()
        .filter(|c| c.comment() == Some(comment) && c.document_name() == Some(document))
        .filter_map(|c| c.command_id().map(str::to_string))
        .collect();
    for id in &ours {
        let states = invocations(clients, id).await?;
        let running: Vec<String> = instances
            .iter()
            .filter(|i| states.get(*i).is_some_and(|s| !is_final(s)))
            .cloned()
            .collect();
        if !running.is_empty() {
            clients
                .ssm
                .cancel_command()
                .command_id(id)
                .set_instance_ids(Some(running))
                .send()
                .await
                .map_err(|e| aws_error(&format!("cancelling command {id}"), e))?;
        }
        let start = Instant::now();
        loop {
            let states = invocations(clients, id).await?;
            let left: Vec<String> = instances
                .iter()
                .filter_map(|i| {
                    states
                        .get(i)
                        .filter(|s| !is_final(s))
                        .map(|s| format!("{i}: {s}"))
                })
                .collect();
            if left.is_empty() {
                break;
            }
            if start.elapsed() > SETTLE {
                bail!(
                    "command {id} ({document}) still runs after CancelCommand: {} (its rollback \
                     script is in /var/lib/amazon/ssm/ on the instance)",
                    left.join(", ")
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(())
}
