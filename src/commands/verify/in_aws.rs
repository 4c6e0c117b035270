//! Game days that run inside AWS when no ftctl does: `verify --schedule EXPR` writes an FIS
//! experiment template for each selected failure mode (the same templates `chaos export-fis`
//! prints, checked against what FIS accepts), an experiment role allowed exactly their actions,
//! a Scheduler role allowed to start only them, and one schedule per template in the
//! deployment's schedule group, staggered so that no two start together; `--unschedule`
//! removes it all (as `destroy` does); `--collect` reads the finished experiments back into
//! evidence, so the score covers runs ftctl did not start.

use super::{default_duration, modes, select};
use crate::aws::account_of;
use crate::aws::s3::evidence::Store;
use crate::aws::{fis, game_days, iam::service_role, scheduler};
use crate::chaos::design::{self, Refusal};
use crate::chaos::fis::{self as fis_doc, model, schedule};
use crate::cli::RunArgs;
use crate::cloud::Cloud;
use crate::deployment::TAG_DEPLOYMENT;
use crate::evidence::Evidence;
use anyhow::Result;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use std::process::ExitCode;

pub(super) async fn schedule(
    run: &RunArgs,
    only: &[String],
    expression: &str,
    stagger: f64,
) -> Result<ExitCode> {
    if let Err(e) = schedule::check_expression(expression) {
        eprintln!("refused: --schedule {e}");
        return Ok(ExitCode::from(2));
    }
    let (cloud, inv, observed) = super::inventory_observed(&run.target).await?;
    let derived = modes(&inv, &observed);
    let selected = match select(&derived, only, &inv.env) {
        Ok(s) => s,
        Err(refused) => {
            eprintln!("refused: {refused}");
            return Ok(ExitCode::from(2));
        }
    };
    let clients = &cloud.clients;
    let region = clients.region.clone();
    let (partition, account) = account_of(clients).await?;
    let (fis_role, scheduler_role) = schedule::role_names(&inv.env, &region);
    let path = schedule::role_path(&inv.env, &region);
    let fis_role_arn = format!("arn:{partition}:iam::{account}:role{path}{fis_role}");

    let lab = crate::aws::chaos::AwsLab::new(&cloud, &inv);
    let baseline = crate::chaos::run::Lab::probe(&lab).await?;
    let mut templates = Vec::new();
    for (a, mode, _) in &selected {
        let duration = default_duration(&a.fault).unwrap_or(300.0);
        // FIS has no recovery budget: the fault's length stands in, as for export-fis.
        let design = match design::design(&a.fault, &inv, &baseline, Some(duration)) {
            Ok(d) => d,
            Err(Refusal(why)) => {
                println!("  {mode}: not scheduled: {why}");
                continue;
            }
        };
        let doc = fis_doc::template(&a.fault, &design, &inv, &fis_role_arn, duration, &[]);
        let problems = model::check(&doc);
        if !problems.is_empty() {
            println!("  {mode}: not scheduled: {}", problems.join("; "));
            continue;
        }
        templates.push((mode.clone(), doc));
    }
    if templates.is_empty() {
        eprintln!("refused: no selected failure mode can run in FIS");
        return Ok(ExitCode::from(2));
    }
    let group = schedule::schedule_group(&inv.env);
    println!(
        "Scheduling {} game day{} of deployment {} in {} ({expression}, {stagger:.0} s apart): \
         FIS templates, role {fis_role} for FIS, role {scheduler_role} for EventBridge \
         Scheduler, schedule group {group}.",
        templates.len(),
        if templates.len() == 1 { "" } else { "s" },
        inv.env,
        cloud.target()
    );
    if run.dry_run {
        for (mode, doc) in &templates {
            println!(
                "  {mode}: {}",
                doc["description"].as_str().unwrap_or_default()
            );
        }
        println!("Dry run: nothing was made.");
        return Ok(ExitCode::SUCCESS);
    }
    if !super::super::chaos::endpoints_are_loopback() {
        super::super::confirm(
            run.yes,
            &format!(
                "have AWS inject these faults into {} {expression}, with nobody watching",
                inv.env
            ),
        )?;
    }
    // A new schedule replaces the old one whole.
    for line in game_days::unschedule(clients, &inv.env).await? {
        println!("  replaced: {line}");
    }
    let tags = [
        (schedule::TAG_GAME_DAY, inv.env.as_str()),
        (TAG_DEPLOYMENT, inv.env.as_str()),
    ];
    let docs: Vec<serde_json::Value> = templates.iter().map(|(_, d)| d.clone()).collect();
    service_role::put(
        clients,
        (&fis_role, &path),
        &schedule::fis_trust(&partition, &account, &region),
        &schedule::fis_policy(&docs, &inv.env),
        &tags,
    )
    .await?;
    let now = crate::aws::unix_now() as i64;
    let mut made = Vec::new();
    for (i, (mode, doc)) in templates.iter().enumerate() {
        let mut mode_tags = tags.to_vec();
        mode_tags.push((schedule::TAG_FAILURE_MODE, mode.as_str()));
        let token = format!("{}-{}-{now}", inv.env, schedule::schedule_name(mode));
        let id = fis::create_template(clients, doc, &mode_tags, &token).await?;
        made.push((mode.clone(), id, now + ((i + 1) as f64 * stagger) as i64));
    }
    let ids: Vec<String> = made.iter().map(|(_, id, _)| id.clone()).collect();
    let scheduler_arn = service_role::put(
        clients,
        (&scheduler_role, &path),
        &schedule::scheduler_trust(&partition, &account, &region, &group),
        &schedule::scheduler_policy(&partition, &account, &region, &ids),
        &tags,
    )
    .await?;
    scheduler::ensure_group(clients, &group, &tags).await?;
    let target = schedule::start_target(&partition);
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "failure mode",
        "FIS template",
        "schedule",
        "first run (UTC)",
    ]);
    for (mode, id, start) in &made {
        let name = schedule::schedule_name(mode);
        let input = schedule::start_input(id);
        scheduler::create_schedule(
            clients,
            &group,
            &name,
            expression,
            *start,
            (&target, &scheduler_arn, &input),
        )
        .await?;
        let first = aws_smithy_types::DateTime::from_secs(*start)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        table.add_row(vec![mode.clone(), id.clone(), name, first]);
    }
    println!("{table}");
    println!(
        "FIS checks each template's stop conditions, not steady state: a game day may start on \
         a deployment that is not steady. `ftctl verify --collect` reads the results into \
         evidence; `ftctl verify --unschedule` (or destroy) removes all of this."
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn unschedule(run: &RunArgs) -> Result<ExitCode> {
    let env = run.target.env.name();
    crate::deployment::validate_env(env).map_err(anyhow::Error::msg)?;
    let cloud =
        crate::aws::AwsCloud::connect(run.target.region.as_deref(), Default::default()).await?;
    let removed = game_days::unschedule(&cloud.clients, env).await?;
    if removed.is_empty() {
        println!("Deployment {env} has no game days scheduled: nothing to remove.");
    }
    for r in removed {
        println!("Removed {r}.");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn collect(run: &RunArgs) -> Result<ExitCode> {
    let (cloud, inv, observed) = super::inventory_observed(&run.target).await?;
    let clients = &cloud.clients;
    let store = Store::of(clients, &inv.env).await?;
    let applied = store.applied().await?;
    let derived = modes(&inv, &observed);
    let templates = fis::templates(clients, &inv.env).await?;
    if templates.is_empty() {
        println!(
            "Deployment {} has no scheduled FIS templates: nothing to collect (verify --schedule makes them).",
            inv.env
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (mut seen, mut new) = (0, 0);
    for t in &templates {
        let touched = derived
            .iter()
            .find(|(_, m, _)| *m == t.failure_mode)
            .map(|(_, _, touched)| touched.clone())
            .unwrap_or_default();
        for fis_run in fis::finished_runs(clients, t).await? {
            seen += 1;
            let evidence = Evidence::from_fis(&fis_run, applied.as_ref(), &touched);
            if let Some(at) = store.record_fis(&evidence, &fis_run.id).await? {
                new += 1;
                println!(
                    "  {} ({}, {}): {at}",
                    fis_run.failure_mode, fis_run.id, fis_run.status
                );
            }
        }
    }
    println!(
        "Collected {seen} finished FIS experiment{} of deployment {} ({new} new) into {}.",
        if seen == 1 { "" } else { "s" },
        inv.env,
        store.uri()
    );
    Ok(ExitCode::SUCCESS)
}
