//! ftctl: provision high-availability AWS architectures and prove they survive failure.
//! The binary is thin: parse, run, map the outcome to an exit code.

use clap::Parser;
use ftctl::{cli, commands};
use std::process::ExitCode;

/// A bad flag is bad input: 1, as the exit codes in README.md say, not clap's 2 (which means
/// "changes" to `plan --detailed-exitcode` and "warning" to `check`); `chaos` reports every
/// refusal and error as 2. Help and version are not errors.
fn usage_exit_code(e: &clap::Error, command: Option<&str>) -> ExitCode {
    if !e.use_stderr() {
        return ExitCode::SUCCESS;
    }
    ExitCode::from(if command == Some("chaos") { 2 } else { 1 })
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return usage_exit_code(&e, std::env::args().nth(1).as_deref());
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FTCTL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            if let Some(input) = e.downcast_ref::<commands::InputError>() {
                eprint!("error: {input}");
                if !input.0.ends_with('\n') {
                    eprintln!();
                }
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(1)
        }
    }
}
