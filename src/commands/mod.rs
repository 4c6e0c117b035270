//! The commands: resolve input (stack, flags) completely before any AWS call, then plan,
//! apply or destroy through the `Cloud` seam.

mod backup;
mod chaos;
mod evidence;
mod isolate;
mod prices;
mod status;
mod trail;
mod verify;

use crate::apply::{self, ConsoleReporter};
use crate::aws::{AwsCloud, DeleteOptions};
use crate::cli::{Cli, Command, LockArgs, StackArgs};
use crate::cloud::Cloud;
use crate::cost::{self, PriceBook};
use crate::deployment::{self, Deployment};
use crate::expand;
use crate::lock;
use crate::plan::{self, Plan};
use crate::render::{self, Heading};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::saved;
use crate::session::Session;
use crate::stack::{self, LoadedStack};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use crate::error::InputError;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Plan {
            stack,
            env,
            json,
            detailed_exitcode,
            out,
            refresh_only,
        } => {
            let input = resolve(&stack, env.name())?;
            if let Some(out) = &out {
                check_out_path(out)?;
            }
            let book = prices::book()?;
            let session = Session::connect(
                input.stack.stack.region.as_deref(),
                DeleteOptions::default(),
            )
            .await?;
            let cloud = &*session.cloud;
            let region = cloud.region();
            check_region(&input, &region)?;
            let (desired, observed, plan) = compute(cloud, &input).await?;
            let heading = heading(&input, cloud);
            let proofs = evidence::proofs(&session, env.name()).await;
            if refresh_only {
                let drift = crate::check::drift_of(&plan);
                let matching = plan.unchanged.len() + plan.changes.len() - drift.len();
                let drifted = drift.iter().map(|d| d.id.clone()).collect();
                let reached = crate::evidence::invalidated_by(&drifted, None, &proofs);
                if json {
                    let mut doc = render::drift_json(&heading, &region, &drift, matching);
                    doc["drift_in_proven_radius"] = evidence::stale_json(&reached);
                    println!("{}", serde_json::to_string_pretty(&doc)?);
                } else {
                    print!("{}", render::drift_text(&heading, &drift, matching));
                    print!(
                        "{}",
                        crate::evidence::stale_text(&reached, "Drift reaches the blast radius of")
                    );
                }
                return Ok(if detailed_exitcode && !drift.is_empty() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                });
            }
            let planned = evidence::applied_of(&input.deployment, &desired, Some(&input.stack));
            let stale = evidence::invalidated(&plan, &planned, &proofs);
            let cost = cost::report(&plan, &desired, &observed, &region, &book, prices::today());
            if json {
                let mut doc = render::plan_json(&heading, &region, &plan);
                doc["invalidated_proofs"] = evidence::stale_json(&stale);
                doc["cost"] = serde_json::to_value(&cost)?;
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                print!("{}", render::plan_text(&heading, &plan));
                if !plan.is_empty() {
                    print!("{}", cost.text());
                }
                print!(
                    "{}",
                    crate::evidence::stale_text(&stale, "This change invalidates")
                );
            }
            if let Some(out) = &out {
                save_plan(
                    out,
                    &input,
                    &stack.vars,
                    &region,
                    &desired,
                    &observed,
                    &plan,
                )?;
                let said = format!(
                    "\nSaved this plan to {0}. Apply exactly it with: ftctl apply {0}",
                    out.display()
                );
                // --json keeps standard output one JSON document.
                if json {
                    eprintln!("{said}");
                } else {
                    println!("{said}");
                }
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
            lock,
        } => {
            let book = prices::book()?;
            if let Some(path) = saved_plan_path(&stack.stack)? {
                if !stack.vars.is_empty() {
                    return Err(InputError(format!(
                        "{} is a saved plan: it is applied as planned, --var cannot change it (make a new plan instead)",
                        path.display()
                    ))
                    .into());
                }
                return apply_saved(
                    &path,
                    &book,
                    env.given.as_deref(),
                    parallelism,
                    publish_metrics,
                    &lock,
                )
                .await;
            }
            let input = resolve(&stack, env.name())?;
            let session = Session::connect(
                input.stack.stack.region.as_deref(),
                DeleteOptions::default(),
            )
            .await?;
            apply_stack(
                &session,
                &input,
                &book,
                &lock,
                yes,
                parallelism,
                publish_metrics,
            )
            .await
        }
        Command::Destroy {
            env,
            region,
            yes,
            skip_final_snapshot,
            disable_deletion_protection,
            parallelism,
            lock,
            delete_evidence,
        } => {
            deployment::validate_env(env.name()).map_err(InputError)?;
            let options = DeleteOptions {
                skip_final_snapshot,
                disable_deletion_protection,
            };
            let session = Session::connect(region.as_deref(), options).await?;
            let held = take_lock(&lock, &session, env.name()).await?;
            holding(
                held,
                destroy(
                    &session,
                    env.name(),
                    yes,
                    disable_deletion_protection,
                    parallelism,
                    delete_evidence,
                ),
            )
            .await
        }
        Command::ForceUnlock {
            env,
            region,
            lock,
            lock_id,
        } => {
            deployment::validate_env(env.name()).map_err(InputError)?;
            let session = Session::connect(region.as_deref(), DeleteOptions::default()).await?;
            let backend = lock_backend(&lock, &session)?;
            let key = lock::Key {
                env: env.name().to_string(),
                region: session.cloud.region(),
            };
            println!(
                "{}",
                lock::force_unlock(&backend, &key, lock_id.as_deref()).await?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup {
            env,
            region,
            list,
            wait,
            json,
        } => backup::run(env.name(), region.as_deref(), list, wait, json).await,
        Command::Status {
            env,
            region,
            watch,
            interval,
            json,
        } => status::run(env.name(), region.as_deref(), watch, interval, json).await,
        Command::Isolate {
            instance,
            env,
            region,
            release,
            suggest,
        } => {
            isolate::run(
                env.name(),
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
        } => trail::run(env.name(), region.as_deref(), &since, json).await,
        Command::Check {
            stack,
            vars,
            env,
            live,
            json,
        } => run_check(stack, vars, env.name(), live, json).await,
        Command::Prices {
            command: crate::cli::PricesCommand::Update { out, regions },
        } => prices::update(&out, &regions).await,
        Command::Completions { shell } => {
            let mut cli = <Cli as clap::CommandFactory>::command();
            // Into a buffer first: clap_complete panics when its writer fails (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli, "ftctl", &mut script);
            print_bytes(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => {
            let cli = <Cli as clap::CommandFactory>::command();
            match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .and_then(|()| clap_mangen::generate_to(cli, &dir))
                        .with_context(|| format!("writing man pages into {}", dir.display()))?;
                    println!("Wrote the man pages into {}", dir.display());
                }
                None => {
                    let mut page = Vec::new();
                    clap_mangen::Man::new(cli).render(&mut page)?;
                    print_bytes(&page)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { stack, out, json } => {
            let input = resolve(&stack, "dev")?;
            let zones: Vec<String> = match &input.stack.network.availability_zones {
                Some(zones) => zones.clone(),
                None => (1..=input.stack.network.az_count)
                    .map(|i| format!("zone-{i}"))
                    .collect(),
            };
            let specs = expand_input(&input, "dev", planned_region(&input), &zones)?;
            let title = format!("{} ({} resources)", input.stack.stack.name, specs.len());
            let text = if json {
                let resources: Vec<serde_json::Value> = specs
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.id,
                            "kind": s.kind,
                            "name": s.name,
                            "depends_on": s.deps(),
                        })
                    })
                    .collect();
                let doc = serde_json::json!({
                    "stack": input.stack.stack.name,
                    "resources": resources,
                });
                format!("{}\n", serde_json::to_string_pretty(&doc)?)
            } else {
                crate::diagram::mermaid(&title, &specs)
            };
            match out {
                Some(path) => std::fs::write(&path, &text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Chaos { command } => chaos::dispatch(command).await,
        Command::Verify(args) => verify::run(args).await,
    }
}

async fn destroy(
    session: &Session,
    env: &str,
    yes: bool,
    disable_deletion_protection: bool,
    parallelism: u16,
    delete_evidence: bool,
) -> Result<ExitCode> {
    let cloud = &session.cloud;
    let observed = cloud
        .observe(&Deployment {
            env: env.to_string(),
            stack: String::new(),
        })
        .await?;
    let stack_name = match crate::resource::stacks_label(&observed) {
        s if s.is_empty() => "-".to_string(),
        s => s,
    };
    let deployment = Deployment {
        env: env.to_string(),
        stack: stack_name.clone(),
    };
    let plan = plan::diff(&[], &observed, &crate::aws::schema)?;
    let heading = Heading {
        deployment: env,
        stack: &stack_name,
        target: cloud.target(),
    };
    if plan.is_empty() {
        println!(
            "Deployment {env} owns nothing in {}: nothing to destroy.",
            heading.target
        );
        if delete_evidence {
            confirm(yes, "delete the deployment's evidence")?;
        }
        evidence::forget(session, env, delete_evidence).await?;
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
        cloud.clone(),
        &deployment,
        &plan,
        &[],
        &observed,
        parallelism,
        "destroy",
    )
    .await?;
    println!("Deployment {env} destroyed.");
    evidence::forget(session, env, delete_evidence).await?;
    Ok(ExitCode::SUCCESS)
}

/// A plan and what it was computed from.
struct Planned<'a> {
    deployment: &'a Deployment,
    desired: &'a [ResourceSpec],
    observed: &'a [Observed],
    plan: &'a Plan,
    /// What the evidence bucket records once the plan is applied.
    applied: crate::evidence::Applied,
    /// For the cost the plan is shown with.
    prices: &'a PriceBook,
}

enum Confirm {
    /// Ask unless --yes.
    Ask(bool),
    /// A saved plan: it was reviewed when it was made.
    Reviewed,
}

/// `apply STACK`: plan, confirm (unless --yes), apply and report, holding the deployment's lock.
async fn apply_stack(
    session: &Session,
    input: &Input,
    book: &PriceBook,
    lock: &LockArgs,
    yes: bool,
    parallelism: u16,
    publish_metrics: bool,
) -> Result<ExitCode> {
    check_region(input, &session.cloud.region())?;
    let held = take_lock(lock, session, &input.deployment.env).await?;
    holding(held, async {
        let (desired, observed, plan) = compute(&*session.cloud, input).await?;
        let heading = heading(input, &*session.cloud);
        let work = Planned {
            deployment: &input.deployment,
            desired: &desired,
            observed: &observed,
            plan: &plan,
            applied: evidence::applied_of(&input.deployment, &desired, Some(&input.stack)),
            prices: book,
        };
        let how = Confirm::Ask(yes);
        apply_planned(session, &heading, work, how, parallelism, publish_metrics).await
    })
    .await
}

async fn apply_planned(
    session: &Session,
    heading: &Heading<'_>,
    work: Planned<'_>,
    how: Confirm,
    parallelism: u16,
    publish_metrics: bool,
) -> Result<ExitCode> {
    let Planned {
        deployment,
        desired,
        observed,
        plan,
        applied,
        prices: book,
    } = work;
    print!("{}", render::plan_text(heading, plan));
    let region = session.cloud.region();
    let cost = cost::report(plan, desired, observed, &region, book, prices::today());
    if !plan.is_empty() {
        print!("{}", cost.text());
    }
    if plan.is_empty() {
        evidence::record_unchanged(session, &applied).await;
        print_endpoints(observed);
        return Ok(ExitCode::SUCCESS);
    }
    refuse_protected(
        plan,
        observed,
        "set deletion_protection = false for them in the stack (or with --var) and apply that first",
    )?;
    let proofs = evidence::proofs(session, &deployment.env).await;
    print!(
        "{}",
        crate::evidence::stale_text(
            &evidence::invalidated(plan, &applied, &proofs),
            "This change invalidates"
        )
    );
    if let Confirm::Ask(yes) = how {
        println!("\n{}", cost.apply_line());
        confirm(yes, "apply")?;
    }
    evidence::record_applying(session, &applied).await?;
    let started = std::time::Instant::now();
    let shared = session.cloud.clone();
    let result = execute(
        shared.clone(),
        deployment,
        plan,
        desired,
        observed,
        parallelism,
        "apply",
    )
    .await;
    if publish_metrics {
        let seconds = started.elapsed().as_secs_f64();
        if let Err(e) = session
            .metrics
            .publish_apply(deployment, seconds, plan.changes.len(), result.is_ok())
            .await
        {
            eprintln!("warning: the run's metrics were not published: {e:#}");
        }
    }
    result?;
    evidence::record_applied(session, &applied).await;
    let after = shared.observe(deployment).await?;
    print_endpoints(&after);
    Ok(ExitCode::SUCCESS)
}

/// `apply FILE.json`: the argument names a saved plan when it is a .json file. A missing one is
/// an error rather than a stack name.
fn saved_plan_path(arg: &str) -> Result<Option<std::path::PathBuf>> {
    if !arg.ends_with(".json") {
        return Ok(None);
    }
    let path = std::path::PathBuf::from(arg);
    if !path.is_file() {
        return Err(InputError(format!(
            "{arg}: no such plan file (make one with ftctl plan STACK --out {arg})"
        ))
        .into());
    }
    Ok(Some(path))
}

/// Fails before any AWS call when the plan could not be written there.
fn check_out_path(out: &Path) -> Result<()> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(InputError(format!(
            "--out {}: directory {} does not exist",
            out.display(),
            dir.display()
        ))
        .into());
    }
    if out.is_dir() {
        return Err(InputError(format!("--out {}: is a directory", out.display())).into());
    }
    Ok(())
}

fn save_plan(
    out: &Path,
    input: &Input,
    vars: &[String],
    region: &str,
    desired: &[ResourceSpec],
    observed: &[Observed],
    plan: &Plan,
) -> Result<()> {
    let doc = saved::SavedPlan {
        format: saved::FORMAT.into(),
        version: saved::VERSION,
        ftctl_version: env!("CARGO_PKG_VERSION").into(),
        created: aws_smithy_types::DateTime::from(std::time::SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default(),
        deployment: input.deployment.env.clone(),
        stack: saved::SavedStack {
            name: input.deployment.stack.clone(),
            files: input
                .loaded
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect(),
        },
        region: region.to_string(),
        vars: vars.to_vec(),
        desired: desired.iter().map(saved::SavedSpec::from_spec).collect(),
        changes: serde_json::to_value(&plan.changes)?,
        plan_digest: saved::plan_digest(plan),
        observed: saved::fingerprint(desired, observed),
        objectives: input.stack.objectives.deployment(),
        component_objectives: input.stack.objectives.resolve(&input.stack),
        retention: Some(input.stack.retention),
    };
    // Written beside the target and renamed over it: never a half-written plan.
    let tmp = out.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

async fn apply_saved(
    path: &Path,
    book: &PriceBook,
    env: Option<&str>,
    parallelism: u16,
    publish_metrics: bool,
    lock: &LockArgs,
) -> Result<ExitCode> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("{}: cannot read the plan: {e}", path.display())))?;
    let (saved, desired) =
        saved::parse(&text).map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    deployment::validate_env(&saved.deployment)
        .map_err(|e| InputError(format!("{}: deployment: {e}", path.display())))?;
    // The plan names its deployment; any explicit other one (even `dev`) is a mistake, not an
    // override.
    if let Some(env) = env.filter(|e| *e != saved.deployment) {
        return Err(InputError(format!(
            "{} is a plan for deployment {}, not {env} (--env / FTCTL_ENV)",
            path.display(),
            saved.deployment
        ))
        .into());
    }
    crate::graph::creation_order(&desired)
        .map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    let session = Session::connect(Some(&saved.region), DeleteOptions::default()).await?;
    let cloud = &session.cloud;
    let deployment = Deployment {
        env: saved.deployment.clone(),
        stack: saved.stack.name.clone(),
    };
    let held = take_lock(lock, &session, &deployment.env).await?;
    holding(held, async {
        let observed = cloud.observe(&deployment).await.with_context(|| {
            format!("reading deployment {} from {}", deployment.env, cloud.target())
        })?;
        let now = saved::fingerprint(&desired, &observed);
        if now != saved.observed {
            let mut lines = saved::changed_since(&saved.observed, &now);
            const SHOWN: usize = 20;
            if lines.len() > SHOWN {
                let more = lines.len() - SHOWN;
                lines.truncate(SHOWN);
                lines.push(format!("... and {more} more"));
            }
            let vars: String = saved.vars.iter().map(|v| format!(" --var {v}")).collect();
            bail!(
                "refusing to apply {}: deployment {} changed since the plan was made ({}):\n  {}\n\
                 Nothing was changed. Make and review a new plan: ftctl plan {} --env {}{vars} --out {}",
                path.display(),
                deployment.env,
                saved.created,
                lines.join("\n  "),
                saved.stack.files.first().map(String::as_str).unwrap_or("STACK"),
                deployment.env,
                path.display()
            );
        }
        let plan = plan::diff(&desired, &observed, &crate::aws::schema)?;
        if saved::plan_digest(&plan) != saved.plan_digest {
            // Same observations, yet another plan: the file's resources were edited, or
            // another ftctl made it and plans differently.
            bail!(
                "refusing to apply {}: the plan computed now from the resources in the file differs from the plan saved in it (was the file edited? it was made by ftctl {}, this is {}). Nothing was changed; make a new plan.",
                path.display(),
                saved.ftctl_version,
                env!("CARGO_PKG_VERSION")
            );
        }
        let heading = Heading {
            deployment: &deployment.env,
            stack: &deployment.stack,
            target: cloud.target(),
        };
        println!(
            "Applying the plan saved in {} ({}), unchanged since.",
            path.display(),
            saved.created
        );
        let work = Planned {
            deployment: &deployment,
            desired: &desired,
            observed: &observed,
            plan: &plan,
            applied: evidence::applied_of(&deployment, &desired, None)
                .with_saved_objectives(&saved),
            prices: book,
        };
        apply_planned(&session, &heading, work, Confirm::Reviewed, parallelism, publish_metrics).await
    })
    .await
}

fn lock_backend(args: &LockArgs, session: &Session) -> Result<lock::Backend> {
    lock_backend_in(args, session.locks.as_ref())
}

/// The lock backend `args` name, from where locks are kept (`LockPlace`).
pub(crate) fn lock_backend_in(
    args: &LockArgs,
    locks: &dyn crate::session::LockPlace,
) -> Result<lock::Backend> {
    match args.lock_table.as_deref().filter(|t| !t.is_empty()) {
        None => locks.backend(None),
        Some(table) => {
            // DynamoDB's rule for table names, checked before any call.
            let valid = (3..=255).contains(&table.len())
                && table
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(InputError(format!(
                    "--lock-table {table}: a DynamoDB table name is 3-255 letters, digits, '_', '-' or '.'"
                ))
                .into());
            }
            locks.backend(Some(table))
        }
    }
}

/// The command line as typed, for the lock's holder (never parsed again).
pub(crate) fn command_line() -> String {
    let mut words = vec!["ftctl".to_string()];
    words.extend(
        std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned()),
    );
    words.join(" ")
}

async fn take_lock(args: &LockArgs, session: &Session, env: &str) -> Result<lock::Lock> {
    let backend = lock_backend(args, session)?;
    let key = lock::Key {
        env: env.to_string(),
        region: session.cloud.region(),
    };
    lock::Lock::acquire(backend, key, &command_line()).await
}

/// Set while the executor runs: it handles Ctrl-C itself (finish what is in progress).
static EXECUTING: AtomicBool = AtomicBool::new(false);

/// Runs `work` holding `held`, and releases it however `work` ends. Ctrl-C outside the
/// executor (reading AWS, planning, at the prompt) ends the run at once, lock released.
async fn holding(
    held: lock::Lock,
    work: impl std::future::Future<Output = Result<ExitCode>>,
) -> Result<ExitCode> {
    let guard = tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            if !EXECUTING.load(Ordering::SeqCst) {
                eprintln!("\nInterrupted.");
                lock::release_held().await;
                std::process::exit(130);
            }
        }
    });
    let result = work.await;
    guard.abort();
    if let Err(e) = held.release().await {
        eprintln!("warning: the deployment lock was not released: {e:#}");
    }
    result
}

async fn run_check(
    stack: Option<String>,
    vars: Vec<String>,
    env: &str,
    live: bool,
    json: bool,
) -> Result<ExitCode> {
    use crate::check::controls::{trail_check, DRIFT};
    use crate::check::{drift, judge, render, worst, Judged, Report, Severity, Subject};
    let input = match &stack {
        Some(s) => Some(resolve(
            &StackArgs {
                stack: s.clone(),
                vars: vars.clone(),
            },
            env,
        )?),
        None if live => {
            deployment::validate_env(env).map_err(InputError)?;
            None
        }
        None => {
            return Err(InputError(
                "check needs a stack (checked as planned) or --live --env NAME".into(),
            )
            .into())
        }
    };
    // Without the stack a live check cannot know what the stack opts out of.
    let opt_outs = input
        .as_ref()
        .map(|i| i.stack.opt_out.clone())
        .unwrap_or_default();
    let (what, report) = if live {
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
        let subjects: Vec<Subject<'_>> = observed.iter().map(Subject::from).collect();
        let mut more = Vec::new();
        let mut judged = Vec::new();
        // Without a trail of its own (the default: see `audit.trail`), a deployment relies on
        // the account's.
        if !observed.iter().any(|o| o.kind == Kind::Trail) {
            let trails = crate::aws::trail::recording_here(&cloud.clients).await?;
            let (trail, failure) = trail_check(&cloud.clients.region, &trails);
            judged.push(trail);
            more.extend(failure);
        }
        if let Some(input) = &input {
            check_region(input, &cloud.clients.region)?;
            let (_, _, plan) = compute(&cloud, input).await?;
            more.extend(drift(&plan));
            judged.push(Judged {
                control: &DRIFT,
                resources: observed.len(),
                note: None,
            });
        }
        (
            format!("deployment {env} in {}", cloud.target()),
            judge(&subjects, more, &judged, &opt_outs),
        )
    } else {
        let input = input.expect("a stack when not live");
        let zones: Vec<String> = match &input.stack.network.availability_zones {
            Some(z) => z.clone(),
            None => (1..=input.stack.network.az_count)
                .map(|i| format!("zone-{i}"))
                .collect(),
        };
        let specs = expand_input(&input, env, planned_region(&input), &zones)?;
        let subjects: Vec<Subject<'_>> = specs.iter().map(Subject::from).collect();
        (
            format!("stack {} as planned", input.stack.stack.name),
            judge(&subjects, Vec::new(), &[], &opt_outs),
        )
    };
    let Report {
        findings,
        controls: results,
    } = report;
    let worst = worst(&findings);
    let failed = findings.iter().filter(|f| f.counts()).count();
    if json {
        let doc = serde_json::json!({
            "checked": what,
            "worst": worst,
            "controls": results,
            "findings": findings,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let applied = results
            .iter()
            .filter(|r| r.outcome != crate::check::Outcome::NotApplicable)
            .count();
        let opted = findings.len() - failed;
        println!(
            "Checked {what}: {applied} control(s) applied, {failed} finding(s){}\n{}",
            if opted > 0 {
                format!(", {opted} opted out by the stack")
            } else {
                String::new()
            },
            render(&results, &findings)
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
    deployment::validate_env(env).map_err(InputError)?;
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

fn heading<'a>(input: &'a Input, cloud: &dyn Cloud) -> Heading<'a> {
    Heading {
        deployment: &input.deployment.env,
        stack: &input.deployment.stack,
        target: cloud.target(),
    }
}

/// The stack's resources over `zones`; a stack that does not fit them (more zones than the
/// region has) is an input error located like any other.
fn expand_input(
    input: &Input,
    env: &str,
    region: &str,
    zones: &[String],
) -> Result<Vec<ResourceSpec>> {
    expand::expand(&input.stack, env, region, zones).map_err(|p| {
        InputError(
            input
                .loaded
                .locate(vec![(p.field.to_string(), p.message)])
                .to_string(),
        )
        .into()
    })
}

/// The region a stack is drawn or checked for without asking AWS: the stack's own, else a
/// placeholder (nothing region-specific is judged without AWS).
fn planned_region(input: &Input) -> &str {
    input.stack.stack.region.as_deref().unwrap_or("region")
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
    let desired = expand_input(input, &input.deployment.env, &cloud.region(), &zones)?;
    let observed = cloud.observe(&input.deployment).await.with_context(|| {
        format!(
            "reading deployment {} from {}",
            input.deployment.env,
            cloud.target()
        )
    })?;
    let plan = plan::diff(&desired, &observed, &crate::aws::schema)?;
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
                lock::release_held().await;
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
    EXECUTING.store(true, Ordering::SeqCst);
    let outcome = apply::execute(cloud, job, parallelism as usize, reporter.clone(), rx).await;
    EXECUTING.store(false, Ordering::SeqCst);
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
    let mut delegation = Vec::new();
    for o in observed {
        match o.kind {
            Kind::LoadBalancer | Kind::DnsRecord => {
                if let Some(url) = ftctl_core::endpoint::url(o, observed) {
                    lines.push(format!("  {:<22} {url}", o.id));
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
            Kind::Distribution => {
                // With an alias the balancer's certificate is for the alias, which CloudFront
                // forwards as Host: only the alias reaches it (the distribution's own name
                // would get the maintenance page).
                let alias = o
                    .props
                    .get("aliases")
                    .map(Val::strings)
                    .and_then(|names| names.into_iter().next());
                match (
                    alias,
                    o.outputs.get("domain_name").filter(|d| !d.is_empty()),
                ) {
                    (Some(alias), Some(domain)) => lines.push(format!(
                        "  {:<22} https://{alias} (CloudFront {domain})",
                        o.id
                    )),
                    (None, Some(domain)) => lines.push(format!("  {:<22} https://{domain}", o.id)),
                    _ => {}
                }
            }
            Kind::HostedZone => match o.outputs.get("name_servers").filter(|n| !n.is_empty()) {
                Some(servers) => delegation.push(format!(
                    "Zone {} answers only once its parent zone delegates to it: add these NS \
                     records for {} at your registrar or in the parent zone:\n    {}",
                    o.name,
                    o.name,
                    servers.replace(',', "\n    ")
                )),
                None => lines.push(format!(
                    "  {:<22} private zone {} (answers inside the VPC only)",
                    o.id, o.name
                )),
            },
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
    for d in delegation {
        println!("\n{d}");
    }
}

/// Writes to standard output; a reader that stopped early (`| head`) is not a failure.
fn print_bytes(bytes: &[u8]) -> Result<()> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeCloud;
    use crate::session::{LockPlace, RunMetrics};
    use std::path::PathBuf;
    use std::sync::Mutex;

    /// Locks in a directory of the test's own.
    struct LockDir(PathBuf);

    impl LockPlace for LockDir {
        fn backend(&self, table: Option<&str>) -> Result<lock::Backend> {
            assert_eq!(table, None, "no table was asked for");
            Ok(lock::Backend::File(self.0.clone()))
        }
    }

    /// Every run's metrics: (deployment, changes, succeeded).
    #[derive(Default)]
    struct Published(Mutex<Vec<(String, usize, bool)>>);

    #[async_trait::async_trait]
    impl RunMetrics for Published {
        async fn publish_apply(
            &self,
            deployment: &Deployment,
            _: f64,
            changes: usize,
            succeeded: bool,
        ) -> Result<()> {
            self.0
                .lock()
                .unwrap()
                .push((deployment.env.clone(), changes, succeeded));
            Ok(())
        }
    }

    fn lock_files(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    }

    /// `ftctl apply stage1 --env unit --yes --publish-metrics` end to end against the in-memory
    /// cloud: planned, applied in dependency order, reported, the lock taken and released; a
    /// second run finds nothing to do.
    #[tokio::test]
    async fn apply_plans_locks_applies_and_reports_against_the_fake_cloud() {
        let cloud = Arc::new(FakeCloud::default());
        let locks = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Published::default());
        let evidence = Arc::new(crate::fake::MemoryEvidence::default());
        let session = Session {
            cloud: cloud.clone(),
            locks: Arc::new(LockDir(locks.path().to_path_buf())),
            metrics: metrics.clone(),
            evidence: evidence.clone(),
        };
        let args = StackArgs {
            stack: "stage1".into(),
            vars: vec![],
        };
        let input = resolve(&args, "unit").unwrap();
        let (desired, _, _) = compute(&*session.cloud, &input).await.unwrap();
        let no_table = LockArgs { lock_table: None };
        let prices = PriceBook::shipped().unwrap();

        let code = apply_stack(&session, &input, &prices, &no_table, true, 4, true)
            .await
            .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let made = cloud.observed();
        assert_eq!(made.len(), desired.len());
        let creates: Vec<String> = cloud.log();
        let at = |id: &str| {
            creates
                .iter()
                .position(|e| e == &format!("create {id}"))
                .unwrap_or_else(|| panic!("{id} was not created: {creates:?}"))
        };
        assert!(at("network.vpc") < at("network.public.0"));
        assert!(at("db.main.subnets") < at("db.main"));
        assert_eq!(
            *metrics.0.lock().unwrap(),
            vec![("unit".to_string(), desired.len(), true)]
        );
        assert!(
            lock_files(locks.path()).is_empty(),
            "the lock is released: {:?}",
            lock_files(locks.path())
        );

        let again = apply_stack(&session, &input, &prices, &no_table, true, 4, true)
            .await
            .unwrap();
        assert_eq!(again, ExitCode::SUCCESS);
        assert_eq!(cloud.log().len(), creates.len(), "nothing more was done");
        // The evidence bucket was told the configuration was in flux before the first change
        // and what it became after the last; the no-op run left the record alone.
        let records = evidence.applied.lock().unwrap().clone();
        let states: Vec<bool> = records.iter().map(|a| a.complete).collect();
        assert_eq!(states, vec![false, true]);
        assert_eq!(records[1].resources.len(), desired.len());
        assert_eq!(
            records[1].resources["db.main"].hash,
            crate::evidence::spec_hash(desired.iter().find(|s| s.id == "db.main").unwrap())
        );
        assert_eq!(metrics.0.lock().unwrap().len(), 1, "no run, no metrics");
    }

    /// An apply whose start cannot be recorded in the evidence bucket changes nothing: old
    /// proofs would otherwise pass for the new configuration.
    #[tokio::test]
    async fn an_apply_that_cannot_record_its_start_changes_nothing() {
        let cloud = Arc::new(FakeCloud::default());
        let locks = tempfile::tempdir().unwrap();
        let session = Session {
            cloud: cloud.clone(),
            locks: Arc::new(LockDir(locks.path().to_path_buf())),
            metrics: Arc::new(Published::default()),
            evidence: Arc::new(crate::fake::MemoryEvidence {
                refuse_writes: true,
                ..Default::default()
            }),
        };
        let input = resolve(
            &StackArgs {
                stack: "stage1".into(),
                vars: vec![],
            },
            "unit",
        )
        .unwrap();
        let no_table = LockArgs { lock_table: None };
        let prices = PriceBook::shipped().unwrap();
        let err = apply_stack(&session, &input, &prices, &no_table, true, 4, false)
            .await
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("nothing was changed"), "{text}");
        assert!(cloud.log().is_empty(), "{:?}", cloud.log());
    }

    /// A held lock stops the run before anything is planned or changed.
    #[tokio::test]
    async fn a_held_lock_stops_apply_before_any_change() {
        let cloud = Arc::new(FakeCloud::default());
        let locks = tempfile::tempdir().unwrap();
        let session = Session {
            cloud: cloud.clone(),
            locks: Arc::new(LockDir(locks.path().to_path_buf())),
            metrics: Arc::new(Published::default()),
            evidence: Arc::new(crate::fake::MemoryEvidence::default()),
        };
        let input = resolve(
            &StackArgs {
                stack: "stage1".into(),
                vars: vec![],
            },
            "unit",
        )
        .unwrap();
        let key = lock::Key {
            env: "unit".into(),
            region: session.cloud.region(),
        };
        let held = lock::Lock::acquire(
            lock::Backend::File(locks.path().to_path_buf()),
            key,
            "ftctl apply (another run)",
        )
        .await
        .unwrap();
        let no_table = LockArgs { lock_table: None };
        let prices = PriceBook::shipped().unwrap();
        let err = apply_stack(&session, &input, &prices, &no_table, true, 4, false)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("locked"), "{err:#}");
        assert!(cloud.log().is_empty(), "{:?}", cloud.log());
        held.release().await.unwrap();
    }

    /// More zones than the region has is found only after asking AWS for its zones; the error
    /// still points at the line and field (it named only the file before).
    #[tokio::test]
    async fn too_few_zones_in_the_region_is_located() {
        let args = StackArgs {
            stack: "stage1".into(),
            vars: vec!["network.az_count=4".into(), "tracing.enabled=false".into()],
        };
        let input = resolve(&args, "dev").unwrap();
        let err = compute(&crate::fake::FakeCloud::default(), &input)
            .await
            .err()
            .unwrap();
        let text = err
            .downcast_ref::<InputError>()
            .expect("an input error (exit 1, no more AWS calls)")
            .to_string();
        assert!(
            text.contains("--var network.az_count=4: network.az_count: the region offers 3"),
            "{text}"
        );
    }
}
