//! `ftctl chaos export-fis ...`: an experiment, or a scenario file, as an AWS FIS experiment
//! template, checked against the FIS model before it is printed.

use super::*;

pub(super) async fn export_fis(experiment: FisExperiment) -> Result<ExitCode> {
    let (fis_args, fault, duration) = match experiment {
        FisExperiment::Run { fis, file } => return export_fis_scenario(fis, &file).await,
        FisExperiment::KillTask { fis, task } => (fis, task_fault(&task), 300.0),
        FisExperiment::CacheFailover { fis, cache } => (fis, cache_fault(&cache), 300.0),
        FisExperiment::KillInstance { fis, instances } => {
            if !instances.instances.is_empty() {
                bail!("export-fis selects instances by tag when the experiment starts: use --group/--count/--percent, not --instance");
            }
            (fis, instance_fault(&instances), 300.0)
        }
        FisExperiment::KillAz { fis, az } => {
            let fault = Fault::KillAz {
                zone: az.az.clone(),
                mode: az.mode.into(),
            };
            (fis, fault, az.duration.unwrap_or(300.0))
        }
        FisExperiment::RdsFailover { fis, db } => (fis, db_fault(&db), 300.0),
        FisExperiment::Latency {
            fis,
            share,
            latency,
        } => (fis, latency_fault(&share, &latency), share.duration as f64),
        FisExperiment::PacketLoss { fis, share, loss } => {
            (fis, loss_fault(&share, &loss), share.duration as f64)
        }
        FisExperiment::CpuStress { fis, share, cpu } => {
            (fis, cpu_fault(&share, &cpu), share.duration as f64)
        }
        FisExperiment::PauseReplication { fis, replication } => (
            fis,
            replication_fault(&replication),
            replication.duration as f64,
        ),
    };
    if let Err(Refusal(msg)) = gray::check(&fault) {
        eprintln!("refused: {msg}");
        return Ok(ExitCode::from(2));
    }
    let (inv, lab, baseline) = fis_inputs(&fis_args).await?;
    // FIS has no recovery budget; passing one keeps a deployment without alarms exportable.
    let design = match design::design(&fault, &inv, &baseline, Some(duration)) {
        Ok(d) => d,
        Err(Refusal(msg)) => {
            eprintln!("refused: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    // Any existing alarm can be a stop condition, not only the deployment's.
    let stop_arns: Vec<String> = stop_conditions(&lab, &fis_args.stop_on)
        .await?
        .into_values()
        .collect();
    let doc = fis::template(
        &fault,
        &design,
        &inv,
        &fis_args.role_arn,
        duration,
        &stop_arns,
    );
    print_fis(&doc)
}

/// The deployment an FIS export is written for, and a probe of it to design from.
async fn fis_inputs(fis_args: &crate::cli::FisArgs) -> Result<(Inventory, AwsLab, Observation)> {
    let (cloud, inv) = inventory(&fis_args.target).await?;
    let lab = AwsLab::new(&cloud, &inv);
    let baseline = crate::chaos::run::Lab::probe(&lab).await?;
    Ok((inv, lab, baseline))
}

/// The template on stdout, once FIS's own rules find nothing wrong with it.
fn print_fis(doc: &serde_json::Value) -> Result<ExitCode> {
    let problems = fis::model::check(doc);
    if !problems.is_empty() {
        bail!(
            "the FIS template ftctl wrote would be refused by FIS (a bug in ftctl):\n  {}",
            problems.join("\n  ")
        );
    }
    println!("{}", serde_json::to_string_pretty(doc)?);
    Ok(ExitCode::SUCCESS)
}

/// `ftctl chaos export-fis run FILE`: the scenario's steps as one FIS template.
async fn export_fis_scenario(fis_args: crate::cli::FisArgs, file: &Path) -> Result<ExitCode> {
    let scenario = match scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (inv, lab, baseline) = fis_inputs(&fis_args).await?;
    let duration = scenario.header.duration.unwrap_or(300.0);
    let steps = match scenario::step_designs(&scenario, &inv, &baseline, Some(duration)) {
        Ok(steps) => steps,
        Err(Refusal(msg)) => {
            eprintln!("refused: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    let keys: Vec<String> = fis_args
        .stop_on
        .iter()
        .chain(&scenario.header.stop_on)
        .cloned()
        .collect();
    let stop_arns: Vec<String> = stop_conditions(&lab, &keys).await?.into_values().collect();
    let doc = fis::scenario_template(
        &scenario,
        &steps,
        &inv,
        &fis_args.role_arn,
        duration,
        &stop_arns,
    );
    print_fis(&doc)
}
