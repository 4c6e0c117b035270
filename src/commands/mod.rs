//! The commands: resolve input (stack, flags) completely before any AWS call, then plan,
//! apply or destroy through the `Cloud` seam.

mod backup;
mod chaos;
mod isolate;
mod status;
mod trail;

use crate::apply::{self, ConsoleReporter};
use crate::aws::{AwsCloud, DeleteOptions};
use crate::cli::{Cli, Command, StackArgs};
use crate::cloud::Cloud;
use crate::expand::{self, Deployment};
use crate::plan::{self, Plan};
use crate::render::{self, Heading};
use crate::resource::{Kind, Observed, ResourceSpec};
use crate::stack::{self, LoadedStack};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// A stack-file problem: reported as is, exit 1, before any AWS call.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Plan {
            stack,
            env,
            json,
            detailed_exitcode,
        } => {
            let input = resolve(&stack, &env.env)?;
            let cloud = AwsCloud::connect(
                input.stack.stack.region.as_deref(),
                DeleteOptions::default(),
            )
            .await?;
            check_region(&input, &cloud.clients.region)?;
            let (desired, observed, plan) = compute(&cloud, &input).await?;
            let _ = (desired, observed);
            let heading = heading(&input, &cloud);
            if json {
                let doc = render::plan_json(&heading, &cloud.clients.region, &plan);
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                print!("{}", render::plan_text(&heading, &plan));
            }
            Ok(if detailed_exitcode && !plan.is_empty() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Apply {
            stack,
            env,
            yes,
            parallelism,
            publish_metrics,
        } => {
            let input = resolve(&stack, &env.env)?;
            let cloud = AwsCloud::connect(
                input.stack.stack.region.as_deref(),
                DeleteOptions::default(),
            )
            .await?;
            check_region(&input, &cloud.clients.region)?;
            let (desired, observed, plan) = compute(&cloud, &input).await?;
            let heading = heading(&input, &cloud);
            print!("{}", render::plan_text(&heading, &plan));
            if plan.is_empty() {
                print_endpoints(&observed);
                return Ok(ExitCode::SUCCESS);
            }
            refuse_protected(
                &plan,
                &observed,
                "set deletion_protection = false for them in the stack (or with --var) and apply that first",
            )?;
            confirm(yes, "apply")?;
            let clients = cloud.clients.clone();
            let started = std::time::Instant::now();
            let cloud: Arc<dyn Cloud> = Arc::new(cloud);
            let result = execute(
                cloud.clone(),
                &input.deployment,
                &plan,
                &desired,
                &observed,
                parallelism,
                "apply",
            )
            .await;
            if publish_metrics {
                let seconds = started.elapsed().as_secs_f64();
                if let Err(e) = crate::aws::lab::publish_apply(
                    &clients,
                    &input.deployment,
                    seconds,
                    plan.changes.len(),
                    result.is_ok(),
                )
                .await
                {
                    eprintln!("warning: the run's metrics were not published: {e:#}");
                }
            }
            result?;
            let after = cloud.observe(&input.deployment).await?;
            print_endpoints(&after);
            Ok(ExitCode::SUCCESS)
        }
        Command::Destroy {
            env,
            region,
            yes,
            skip_final_snapshot,
            disable_deletion_protection,
            parallelism,
        } => {
            expand::validate_env(&env.env).map_err(InputError)?;
            let options = DeleteOptions {
                skip_final_snapshot,
                disable_deletion_protection,
            };
            let cloud = AwsCloud::connect(region.as_deref(), options).await?;
            let observed = cloud
                .observe(&Deployment {
                    env: env.env.clone(),
                    stack: String::new(),
                })
                .await?;
            let stack_name = match crate::resource::stacks_label(&observed) {
                s if s.is_empty() => "-".to_string(),
                s => s,
            };
            let deployment = Deployment {
                env: env.env.clone(),
                stack: stack_name.clone(),
            };
            let plan = plan::diff(&[], &observed)?;
            let heading = Heading {
                deployment: &env.env,
                stack: &stack_name,
                target: cloud.target(),
            };
            if plan.is_empty() {
                println!(
                    "Deployment {} owns nothing in {}: nothing to destroy.",
                    env.env, heading.target
                );
                return Ok(ExitCode::SUCCESS);
            }
            print!("{}", render::plan_text(&heading, &plan));
            if !disable_deletion_protection {
                refuse_protected(
                    &plan,
                    &observed,
                    "destroy with --disable-deletion-protection to turn it off and delete them",
                )?;
            }
            confirm(yes, "destroy")?;
            execute(
                Arc::new(cloud),
                &deployment,
                &plan,
                &[],
                &observed,
                parallelism,
                "destroy",
            )
            .await?;
            println!("Deployment {} destroyed.", env.env);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup {
            env,
            region,
            list,
            wait,
            json,
        } => backup::run(&env.env, region.as_deref(), list, wait, json).await,
        Command::Status {
            env,
            region,
            watch,
            interval,
            json,
        } => status::run(&env.env, region.as_deref(), watch, interval, json).await,
        Command::Isolate {
            instance,
            env,
            region,
            release,
            suggest,
        } => {
            isolate::run(
                &env.env,
                region.as_deref(),
                instance.as_deref(),
                release,
                suggest,
            )
            .await
        }
        Command::Trail {
            env,
            region,
            since,
            json,
        } => trail::run(&env.env, region.as_deref(), &since, json).await,
        Command::Check {
            stack,
            vars,
            env,
            live,
            json,
        } => run_check(stack, vars, &env.env, live, json).await,
        Command::Graph { stack, out } => {
            let input = resolve(&stack, "dev")?;
            let zones: Vec<String> = match &input.stack.network.availability_zones {
                Some(zones) => zones.clone(),
                None => (1..=input.stack.network.az_count)
                    .map(|i| format!("zone-{i}"))
                    .collect(),
            };
            let specs = expand::expand(&input.stack, "dev", &zones)
                .map_err(|e| anyhow::anyhow!("{}: {e}", input.loaded.files[0].display()))?;
            let title = format!("{} ({} resources)", input.stack.stack.name, specs.len());
            let text = crate::diagram::mermaid(&title, &specs);
            match out {
                Some(path) => std::fs::write(&path, &text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Chaos { command } => Ok(chaos::run(command).await),
    }
}

async fn run_check(
    stack: Option<String>,
    vars: Vec<String>,
    env: &str,
    live: bool,
    json: bool,
) -> Result<ExitCode> {
    use crate::check::{check, drift, render, Severity, Subject};
    let input = match &stack {
        Some(s) => Some(resolve(
            &StackArgs {
                stack: s.clone(),
                vars: vars.clone(),
            },
            env,
        )?),
        None if live => {
            expand::validate_env(env).map_err(InputError)?;
            None
        }
        None => {
            return Err(InputError(
                "check needs a stack (checked as planned) or --live --env NAME".into(),
            )
            .into())
        }
    };
    let (what, findings) = if live {
        let region = input.as_ref().and_then(|i| i.stack.stack.region.clone());
        let cloud = AwsCloud::connect(region.as_deref(), DeleteOptions::default()).await?;
        let deployment = Deployment {
            env: env.to_string(),
            stack: String::new(),
        };
        let observed = cloud.observe(&deployment).await?;
        if observed.is_empty() {
            bail!("deployment {env} owns nothing in {}", cloud.target());
        }
        let subjects: Vec<Subject<'_>> = observed
            .iter()
            .map(|o| Subject {
                id: &o.id,
                kind: o.kind,
                props: &o.props,
                physical_id: Some(&o.physical_id),
            })
            .collect();
        let mut findings = check(&subjects);
        if let Some(input) = &input {
            check_region(input, &cloud.clients.region)?;
            let (_, _, plan) = compute(&cloud, input).await?;
            findings.extend(drift(&plan));
        }
        (format!("deployment {env} in {}", cloud.target()), findings)
    } else {
        let input = input.expect("a stack when not live");
        let zones: Vec<String> = match &input.stack.network.availability_zones {
            Some(z) => z.clone(),
            None => (1..=input.stack.network.az_count)
                .map(|i| format!("zone-{i}"))
                .collect(),
        };
        let specs = expand::expand(&input.stack, env, &zones)
            .map_err(|e| anyhow::anyhow!("{}: {e}", input.loaded.files[0].display()))?;
        let subjects: Vec<Subject<'_>> = specs
            .iter()
            .map(|s| Subject {
                id: &s.id,
                kind: s.kind,
                props: &s.props,
                physical_id: None,
            })
            .collect();
        (
            format!("stack {} as planned", input.stack.stack.name),
            check(&subjects),
        )
    };
    let worst = findings.iter().map(|f| f.severity).max();
    if json {
        let doc = serde_json::json!({ "checked": what, "worst": worst, "findings": findings });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if findings.is_empty() {
        println!("Checked {what}: no findings.");
    } else {
        println!(
            "Checked {what}: {} finding(s)\n{}",
            findings.len(),
            render(&findings)
        );
    }
    Ok(ExitCode::from(Severity::exit_code(worst)))
}

/// Everything the user gave, checked, before any AWS call.
pub struct Input {
    pub loaded: LoadedStack,
    pub stack: stack::Stack,
    pub deployment: Deployment,
}

pub fn resolve(args: &StackArgs, env: &str) -> Result<Input> {
    expand::validate_env(env).map_err(InputError)?;
    let path = stack::resolve_reference(&args.stack, Path::new("stacks"));
    let loaded = stack::load(&path, &args.vars).map_err(|e| InputError(e.to_string()))?;
    let deployment = Deployment {
        env: env.to_string(),
        stack: loaded.stack.stack.name.clone(),
    };
    Ok(Input {
        stack: loaded.stack.clone(),
        loaded,
        deployment,
    })
}

/// Checks that need the region from the AWS configuration; still before any AWS call.
fn check_region(input: &Input, region: &str) -> Result<()> {
    let problems = stack::check_region(&input.stack, region);
    if problems.is_empty() {
        return Ok(());
    }
    Err(InputError(input.loaded.locate(problems).to_string()).into())
}

fn heading<'a>(input: &'a Input, cloud: &AwsCloud) -> Heading<'a> {
    Heading {
        deployment: &input.deployment.env,
        stack: &input.deployment.stack,
        target: cloud.target(),
    }
}

/// Desired resources, observed resources and the plan between them.
pub async fn compute(
    cloud: &dyn Cloud,
    input: &Input,
) -> Result<(Vec<ResourceSpec>, Vec<Observed>, Plan)> {
    let zones = match &input.stack.network.availability_zones {
        Some(zones) => zones.clone(),
        None => cloud.zones().await?,
    };
    let desired = expand::expand(&input.stack, &input.deployment.env, &zones)
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.loaded.files[0].display()))?;
    let observed = cloud.observe(&input.deployment).await.with_context(|| {
        format!(
            "reading deployment {} from {}",
            input.deployment.env,
            cloud.target()
        )
    })?;
    let plan = plan::diff(&desired, &observed)?;
    Ok((desired, observed, plan))
}

pub fn confirm(yes: bool, verb: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {verb} without confirmation: no terminal to ask on, pass --yes");
    }
    print!("\nDo you want to {verb}? Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("{verb} cancelled");
    }
    Ok(())
}

async fn execute(
    cloud: Arc<dyn Cloud>,
    deployment: &Deployment,
    plan: &Plan,
    desired: &[ResourceSpec],
    observed: &[Observed],
    parallelism: u16,
    verb: &str,
) -> Result<()> {
    let total = plan.changes.len();
    let reporter = Arc::new(ConsoleReporter::new(total));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nInterrupted: finishing the operations in progress, starting no new ones (Ctrl-C again to abort).");
            let _ = tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let started = std::time::Instant::now();
    let job = apply::Job {
        deployment,
        plan,
        desired,
        observed,
    };
    let outcome = apply::execute(cloud, job, parallelism as usize, reporter.clone(), rx).await;
    ctrl_c.abort();
    reporter.finish();
    let elapsed = started.elapsed().as_secs_f64();
    if outcome.succeeded() {
        println!(
            "\n{} complete after {elapsed:.1}s: {}",
            if plan.summary.create + plan.summary.update + plan.summary.replace == 0 {
                "Destroy"
            } else {
                "Apply"
            },
            plan::summary_line(&plan.summary)
                .replace("to add", "added")
                .replace("to change", "changed")
                .replace("to replace", "replaced")
                .replace("to destroy", "destroyed")
        );
        return Ok(());
    }
    let mut msg = String::new();
    for (op, err) in &outcome.failures {
        msg.push_str(&format!("\n  {}: {err}", op.id));
    }
    if outcome.interrupted {
        msg.push_str("\n  interrupted by the user");
    }
    bail!(
        "{verb} stopped after {elapsed:.1}s: {} done, {} failed, {} not started{msg}\n\
         Nothing is lost: every resource is tagged, so running the same command again picks up where this one stopped.",
        outcome.completed.len(),
        outcome.failures.len(),
        outcome.not_started.len()
    )
}

/// Refuses, before any change, a plan that would delete protected resources: otherwise the
/// run would remove everything else and then fail on them.
fn refuse_protected(plan: &Plan, observed: &[Observed], how: &str) -> Result<()> {
    let blocked = plan.protected_deletions(observed);
    if blocked.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = blocked
        .iter()
        .map(|c| format!("  {} ({} {})", c.id, c.kind, c.name))
        .collect();
    Err(InputError(format!(
        "refusing to change anything: the plan deletes {} resource{} with deletion protection on:\n{}\nTo go ahead, {how}.",
        blocked.len(),
        if blocked.len() == 1 { "" } else { "s" },
        list.join("\n")
    ))
    .into())
}

fn print_endpoints(observed: &[Observed]) {
    let mut lines = Vec::new();
    for o in observed {
        match o.kind {
            Kind::LoadBalancer => {
                if let Some(dns) = o.outputs.get("dns_name") {
                    lines.push(format!("  {:<22} http://{dns}", o.id));
                }
            }
            Kind::DbInstance => {
                if let Some(ep) = o.outputs.get("endpoint").filter(|e| !e.is_empty()) {
                    lines.push(format!(
                        "  {:<22} {ep} (password: in Secrets Manager)",
                        o.id
                    ));
                }
            }
            Kind::CacheReplicationGroup => {
                if let Some(ep) = o.outputs.get("endpoint").filter(|e| !e.is_empty()) {
                    let port = o.props.get("port").map(|p| p.render()).unwrap_or_default();
                    lines.push(format!("  {:<22} rediss://{ep}:{port} (TLS)", o.id));
                }
            }
            Kind::DnsRecord => {
                lines.push(format!("  {:<22} http://{}", o.id, o.name));
            }
            Kind::DynamoTable => {
                let replicas = o
                    .outputs
                    .get("replica_regions")
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(", replicas in {}", r.replace(',', ", ")))
                    .unwrap_or_default();
                lines.push(format!("  {:<22} table {}{replicas}", o.id, o.physical_id));
            }
            _ => {}
        }
    }
    if !lines.is_empty() {
        lines.sort();
        println!("\nEndpoints:\n{}", lines.join("\n"));
    }
}
