//! Failures and exit codes, in one place. Commands return `anyhow::Error`; a stack-file, flag or
//! plan-file problem is an `InputError` inside it (reported as is, before any AWS call). Which
//! code a failure gets depends on the command's convention: `chaos` reports every refusal and
//! error as 2, because its 1 means "not recovered" (docs/commands.md, "Exit codes").

use std::process::ExitCode;

/// Bad input: reported as is, exit 1 (2 under `chaos`), before any AWS call.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// The exit-code convention of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    /// 0 done, 1 failed or bad input; `plan --detailed-exitcode` and `check` give 2 and 3
    /// their own meanings, so a failure is never 2 here.
    Standard,
    /// 0 recovered, 1 not recovered, 2 refused, aborted, failed or bad input.
    Chaos,
}

impl Convention {
    /// The convention of the command a command line names, as clap reads it (global flags
    /// before the subcommand included), also when the line does not parse.
    pub fn of_command_line() -> Convention {
        use clap::CommandFactory;
        let partial = crate::cli::Cli::command()
            .ignore_errors(true)
            .try_get_matches();
        match partial.ok().as_ref().and_then(|m| m.subcommand_name()) {
            Some("chaos" | "verify") => Convention::Chaos,
            _ => Convention::Standard,
        }
    }

    fn failure_code(self) -> ExitCode {
        match self {
            Convention::Standard => ExitCode::from(1),
            Convention::Chaos => ExitCode::from(2),
        }
    }
}

/// A command line clap refused: printed by clap; help and version are not failures.
pub fn usage(e: &clap::Error, convention: Convention) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        convention.failure_code()
    } else {
        ExitCode::SUCCESS
    }
}

/// A failed command: printed once, bad input as written, anything else with its causes.
pub fn failure(e: &anyhow::Error, convention: Convention) -> ExitCode {
    if let Some(input) = e.downcast_ref::<InputError>() {
        eprint!("error: {input}");
        if !input.0.ends_with('\n') {
            eprintln!();
        }
    } else {
        eprintln!("error: {e:#}");
    }
    convention.failure_code()
}
