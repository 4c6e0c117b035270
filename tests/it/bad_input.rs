//! The binary on bad input: broken stack files and bad `--var`s are refused by every command
//! that reads a stack with exit code 1, an error naming file:line (or the `--var`) and the
//! field, no panic, and no connection to AWS. Includes the inputs the property tests in
//! src/stack/fuzz.rs found panicking or unlocated.

use crate::support::*;
use std::path::{Path, PathBuf};

/// One refused input: a stack file (shipped stages edited, or raw bytes), the `--var`s, and what
/// stderr must say.
struct Case {
    what: &'static str,
    /// Writes the stack file into the directory and returns its path.
    file: fn(&Path) -> PathBuf,
    vars: &'static [&'static str],
    /// Where the error must point: `Line(needle)` is the first line of the file containing
    /// needle, `Var(text)` the `--var`.
    at: At,
    field: &'static str,
    message: &'static str,
}

enum At {
    Line(&'static str),
    FirstLine,
    Var(&'static str),
}

fn stage1_with(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    edited_stage(dir, "stage1", "edited.toml", edit)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            what: "wrong type",
            file: |d| stage1_with(d, |t| t.replacen("max_size = 6", "max_size = \"six\"", 1)),
            vars: &[],
            at: At::Line("\"six\""),
            field: "tiers.web.max_size",
            message: "invalid type",
        },
        Case {
            what: "negative size",
            file: |d| stage1_with(d, |t| t.replacen("min_size = 2", "min_size = -2", 1)),
            vars: &[],
            at: At::Line("-2"),
            field: "tiers.web.min_size",
            message: "invalid value",
        },
        Case {
            what: "huge number",
            file: |d| {
                stage1_with(d, |t| {
                    t.replacen("port = 80\n", "port = 9223372036854775807\n", 1)
                })
            },
            vars: &[],
            at: At::Line("9223372036854775807"),
            field: "load_balancers.public.port",
            message: "invalid value",
        },
        Case {
            what: "unknown key",
            file: |d| {
                stage1_with(d, |t| {
                    t.replacen("min_size = 2", "min_size = 2\nmin_szie = 3", 1)
                })
            },
            vars: &[],
            at: At::Line("min_szie"),
            field: "tiers.web.min_szie",
            message: "unknown field",
        },
        Case {
            what: "missing field",
            file: |d| stage1_with(d, |t| t.replacen("instance_type = \"t3.micro\"\n", "", 1)),
            vars: &[],
            at: At::Line("[tiers.web]"),
            field: "tiers.web.instance_type",
            message: "missing field",
        },
        Case {
            what: "TOML syntax",
            file: |d| stage1_with(d, |t| t.replacen("az_count = 2", "az_count = = 2", 1)),
            vars: &[],
            at: At::Line("az_count = ="),
            field: "",
            message: "invalid TOML",
        },
        Case {
            what: "truncated file",
            file: |d| stage1_with(d, |t| t[..t.find("[tiers.web]").unwrap() + 8].to_string()),
            vars: &[],
            at: At::Line("[tiers.w"),
            field: "",
            message: "invalid TOML",
        },
        Case {
            what: "empty file",
            file: |d| stage1_with(d, |_| String::new()),
            vars: &[],
            at: At::FirstLine,
            field: "stack",
            message: "missing field",
        },
        Case {
            what: "not UTF-8",
            file: |d| {
                let path = d.join("binary.toml");
                std::fs::write(&path, b"[stack]\nname = \"\xff\xfe\"\n").unwrap();
                path
            },
            vars: &[],
            at: At::Line("name"),
            field: "",
            message: "not UTF-8",
        },
        Case {
            what: "extends a missing file",
            file: |d| {
                edited_stage(d, "stage2", "edited.toml", |t| {
                    t.replace("extends = \"stage1.toml\"", "extends = \"stage0.toml\"")
                })
            },
            vars: &[],
            at: At::Line("extends = "),
            field: "",
            message: "cannot read stack file",
        },
        Case {
            what: "semantic: CIDR",
            file: |d| stage1_with(d, |t| t.replace("10.0.0.0/16", "10.0.0.300/16")),
            vars: &[],
            at: At::Line("10.0.0.300"),
            field: "network.cidr",
            message: "not an IPv4 CIDR block",
        },
        Case {
            what: "unicode zone names (panicked in expand)",
            file: |d| {
                stage1_with(d, |t| {
                    let zone = "é".repeat(150);
                    t.replace(
                        "subnet_prefix = 24",
                        &format!("subnet_prefix = 24\navailability_zones = [\"{zone}\", \"b\"]"),
                    )
                })
            },
            vars: &[],
            at: At::Line("availability_zones"),
            field: "network.availability_zones.0",
            message: "not an availability zone name",
        },
        Case {
            what: "alarm window overflow (panicked in validation)",
            file: |d| stage1_with(d, |t| t),
            vars: &["tiers.web.capacity_alarm.evaluation_periods=71582789"],
            at: At::Var("tiers.web.capacity_alarm.evaluation_periods=71582789"),
            field: "tiers.web.capacity_alarm.evaluation_periods",
            message: "at most one day",
        },
        Case {
            what: "var of the wrong type",
            file: |d| stage1_with(d, |t| t),
            vars: &["network.az_count=[1, 2]"],
            at: At::Var("network.az_count=[1, 2]"),
            field: "network.az_count",
            message: "invalid type",
        },
        Case {
            what: "var without a value",
            file: |d| stage1_with(d, |t| t),
            vars: &["tiers.web.max_size"],
            at: At::Var("tiers.web.max_size"),
            field: "",
            message: "expected KEY=VALUE",
        },
        Case {
            what: "var with a bad key",
            file: |d| stage1_with(d, |t| t),
            vars: &["tiers..web=1"],
            at: At::Var("tiers..web=1"),
            field: "",
            message: "not a dotted key",
        },
        Case {
            what: "var with an unknown key",
            file: |d| stage1_with(d, |t| t),
            vars: &["tiers.web.colour=\"blue\""],
            at: At::Var("tiers.web.colour=\"blue\""),
            field: "tiers.web.colour",
            message: "unknown field",
        },
    ]
}

/// The commands that read a stack, each given `file` and `vars`.
fn commands(file: &str, vars: &[&str]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for base in [
        vec!["plan", file, "--env", "bad"],
        vec!["plan", file, "--env", "bad", "--json"],
        vec!["apply", file, "--env", "bad", "--yes"],
        vec!["check", file, "--env", "bad"],
        vec!["check", file, "--env", "bad", "--live"],
        vec!["graph", file],
    ] {
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        for v in vars {
            args.push("--var".into());
            args.push(v.to_string());
        }
        out.push(args);
    }
    out
}

#[test]
fn bad_stacks_and_vars_are_refused_located_without_panic_or_aws() {
    let no_aws = NoAws::new();
    let endpoints = no_aws.env();
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let path = (case.file)(dir.path());
        let location = match case.at {
            At::Line(needle) => {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                let line = text
                    .lines()
                    .position(|l| l.contains(needle))
                    .unwrap_or_else(|| panic!("{}: no line with {needle}", case.what))
                    + 1;
                format!("{}:{line}:", path.display())
            }
            At::FirstLine => format!("{}:1:1:", path.display()),
            At::Var(var) => format!("--var {var}:"),
        };
        for args in commands(path.to_str().unwrap(), case.vars) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = ftctl_with(&args, &endpoints);
            let said = format!("{} / {args:?}:\n{}{}", case.what, run.stdout, run.stderr);
            assert_eq!(run.code, 1, "exit code: {said}");
            assert!(run.stderr.starts_with("error: "), "{said}");
            assert!(run.stderr.contains(&location), "no {location}: {said}");
            // The field follows its location on the same line: `path:L:C: field: message`.
            if !case.field.is_empty() {
                let line = run.stderr.lines().find(|l| l.contains(&location)).unwrap();
                let after = &line[line.find(&location).unwrap() + location.len()..];
                let after = after.trim_start_matches(|c: char| c.is_ascii_digit());
                assert!(
                    after.starts_with(&format!(": {}: ", case.field))
                        || after.starts_with(&format!(" {}: ", case.field)),
                    "field {} does not follow {location}: {said}",
                    case.field
                );
            }
            assert!(
                run.stderr.contains(case.message),
                "no `{}`: {said}",
                case.message
            );
            for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
                assert!(!run.stderr.contains(bad), "{bad}: {said}");
            }
            assert!(run.stdout.is_empty(), "nothing on stdout: {said}");
        }
    }
    no_aws.assert_untouched();
}

/// A stack file that does not exist is named; it has no line to point at.
#[test]
fn a_missing_stack_file_is_named() {
    let no_aws = NoAws::new();
    let run = ftctl_with(
        &["plan", "/nonexistent/stage9.toml", "--env", "bad"],
        &no_aws.env(),
    )
    .failure(1);
    assert!(
        run.stderr
            .contains("cannot read stack file /nonexistent/stage9.toml"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    no_aws.assert_untouched();
}

/// Bad flags are bad input too: exit 1 (2 for `chaos`, whose every refusal is 2), a message
/// naming the flag, no panic, no AWS call. Values that once panicked are among them.
#[test]
fn bad_flags_are_refused_without_panic_or_aws() {
    let no_aws = NoAws::new();
    let endpoints = no_aws.env();
    let cases: [(&[&str], i32, &str); 9] = [
        // Overflowed i64 seconds (a panic in debug builds).
        (
            &["trail", "--env", "bad", "--since", "106751991167301d"],
            1,
            "--since",
        ),
        (
            &["trail", "--env", "bad", "--since", "1w"],
            1,
            "the unit is",
        ),
        // A Duration cannot hold 1e300 seconds: from_secs_f64 panicked.
        (
            &["status", "--env", "bad", "--watch", "--interval", "1e300"],
            1,
            "--interval",
        ),
        (
            &["chaos", "kill-az", "--env", "bad", "--interval", "1e300"],
            2,
            "--interval",
        ),
        (
            &["chaos", "kill-az", "--env", "bad", "--budget", "inf"],
            2,
            "--budget",
        ),
        (
            &["chaos", "kill-az", "--env", "bad", "--settle=-1"],
            2,
            "--settle",
        ),
        (
            &["apply", "stage1", "--parallelism", "0"],
            1,
            "--parallelism",
        ),
        (
            &["plan", "stage1", "--detailed-exitcode", "--no-such-flag"],
            1,
            "--no-such-flag",
        ),
        (
            &["plan", "stage1", "--env", "Not_A_Name"],
            1,
            "deployment name",
        ),
    ];
    for (args, code, says) in cases {
        let run = ftctl_with(args, &endpoints);
        let said = format!("{args:?}: exit {}\n{}{}", run.code, run.stdout, run.stderr);
        assert_eq!(run.code, code, "{said}");
        assert!(run.stderr.contains(says), "no `{says}`: {said}");
        for bad in ["panicked", "RUST_BACKTRACE"] {
            assert!(!run.stderr.contains(bad), "{said}");
        }
    }
    // Help is no error.
    assert_eq!(ftctl_with(&["--help"], &endpoints).code, 0);
    no_aws.assert_untouched();
}

/// A broken scenario file is refused by `chaos run` before anything is read: exit 2 (as every
/// chaos refusal), each problem with its file:line and field, no panic, no AWS call.
#[test]
fn bad_scenario_files_are_refused_located_without_aws() {
    let no_aws = NoAws::new();
    let endpoints = no_aws.env();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            "[scenario]\nname = \"x\"\n\n[[step]]\nkill-az = { zone = \"a\", power = \"off\" }\n",
            "power",
            "step.0.kill-az.power",
            "unknown field",
        ),
        (
            "[scenario]\nname = \"x\"\n[[step]]\nat = 30\nrds-failover = { targets = [\"tier.web\"] }\n",
            "tier.web",
            "step.0.rds-failover.targets.0",
            "is not a database",
        ),
        (
            "[scenario]\nname = \"x\"\n[[step]]\nat = \"soon\"\nkill-az = {}\n",
            "soon",
            "step.0.at",
            "invalid type",
        ),
        (
            "[scenario]\nname = \"x\"\n[[step]]\nkill-task = { percent = 100 }\n",
            "percent",
            "step.0.kill-task.percent",
            "share from 1 to 99",
        ),
    ];
    for (n, (text, needle, field, message)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{n}.toml"));
        std::fs::write(&path, text).unwrap();
        let line = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let run = ftctl_with(
            &["chaos", "run", path.to_str().unwrap(), "--env", "bad"],
            &endpoints,
        );
        let said = format!("{text}: exit {}\n{}{}", run.code, run.stdout, run.stderr);
        assert_eq!(run.code, 2, "{said}");
        let location = format!("{}:{line}:", path.display());
        assert!(run.stderr.contains(&location), "no {location}: {said}");
        assert!(
            run.stderr.contains(&format!(": {field}: ")),
            "no {field}: {said}"
        );
        assert!(run.stderr.contains(message), "no `{message}`: {said}");
        assert!(!run.stderr.contains("panicked"), "{said}");
    }
    no_aws.assert_untouched();
}
