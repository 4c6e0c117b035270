//! EventBridge Scheduler: the deployment's schedule group and one schedule per scheduled FIS
//! template, starting its experiment through the universal target. Deleting the group deletes
//! its schedules (DeleteScheduleGroup; eventually consistent: it stays DELETING meanwhile).

use crate::aws::clients::Clients;
use crate::aws::sdk::{aws_error, error_code};
use anyhow::Result;
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, Tag, Target};
use std::time::Duration;

/// Makes the group when it does not exist.
pub async fn ensure_group(clients: &Clients, group: &str, tags: &[(&str, &str)]) -> Result<()> {
    let tags = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect::<Result<Vec<_>, _>>()?;
    match clients
        .scheduler
        .create_schedule_group()
        .name(group)
        .set_tags(Some(tags))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e).as_deref() == Some("ConflictException") => Ok(()),
        Err(e) => Err(aws_error(&format!("creating schedule group {group}"), e)),
    }
}

/// One schedule: `expression`, first at `start` (unix seconds), starting `input` on `target`
/// as `role`. The role may be seconds old: a refusal to assume it is retried for half a minute.
pub async fn create_schedule(
    clients: &Clients,
    group: &str,
    name: &str,
    expression: &str,
    start: i64,
    (target, role, input): (&str, &str, &str),
) -> Result<()> {
    let target = Target::builder()
        .arn(target)
        .role_arn(role)
        .input(input)
        .build()?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()?;
    // One bound for both retries: a schedule left by an earlier run is replaced, and a role
    // seconds old may not be assumable yet; neither is retried forever.
    for attempt in 0..10 {
        let sent = clients
            .scheduler
            .create_schedule()
            .group_name(group)
            .name(name)
            .schedule_expression(expression)
            .start_date(aws_smithy_types::DateTime::from_secs(start))
            .flexible_time_window(window.clone())
            .target(target.clone())
            .send()
            .await;
        let e = match sent {
            Ok(_) => return Ok(()),
            Err(e) if attempt < 9 => e,
            Err(e) => return Err(aws_error(&format!("creating schedule {name}"), e)),
        };
        match error_code(&e).as_deref() {
            Some("ConflictException") => {
                // Made by an earlier run that stopped half-way: replaced with this one.
                clients
                    .scheduler
                    .delete_schedule()
                    .group_name(group)
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("replacing schedule {name}"), e))?;
            }
            Some("ValidationException") => tokio::time::sleep(Duration::from_secs(3)).await,
            _ => return Err(aws_error(&format!("creating schedule {name}"), e)),
        }
    }
    anyhow::bail!("creating schedule {name}: still refused after 10 attempts")
}

/// The names of the group's schedules; none when the group does not exist.
pub async fn schedules(clients: &Clients, group: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pages = clients
        .scheduler
        .list_schedules()
        .group_name(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => out.extend(
                p.schedules()
                    .iter()
                    .filter_map(|s| s.name().map(str::to_string)),
            ),
            Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => break,
            Err(e) => return Err(aws_error(&format!("listing schedules of {group}"), e)),
        }
    }
    Ok(out)
}

/// Deletes the group and with it every schedule; whether there was one.
pub async fn delete_group(clients: &Clients, group: &str) -> Result<bool> {
    match clients
        .scheduler
        .delete_schedule_group()
        .name(group)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => Ok(false),
        Err(e) => Err(aws_error(&format!("deleting schedule group {group}"), e)),
    }
}
