//! Command-line definitions only; `commands` turns them into work.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod chaos;
pub use chaos::*;

#[derive(Debug, Parser)]
#[command(
    name = "ftctl",
    version,
    about = "Provision high-availability AWS architectures and prove they survive failure",
    long_about = "Provision high-availability AWS architectures and prove they survive failure.\n\n\
        Endpoints, credentials and region come from the standard AWS configuration \
        (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>).\n\n\
        Exit codes: 0 success; 1 error (bad input, AWS failure, refused, deployment locked); \
        2 `plan --detailed-exitcode` found changes (or drift, with --refresh-only). `chaos` experiments: 0 recovered within \
        budget, 1 not recovered within budget, 2 refused, aborted or error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The exit-code convention of the command asked for.
    pub fn convention(&self) -> crate::error::Convention {
        match self.command {
            Command::Chaos { .. } | Command::Verify(_) => crate::error::Convention::Chaos,
            _ => crate::error::Convention::Standard,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct EnvArg {
    /// The deployment: goes into resource names and ownership tags, so several deployments can
    /// share an account.
    #[arg(long = "env", env = "FTCTL_ENV", global = true)]
    pub given: Option<String>,
}

impl EnvArg {
    /// The deployment when none is given.
    pub const DEFAULT: &'static str = "dev";

    /// The deployment named, or `dev`.
    pub fn name(&self) -> &str {
        self.given.as_deref().unwrap_or(Self::DEFAULT)
    }
}

#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// A stack name (resolved to stacks/NAME.toml) or the path of a stack file; for `apply`,
    /// also a plan file saved by `plan --out` (a .json file).
    pub stack: String,

    /// Override a stack setting for this run, e.g. --var tiers.web.max_size=8 (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
}

/// Where the deployment lock is kept.
#[derive(Debug, Args, Clone)]
pub struct LockArgs {
    /// Keep the lock in this DynamoDB table (key LockID; created on first use) instead of a
    /// local file, so a team's runs exclude each other.
    #[arg(long, env = "FTCTL_LOCK_TABLE", value_name = "NAME")]
    pub lock_table: Option<String>,
}

// One value per process, parsed once: the size of the chaos variant (every experiment's run
// options) costs nothing, and boxing it would only complicate clap's derive.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what `apply` would change.
    Plan {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        env: EnvArg,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 0 when there is nothing to change (or no drift), 2 when there is, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also save the plan to this file, for `ftctl apply FILE` to apply exactly it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only report drift (live values that differ from the stack); propose nothing.
        #[arg(long, conflicts_with = "out")]
        refresh_only: bool,
    },
    /// Make the deployment match the stack, or apply a plan saved with `plan --out`
    /// (`ftctl apply plan.json`: only if the deployment is unchanged since).
    Apply {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        env: EnvArg,
        /// Do not ask for confirmation (required without a terminal; a saved plan is not asked
        /// about again).
        #[arg(long)]
        yes: bool,
        /// How many resources may be worked on at once.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallelism: u16,
        /// Publish the run's duration and changes as CloudWatch metrics (namespace ftctl/Deploy).
        #[arg(long)]
        publish_metrics: bool,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Delete everything the deployment owns (found by its tags; no stack file needed).
    Destroy {
        #[command(flatten)]
        env: EnvArg,
        /// Region to look in; defaults to the AWS configuration.
        #[arg(long)]
        region: Option<String>,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long)]
        yes: bool,
        /// Delete databases, caches and tables without a final snapshot or backup.
        #[arg(long)]
        skip_final_snapshot: bool,
        /// Turn deletion protection off on protected databases and tables, then delete them.
        #[arg(long)]
        disable_deletion_protection: bool,
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallelism: u16,
        #[command(flatten)]
        lock: LockArgs,
        /// Delete the deployment's evidence bucket too, every proof in it (kept by default: a
        /// record outlives what it records).
        #[arg(long)]
        delete_evidence: bool,
    },
    /// Release the deployment's lock left by a run that was killed (or is certainly gone).
    ForceUnlock {
        #[command(flatten)]
        env: EnvArg,
        /// Region of the deployment; defaults to the AWS configuration.
        #[arg(long)]
        region: Option<String>,
        #[command(flatten)]
        lock: LockArgs,
        /// Release only if the lock has this id (as shown when a run is refused).
        #[arg(long)]
        lock_id: Option<String>,
    },
    /// Take on-demand backups of the deployment's databases, caches and tables, and list the
    /// backups that exist (also those outliving a destroyed deployment).
    Backup {
        #[command(flatten)]
        env: EnvArg,
        /// Region to look in; defaults to the AWS configuration.
        #[arg(long)]
        region: Option<String>,
        /// Only list existing backups; take none.
        #[arg(long)]
        list: bool,
        /// Wait until the new backups are complete (databases and caches take minutes).
        #[arg(long)]
        wait: bool,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The deployment's health now: capacity per tier and zone, data stores, services, alarms.
    Status {
        #[command(flatten)]
        env: EnvArg,
        #[arg(long)]
        region: Option<String>,
        /// Refresh in place until Ctrl-C.
        #[arg(long)]
        watch: bool,
        /// Seconds between refreshes with --watch.
        #[arg(long, default_value_t = 5.0, value_parser = positive_seconds)]
        interval: f64,
        /// One JSON document per refresh.
        #[arg(long)]
        json: bool,
    },
    /// Take a suspect instance out of service without killing it (group standby), bring it
    /// back with --release, or name CPU outliers with --suggest.
    Isolate {
        /// The instance id.
        #[arg(required_unless_present = "suggest")]
        instance: Option<String>,
        #[command(flatten)]
        env: EnvArg,
        #[arg(long)]
        region: Option<String>,
        /// Return an isolated instance to service.
        #[arg(long, conflicts_with = "suggest")]
        release: bool,
        /// Name instances whose CPU stands out from their tier's.
        #[arg(long)]
        suggest: bool,
    },
    /// Recent API calls on the deployment's resources, from CloudTrail.
    Trail {
        #[command(flatten)]
        env: EnvArg,
        #[arg(long)]
        region: Option<String>,
        /// How far back: 30m, 2h, 1d (at most 90 days).
        #[arg(long, default_value = "1h")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Reliability and security advice: on a stack before apply, or on the live deployment.
    Check {
        /// A stack (name or file). Without --live it is checked as planned, with no AWS call;
        /// with --live the deployment is also compared with it (drift).
        stack: Option<String>,
        #[arg(long = "var", value_name = "KEY=VALUE")]
        vars: Vec<String>,
        #[command(flatten)]
        env: EnvArg,
        /// Check what AWS reports for the deployment.
        #[arg(long)]
        live: bool,
        #[arg(long)]
        json: bool,
    },
    /// Draw the architecture a stack describes (Mermaid), without calling AWS.
    Graph {
        #[command(flatten)]
        stack: StackArgs,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Every resource with what it depends on, as JSON, instead of the Mermaid picture.
        #[arg(long)]
        json: bool,
    },
    /// A game day: run every experiment `chaos list` derives (or those named, or the stale
    /// ones) one after another, record their evidence and report them against the stack's
    /// objectives with the resilience score. Exit 0 every objective held, 1 one did not, 2
    /// refused or error.
    Verify(VerifyArgs),
    /// Break the deployment on purpose and prove it recovers within its alarm budget.
    Chaos {
        #[command(subcommand)]
        command: ChaosCommand,
    },
    /// The list prices `plan` estimates costs with (prices/aws.toml).
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// Print a completion script for a shell (e.g. `ftctl completions bash > /etc/bash_completion.d/ftctl`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    Man {
        /// Write ftctl.1, ftctl-plan.1, ... into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PricesCommand {
    /// Read the prices ftctl estimates with from the AWS Price List Query API
    /// (pricing:GetProducts, in us-east-1) and rewrite the price file; a price the list does not
    /// answer keeps its entry, and the command says which.
    Update {
        /// The price file to rewrite (read first: its entries are what is looked up).
        #[arg(long, default_value = "prices/aws.toml")]
        out: PathBuf,
        /// Also price these regions (repeatable): each gets the entries of us-east-1.
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<String>,
    },
}

/// More than any refresh or experiment needs, and far inside what a `Duration` holds (beyond
/// that, turning the seconds into one panics: `--interval 1e300` did).
const MAX_SECONDS: f64 = 86_400.0;

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= MAX_SECONDS => Ok(v),
        _ => Err(format!(
            "`{s}` is not a positive number of seconds up to {MAX_SECONDS} (a day)"
        )),
    }
}

fn non_negative_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=MAX_SECONDS).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds from 0 to {MAX_SECONDS} (a day)"
        )),
    }
}

/// Load requests per second: bounded so that a chaos run is never a load test.
fn load_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=100.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a rate from 0.1 to 100 requests per second"
        )),
    }
}

fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a share from 0 to 1 (0.01 is 1%)")),
    }
}

/// Marker writes per second: enough to place a loss to a fraction of a second, few enough that
/// the writes cost nothing noticeable (each is one small on-demand write).
fn marker_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=50.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a rate from 0.1 to 50 writes per second"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command and flag the parser knows, as (command path, long flag).
    fn every_flag() -> Vec<(String, String)> {
        fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
            for arg in cmd.get_arguments() {
                if let Some(long) = arg.get_long() {
                    out.push((path.to_string(), long.to_string()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), out);
            }
        }
        let mut out = Vec::new();
        walk(&Cli::command(), "ftctl", &mut out);
        out
    }

    #[test]
    fn completions_offer_every_command_and_flag() {
        let mut cli = Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut cli, "ftctl", &mut script);
        let script = String::from_utf8(script).unwrap();
        for sub in Cli::command().get_subcommands() {
            assert!(script.contains(sub.get_name()), "{}", sub.get_name());
        }
        let flags = every_flag();
        assert!(flags.len() > 40, "{flags:?}");
        for (path, flag) in flags {
            assert!(script.contains(&format!("--{flag}")), "{path} --{flag}");
        }
    }

    #[test]
    fn the_man_pages_document_every_command_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        clap_mangen::generate_to(Cli::command(), dir.path()).unwrap();
        let mut pages = String::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            pages += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
        }
        assert!(dir.path().join("ftctl-chaos-kill-az.1").exists());
        // roff escapes the hyphens of flags.
        let pages = pages.replace("\\-", "-");
        for (path, flag) in every_flag() {
            assert!(pages.contains(&format!("--{flag}")), "{path} --{flag}");
        }
    }

    #[test]
    fn chaos_fails_with_2_and_everything_else_with_1() {
        use crate::error::Convention;
        let chaos = Cli::try_parse_from(["ftctl", "chaos", "list", "--env", "x"]).unwrap();
        assert_eq!(chaos.convention(), Convention::Chaos);
        let plan = Cli::try_parse_from(["ftctl", "plan", "stage1"]).unwrap();
        assert_eq!(plan.convention(), Convention::Standard);
    }

    #[test]
    fn seconds_are_bounded_so_they_fit_a_duration() {
        for bad in ["1e300", "inf", "NaN", "-1", "86401", "x"] {
            assert!(positive_seconds(bad).is_err(), "{bad}");
            assert!(non_negative_seconds(bad).is_err(), "{bad}");
        }
        assert!(positive_seconds("0").is_err());
        assert_eq!(non_negative_seconds("0"), Ok(0.0));
        assert_eq!(positive_seconds("0.2"), Ok(0.2));
        assert_eq!(positive_seconds("86400"), Ok(86_400.0));
        // The largest accepted value still makes a Duration.
        assert!(std::time::Duration::from_secs_f64(MAX_SECONDS).as_secs() == 86_400);
    }
}
