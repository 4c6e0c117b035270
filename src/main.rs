//! ftctl: provision high-availability AWS architectures and prove they survive failure.
//! The binary is thin: parse, run, map the outcome to an exit code.

use clap::Parser;
use ftctl::error::{self, Convention};
use ftctl::{cli, commands};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            return error::usage(&e, Convention::of_command_line());
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FTCTL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let convention = cli.convention();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return error::failure(
                &anyhow::anyhow!("cannot start the async runtime: {e}"),
                convention,
            );
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => error::failure(&e, convention),
    }
}
