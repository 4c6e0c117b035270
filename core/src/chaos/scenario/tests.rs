//! Scenario files: what is read, what is refused (located), how steps are designed together,
//! and that an exported experiment reads back as the same fault.

use super::*;
use crate::chaos::fixtures::{inventory, steady};
use std::io::Write;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn errors(text: &str) -> String {
    let f = file(text);
    load(f.path()).unwrap_err().to_string()
}

const ZONE_THEN_DB: &str = r#"
[scenario]
name = "zone-then-database"
description = "Lose a zone, then fail the database over a minute later"

[[step]]
kill-az = { zone = "us-east-1a" }

[[step]]
at = 60
rds-failover = { targets = ["db.main"] }
"#;

#[test]
fn a_scenario_reads_as_its_steps_faults() {
    let f = file(ZONE_THEN_DB);
    let s = load(f.path()).unwrap();
    assert_eq!(s.header.name, "zone-then-database");
    assert_eq!(
        s.steps,
        vec![
            (
                0.0,
                Fault::KillAz {
                    zone: Some("us-east-1a".into()),
                    mode: AzMode::Terminate
                }
            ),
            (
                60.0,
                Fault::RdsFailover {
                    databases: vec!["main".into()]
                }
            ),
        ]
    );
}

#[test]
fn an_unknown_key_is_located_at_its_line() {
    let text = "[scenario]\nname = \"x\"\n\n[[step]]\nkill-az = { zone = \"us-east-1a\", power = \"off\" }\n";
    let e = errors(text);
    assert!(e.contains(":5:"), "{e}");
    assert!(e.contains("step.0.kill-az.power"), "{e}");
    assert!(e.contains("unknown field `power`"), "{e}");
}

#[test]
fn a_target_of_the_wrong_kind_is_refused_with_its_place() {
    let text = "[scenario]\nname = \"x\"\n[[step]]\nrds-failover = { targets = [\"tier.web\"] }\n";
    let e = errors(text);
    assert!(e.contains("step.0.rds-failover.targets.0"), "{e}");
    assert!(e.contains("is not a database"), "{e}");
    assert!(e.contains(":4:"), "{e}");
}

#[test]
fn a_step_needs_exactly_one_fault() {
    let e = errors("[scenario]\nname = \"x\"\n[[step]]\nat = 5\n");
    assert!(e.contains("a step needs one fault"), "{e}");
    let e = errors("[scenario]\nname = \"x\"\n[[step]]\nkill-az = {}\nrds-failover = {}\n");
    assert!(e.contains("this one has kill-az, rds-failover"), "{e}");
}

#[test]
fn bad_numbers_and_names_are_refused() {
    let e = errors("[scenario]\nname = \"Has Spaces\"\nbudget = -1\n[[step]]\nat = 7200\nkill-instance = { count = 1, percent = 50 }\n");
    assert!(e.contains("scenario.name"), "{e}");
    assert!(e.contains("scenario.budget"), "{e}");
    assert!(e.contains("step.0.at"), "{e}");
    assert!(e.contains("count or percent, not both"), "{e}");
    assert!(e.contains("(4 problems)"), "{e}");
}

#[test]
fn a_gray_step_takes_only_its_own_options() {
    let e = errors("[scenario]\nname = \"x\"\n[[step]]\npacket-loss = { delay_ms = 5 }\n");
    assert!(e.contains("packet-loss has no option delay_ms"), "{e}");
    let e =
        errors("[scenario]\nname = \"x\"\n[[step]]\nlatency = { delay_ms = 5, jitter_ms = 50 }\n");
    assert!(e.contains("more than the delay"), "{e}");
}

#[test]
fn two_zones_are_refused() {
    let e = errors(
        "[scenario]\nname = \"x\"\n[[step]]\nkill-az = {}\n[[step]]\nat = 30\nkill-az = {}\n",
    );
    assert!(e.contains("at most one zone"), "{e}");
}

#[test]
fn a_step_after_the_duration_is_refused() {
    let e = errors("[scenario]\nname = \"x\"\nduration = 30\n[[step]]\nat = 30\nkill-az = {}\n");
    assert!(e.contains("already over"), "{e}");
}

#[test]
fn not_toml_is_located() {
    let e = errors("[scenario\nname = 1\n");
    assert!(e.contains("invalid TOML"), "{e}");
    assert!(e.contains(":1:"), "{e}");
}

#[test]
fn steps_are_designed_in_start_order_with_a_budget_from_the_first_start() {
    let text = "[scenario]\nname = \"db-then-web\"\n[[step]]\nat = 60\nkill-instance = { targets = [\"tier.web\"] }\n[[step]]\nrds-failover = {}\n";
    let f = file(text);
    let s = load(f.path()).unwrap();
    let d = design(&s, &inventory(), &steady(), None).unwrap();
    assert_eq!(d.experiment, "db-then-web");
    let schedule = d.schedule();
    assert_eq!(schedule.len(), 2);
    assert_eq!(schedule[0].at, 0.0);
    assert!(schedule[0].label.contains("rds-failover"), "{schedule:?}");
    assert!(matches!(
        d.actions[schedule[0].actions.clone()][0],
        design::Action::FailoverDatabase { .. }
    ));
    assert_eq!(schedule[1].at, 60.0);
    assert!(matches!(
        d.actions[schedule[1].actions.clone()][0],
        design::Action::TerminateInstances { .. }
    ));
    // Each step's own budget runs from its start; the scenario's ends with the latest of them:
    // the web tier's (180 s, from 60 s) or the database's (600 s, from 0 s).
    let own = |i: usize| {
        design::design(&s.steps[i].1, &inventory(), &steady(), None)
            .unwrap()
            .budget
            .seconds
    };
    assert_eq!(d.budget.seconds, (60.0 + own(0)).max(own(1)));
    assert_eq!(d.budget.seconds, 600.0);
    assert!(
        d.budget.source.contains("step 2 (rds-failover) at 0 s"),
        "{}",
        d.budget.source
    );
    assert!(d.expects_healing());
}

#[test]
fn two_steps_may_not_take_the_same_instance() {
    let text = "[scenario]\nname = \"twice\"\n[[step]]\nkill-instance = { targets = [\"tier.web\"], seed = \"a\" }\n[[step]]\nat = 10\nkill-instance = { targets = [\"tier.web\"], seed = \"a\" }\n";
    let f = file(text);
    let s = load(f.path()).unwrap();
    let Refusal(m) = design(&s, &inventory(), &steady(), None).unwrap_err();
    assert!(m.contains("steps 1 and 2 both touch"), "{m}");
}

#[test]
fn a_refused_step_names_itself() {
    let text =
        "[scenario]\nname = \"x\"\n[[step]]\nkill-instance = { targets = [\"tier.nope\"] }\n";
    let f = file(text);
    let s = load(f.path()).unwrap();
    let Refusal(m) = design(&s, &inventory(), &steady(), None).unwrap_err();
    assert!(m.starts_with("step 1 (kill-instance):"), "{m}");
}

#[test]
fn an_exported_experiment_reads_back_as_the_same_fault() {
    let faults = [
        Fault::KillAz {
            zone: Some("us-east-1b".into()),
            mode: AzMode::Stop,
        },
        Fault::KillInstance {
            tiers: vec!["web".into()],
            count: None,
            percent: Some(50),
            instances: Vec::new(),
            seed: Some("s\"eed".into()),
        },
        Fault::CacheFailover {
            caches: vec!["session".into()],
            shard: Some("0002".into()),
        },
        Fault::KillTask {
            services: vec!["api".into()],
            count: Some(2),
            percent: None,
            seed: None,
        },
        Fault::Latency {
            on: gray::Share {
                tiers: vec!["app".into()],
                count: Some(1),
                percent: None,
                seed: None,
                duration: 120,
            },
            delay_ms: 200,
            jitter_ms: 20,
        },
        Fault::CpuStress {
            on: gray::Share {
                tiers: vec![],
                count: None,
                percent: Some(25),
                seed: None,
                duration: 60,
            },
            load_percent: 90,
        },
    ];
    for fault in faults {
        let scenario = ScenarioFile {
            scenario: Header {
                name: fault_key(&fault).into(),
                description: "exported".into(),
                budget: Some(240.0),
                duration: None,
                stop_on: vec!["alarm.tier.web.capacity".into()],
                max_error_rate: None,
                max_p99_ms: None,
            },
            step: vec![step_of(0.0, &fault)],
        };
        let text = render("ftctl chaos list --export\n\nedit me", &scenario);
        assert!(
            text.starts_with("# ftctl chaos list --export\n#\n# edit me\n"),
            "{text}"
        );
        let f = file(&text);
        let back = load(f.path()).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back.steps, vec![(0.0, fault.clone())], "{text}");
        assert_eq!(back.header, scenario.scenario);
    }
}
