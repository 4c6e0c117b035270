//! Command-line definitions only; `commands` turns them into work.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ftctl",
    version,
    about = "Provision high-availability AWS architectures and prove they survive failure",
    long_about = "Provision high-availability AWS architectures and prove they survive failure.\n\n\
        Endpoints, credentials and region come from the standard AWS configuration \
        (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>).\n\n\
        Exit codes: 0 success; 1 error (bad input, AWS failure, refused); \
        2 `plan --detailed-exitcode` found changes."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct EnvArg {
    /// The deployment: goes into resource names and ownership tags, so several deployments can
    /// share an account.
    #[arg(long = "env", env = "FTCTL_ENV", default_value = "dev", global = true)]
    pub env: String,
}

#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// A stack name (resolved to stacks/NAME.toml) or the path of a stack file.
    pub stack: String,

    /// Override a stack setting for this run, e.g. --var tiers.web.max_size=8 (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
}

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
        /// Exit 0 when there is nothing to change, 2 when there is, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Make the deployment match the stack.
    Apply {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        env: EnvArg,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long)]
        yes: bool,
        /// How many resources may be worked on at once.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallelism: u16,
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
        /// Delete databases without taking a final snapshot.
        #[arg(long)]
        skip_final_snapshot: bool,
        /// Turn deletion protection off on protected databases, then delete them.
        #[arg(long)]
        disable_deletion_protection: bool,
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallelism: u16,
    },
}
