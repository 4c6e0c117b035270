//! Gray failures against the emulators: the latency experiment sends the FIS document with its
//! parameters to a share of a tier, the journal holds its undo before the command goes out, and
//! Ctrl-C cancels the command (moto_patches/ssm.py keeps it running for its duration).

use crate::chaos::{instance_states, journal, spawn_ftctl, Deployed};
use crate::support::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// The Run Command commands sent to `instance` for `document`: (command id, status, instance
/// ids, parameters), straight from the emulator.
async fn commands_on(
    aws: &Aws,
    instance: &str,
    document: &str,
) -> Vec<(String, String, Vec<String>, BTreeMap<String, Vec<String>>)> {
    let out = aws
        .ssm
        .list_commands()
        .instance_id(instance)
        .send()
        .await
        .unwrap();
    out.commands()
        .iter()
        .filter(|c| c.document_name() == Some(document))
        .map(|c| {
            (
                c.command_id().unwrap().to_string(),
                c.status().unwrap().as_str().to_string(),
                c.instance_ids().to_vec(),
                c.parameters()
                    .map(|p| p.clone().into_iter().collect())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// Each invocation's status of a command, from the emulator.
async fn invocation_states(aws: &Aws, command: &str) -> BTreeMap<String, String> {
    let out = aws
        .ssm
        .list_command_invocations()
        .command_id(command)
        .send()
        .await
        .unwrap();
    out.command_invocations()
        .iter()
        .map(|i| {
            (
                i.instance_id().unwrap().to_string(),
                i.status().unwrap().as_str().to_string(),
            )
        })
        .collect()
}

/// A gray failure on stage 1's web tier: offered by `chaos list`, bad input refused with no AWS
/// call, a dry run that sends nothing, then a real run whose Run Command is the AWSFIS document
/// with exactly the parameters asked for, on the instance the seed chose; Ctrl-C aborts it and
/// the rollback cancels that command. The emulator runs no agent (localstack/moto_patches/ssm.py
/// only keeps the command InProgress for its DurationSeconds and honours CancelCommand), so
/// what is checked is the command, never an effect on the instance; nothing here plays an AWS
/// step.
#[tokio::test(flavor = "multi_thread")]
async fn latency_sends_the_fis_document_and_an_abort_cancels_it() {
    const DOC: &str = "AWSFIS-Run-Network-Latency-Sources";
    let _emulators = emulators().await;
    let d = Deployed::new("gray");
    let aws = aws().await;

    let list = ftctl(&["chaos", "list", "--env", &d.env, "--json"]).success();
    let doc: Value = serde_json::from_str(&list.stdout).unwrap();
    let offered: Vec<&str> = doc["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["targets"].as_str().unwrap().contains(&d.group("web")))
        .map(|e| e["experiment"].as_str().unwrap())
        .collect();
    for e in ["latency", "packet-loss", "cpu-stress"] {
        assert!(offered.contains(&e), "{e} not offered for web: {offered:?}");
    }

    // Bad input: exit 2, nothing read or sent.
    let no_aws = NoAws::new();
    for bad in [
        vec!["--percent", "0"],
        vec!["--percent", "150"],
        vec!["--delay-ms", "-5"],
        vec!["--delay-ms", "10", "--jitter-ms", "20"],
        vec!["--duration", "5"],
    ] {
        let mut args = vec!["chaos", "latency", "--env", &d.env, "--group", "web"];
        args.extend(bad.iter().copied());
        ftctl_with(&args, &no_aws.env()).failure(2);
    }
    no_aws.assert_untouched();

    let web: Vec<String> = instance_states(&aws, &d.env)
        .await
        .into_iter()
        .filter(|(_, (state, _))| state == "running")
        .map(|(id, _)| id)
        .collect();
    let dry = ftctl(&[
        "chaos",
        "latency",
        "--env",
        &d.env,
        "--group",
        "web",
        "--delay-ms",
        "150",
        "--jitter-ms",
        "15",
        "--duration",
        "60",
        "--seed",
        "gray-1",
        "--dry-run",
    ])
    .success()
    .stdout_has(DOC)
    .stdout_has("DelayMilliseconds=150")
    .stdout_has("seed: gray-1");
    for id in &web {
        assert!(
            commands_on(&aws, id, DOC).await.is_empty(),
            "the dry run sent a command to {id}:\n{}",
            dry.stdout
        );
    }

    let reports = tempfile::tempdir().unwrap();
    let (command, mut child) = spawn_ftctl(&[
        "chaos",
        "latency",
        "--env",
        &d.env,
        "--group",
        "web",
        "--delay-ms",
        "150",
        "--jitter-ms",
        "15",
        "--duration",
        "60",
        "--seed",
        "gray-1",
        "--interval",
        "0.2",
        "--after-timeout",
        "2",
        "--report-dir",
        reports.path().to_str().unwrap(),
    ]);
    let sent = until(300, || async {
        for id in &web {
            if let Some(c) = commands_on(&aws, id, DOC).await.into_iter().next() {
                return Some(c);
            }
        }
        None
    })
    .await;
    let Some((command_id, status, instances, parameters)) = sent else {
        let _ = child.kill();
        panic!("{command}: no {DOC} command reached the emulator");
    };
    assert_eq!(status, "InProgress");
    assert_eq!(instances.len(), 1, "one of web's instances: {instances:?}");
    let p = |k: &str| parameters.get(k).cloned().unwrap_or_default().join(",");
    assert_eq!(p("DelayMilliseconds"), "150");
    assert_eq!(p("JitterMilliseconds"), "15");
    assert_eq!(p("DurationSeconds"), "60");
    assert_eq!(p("Sources"), "ALL");
    assert_eq!(p("TrafficType"), "egress");
    assert_eq!(p("Interface"), "DEFAULT");
    assert_eq!(p("InstallDependencies"), "True");
    // The journal records the undo before the command went out.
    let j = journal(reports.path());
    assert_eq!(j["pending_undo"][0]["undo"], "cancel-command", "{j}");

    // Ctrl-C: the run aborts and its rollback cancels the command.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let run = finish((command, child)).await.failure(2);
    let j = journal(reports.path());
    assert_eq!(j["outcome"], "aborted", "{}", run.stdout);
    assert_eq!(j["pending_undo"].as_array().unwrap().len(), 0, "{j}");
    let states = invocation_states(&aws, &command_id).await;
    assert_eq!(
        states.get(&instances[0]).map(String::as_str),
        Some("Cancelled"),
        "{states:?}"
    );
}
