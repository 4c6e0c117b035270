//! AWS Fault Injection Service: the experiment templates `verify --schedule` makes from the
//! templates ftctl exports (`chaos::fis`, checked by `fis::model::check`), found again by their
//! `ftctl:game-day` tag, and the finished experiments `verify --collect` reads back.
//! CreateExperimentTemplate takes a client token, a description, targets, actions, stop
//! conditions, the role and up to 50 tags (FIS API Reference); an experiment ends `completed`,
//! `stopped` (by hand or a stop condition), `failed` or `cancelled` (ExperimentState).

use crate::aws::clients::Clients;
use crate::aws::sdk::aws_error;
use crate::evidence::FisRun;
use anyhow::{anyhow, Result};
use aws_sdk_fis::types::{
    CreateExperimentTemplateActionInput, CreateExperimentTemplateStopConditionInput,
    CreateExperimentTemplateTargetInput, ExperimentTemplateTargetInputFilter,
};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

fn strings(v: &Value) -> Option<HashMap<String, String>> {
    let map = v.as_object()?;
    Some(
        map.iter()
            .map(|(k, v)| {
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                (k.clone(), s)
            })
            .collect(),
    )
}

fn list(v: &Value) -> Option<Vec<String>> {
    Some(
        v.as_array()?
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
    )
}

/// A scheduled template, as listed.
pub struct Template {
    pub id: String,
    pub failure_mode: String,
    pub description: String,
}

/// Makes the template `doc` (an exported template: description, roleArn, targets, actions,
/// stopConditions, tags) with `tags` added; gives its id. The role may be minutes old: IAM is
/// eventually consistent, so FIS's "cannot assume the role" is retried for half a minute.
pub async fn create_template(
    clients: &Clients,
    doc: &Value,
    tags: &[(&str, &str)],
    token: &str,
) -> Result<String> {
    let mut targets = HashMap::new();
    for (name, t) in doc["targets"].as_object().into_iter().flatten() {
        let filters = t["filters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                ExperimentTemplateTargetInputFilter::builder()
                    .path(f["path"].as_str().unwrap_or_default())
                    .set_values(list(&f["values"]))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let target = CreateExperimentTemplateTargetInput::builder()
            .resource_type(t["resourceType"].as_str().unwrap_or_default())
            .set_resource_arns(list(&t["resourceArns"]))
            .set_resource_tags(strings(&t["resourceTags"]))
            .set_filters((!filters.is_empty()).then_some(filters))
            .selection_mode(t["selectionMode"].as_str().unwrap_or("ALL"))
            .set_parameters(strings(&t["parameters"]))
            .build()?;
        targets.insert(name.clone(), target);
    }
    let mut actions = HashMap::new();
    for (name, a) in doc["actions"].as_object().into_iter().flatten() {
        let action = CreateExperimentTemplateActionInput::builder()
            .action_id(a["actionId"].as_str().unwrap_or_default())
            .set_description(a["description"].as_str().map(str::to_string))
            .set_parameters(strings(&a["parameters"]))
            .set_targets(strings(&a["targets"]))
            .set_start_after(list(&a["startAfter"]))
            .build()?;
        actions.insert(name.clone(), action);
    }
    let stops = doc["stopConditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            CreateExperimentTemplateStopConditionInput::builder()
                .source(s["source"].as_str().unwrap_or("none"))
                .set_value(s["value"].as_str().map(str::to_string))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut all_tags = strings(&doc["tags"]).unwrap_or_default();
    for (k, v) in tags {
        all_tags.insert(k.to_string(), v.to_string());
    }
    let mut tries = 0;
    loop {
        let sent = clients
            .fis
            .create_experiment_template()
            .client_token(token)
            .description(doc["description"].as_str().unwrap_or_default())
            .role_arn(doc["roleArn"].as_str().unwrap_or_default())
            .set_targets(Some(targets.clone()))
            .set_actions(Some(actions.clone()))
            .set_stop_conditions(Some(stops.clone()))
            .set_tags(Some(all_tags.clone()))
            .send()
            .await;
        match sent {
            Ok(out) => {
                return out
                    .experiment_template()
                    .and_then(|t| t.id())
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("FIS made a template without an id"))
            }
            Err(e)
                if tries < 10
                    && crate::aws::sdk::error_code(&e).as_deref()
                        == Some("ValidationException")
                    && format!("{e:?}").to_lowercase().contains("role") =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Err(e) => return Err(aws_error("creating an FIS experiment template", e)),
        }
    }
}

/// The deployment's scheduled templates (tagged `ftctl:game-day` = `env`).
pub async fn templates(clients: &Clients, env: &str) -> Result<Vec<Template>> {
    use crate::chaos::fis::schedule::{TAG_FAILURE_MODE, TAG_GAME_DAY};
    let mut out = Vec::new();
    let mut pages = clients
        .fis
        .list_experiment_templates()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("listing FIS experiment templates", e))?;
        for t in page.experiment_templates() {
            let tags = t.tags();
            let tag = |k: &str| tags.and_then(|m| m.get(k)).cloned();
            if tag(TAG_GAME_DAY).as_deref() != Some(env) {
                continue;
            }
            out.push(Template {
                id: t.id().unwrap_or_default().to_string(),
                failure_mode: tag(TAG_FAILURE_MODE).unwrap_or_default(),
                description: t.description().unwrap_or_default().to_string(),
            });
        }
    }
    Ok(out)
}

pub async fn delete_template(clients: &Clients, id: &str) -> Result<()> {
    match clients.fis.delete_experiment_template().id(id).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(
            &format!("deleting FIS experiment template {id}"),
            e,
        )),
    }
}

fn rfc3339(t: &aws_smithy_types::DateTime) -> String {
    t.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// The finished experiments of `template` (running ones are left for a later collect).
pub async fn finished_runs(clients: &Clients, template: &Template) -> Result<Vec<FisRun>> {
    let mut ids = Vec::new();
    let mut pages = clients
        .fis
        .list_experiments()
        .experiment_template_id(&template.id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("listing FIS experiments", e))?;
        // The listing may hold other templates' experiments where the filter is not applied.
        ids.extend(
            page.experiments()
                .iter()
                .filter(|x| x.experiment_template_id() == Some(template.id.as_str()))
                .filter_map(|x| x.id().map(str::to_string)),
        );
    }
    let mut runs = Vec::new();
    for id in ids {
        let got = clients
            .fis
            .get_experiment()
            .id(&id)
            .send()
            .await
            .map_err(|e| aws_error(&format!("reading FIS experiment {id}"), e))?;
        let Some(x) = got.experiment() else { continue };
        let Some(state) = x.state() else { continue };
        let status = state
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if !matches!(
            status.as_str(),
            "completed" | "stopped" | "failed" | "cancelled"
        ) {
            continue;
        }
        let (Some(start), end) = (x.start_time(), x.end_time()) else {
            continue;
        };
        let seconds = end
            .map(|e| (e.as_secs_f64() - start.as_secs_f64()).max(0.0))
            .unwrap_or_default();
        runs.push(FisRun {
            id,
            failure_mode: template.failure_mode.clone(),
            description: template.description.clone(),
            status,
            reason: state.reason().unwrap_or_default().to_string(),
            started: rfc3339(start),
            seconds,
        });
    }
    Ok(runs)
}
