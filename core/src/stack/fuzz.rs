//! Property tests of the "bad input" guarantee: whatever a stack file or `--var` says, loading
//! never panics, every error is located (file:line, or the `--var` itself) and names the field it
//! concerns, and a stack that loads can be expanded, ordered, planned and drawn without panics.
//! Case counts are bounded so `cargo test` stays fast; `PROPTEST_CASES=5000` digs deeper.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::Config;

const STAGES: [&str; 3] = ["stage1.toml", "stage2.toml", "stage3.toml"];

fn shipped(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../stacks")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// The shipped stacks in a fresh directory, with `name` replaced by `text`.
fn stacks_with(name: &str, text: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for stage in STAGES {
        std::fs::write(dir.path().join(stage), shipped(stage)).unwrap();
    }
    std::fs::write(dir.path().join(name), text).unwrap();
    dir
}

/// Errors that concern no single field: the file as a whole, TOML syntax, a malformed `--var`.
fn fieldless(e: &StackError) -> bool {
    let m = &e.message;
    m.starts_with("invalid TOML")
        || m.starts_with("cannot read stack file")
        || m.starts_with("`extends` makes a cycle")
        || m.contains("is not UTF-8")
        || matches!(e.origin, Some(Origin::Var(_)))
}

/// The guarantee for one failed load: every error located in one of `files` or at a `--var`,
/// with a field unless it concerns none, and the rendering says `path:LINE:`.
fn assert_located(errs: &StackErrors, files: &[PathBuf]) -> Result<(), TestCaseError> {
    prop_assert!(!errs.0.is_empty(), "an error without problems");
    for e in &errs.0 {
        let text = e.to_string();
        match &e.origin {
            Some(Origin::File { path, line, column }) => {
                prop_assert!(
                    files.iter().any(|f| f == path),
                    "{text}: not one of the stack's files {files:?}"
                );
                prop_assert!(*line >= 1 && *column >= 1, "{text}");
                let at = format!("{}:{line}:{column}: ", path.display());
                prop_assert!(text.starts_with(&at), "{text}: does not start with {at}");
            }
            Some(Origin::Var(var)) => {
                let at = format!("--var {var}: ");
                prop_assert!(text.starts_with(&at), "{text}: does not start with {at}");
            }
            None => prop_assert!(false, "unlocated: {text}"),
        }
        prop_assert!(
            !e.field.is_empty() || fieldless(e),
            "{text}: names no field"
        );
        if !e.field.is_empty() {
            prop_assert!(
                e.field.split('.').all(|part| !part.is_empty()),
                "{text}: `{}` is not a dotted field",
                e.field
            );
        }
    }
    Ok(())
}

/// What `plan`, `check` and `graph` do with a loaded stack before any AWS call, on made-up zones.
fn after_load(loaded: &LoadedStack) -> Result<(), TestCaseError> {
    let stack = &loaded.stack;
    let zones: Vec<String> = match &stack.network.availability_zones {
        Some(zones) => zones.clone(),
        None => (1..=stack.network.az_count)
            .map(|i| format!("us-east-1{}", (b'a' + i as u8 - 1) as char))
            .collect(),
    };
    // A validated stack always expands: an error here would reach the user unlocated.
    let specs = crate::expand::expand(stack, "fuzz", "us-east-1", &zones);
    prop_assert!(specs.is_ok(), "expand: {:?}", specs.err());
    let specs = specs.unwrap();
    let order = crate::graph::creation_order(&specs);
    prop_assert!(order.is_ok(), "creation order: {:?}", order.err());
    // Nothing is observed, so everything is created and no attribute is compared.
    let plan = crate::plan::diff(&specs, &[], &crate::schema::undeclared);
    prop_assert!(plan.is_ok(), "plan: {:?}", plan.err());
    let plan = plan.unwrap();
    let heading = crate::render::Heading {
        deployment: "fuzz",
        stack: &stack.stack.name,
        target: "nowhere".into(),
    };
    crate::render::plan_text(&heading, &plan);
    crate::render::plan_json(&heading, "us-east-1", &plan);
    crate::diagram::mermaid(&stack.stack.name, &specs);
    let subjects: Vec<crate::check::Subject<'_>> =
        specs.iter().map(crate::check::Subject::from).collect();
    crate::check::check(&subjects);
    Ok(())
}

/// Loads `file` (in `dir`) with `vars`, and checks whichever outcome.
fn load_and_check(dir: &Path, file: &str, vars: &[String]) -> Result<(), TestCaseError> {
    let path = dir.join(file);
    // Any of the stages may be in the chain; errors must point into one of them.
    let mut files: Vec<PathBuf> = STAGES.iter().map(|s| dir.join(s)).collect();
    files.push(path.clone());
    match load(&path, vars) {
        Ok(loaded) => after_load(&loaded),
        Err(errs) => assert_located(&errs, &files),
    }
}

fn cases(n: u32) -> Config {
    Config {
        cases: n,
        // Failures are reported with their (shrunk) input; no files of seeds in the tree.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- strategies -----------------------------------------------------------------------------

/// `s` as a TOML basic string, so any text (control characters, quotes, unicode) gets through.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\U{:08X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value of some TOML type, or text that is no TOML value at all.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"\"".to_string()),
        Just("\"   \"".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("9223372036854775807".to_string()),
        Just("4294967295".to_string()),
        Just("4294967296".to_string()),
        Just("65536".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("1e308".to_string()),
        Just("-1e308".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("-0.0".to_string()),
        Just("0.5".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[1, \"a\", true]".to_string()),
        Just("{ x = 1 }".to_string()),
        Just("{ period_seconds = 4294967280, evaluation_periods = 2 }".to_string()),
        Just("{ period_seconds = 60, evaluation_periods = 4294967295 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("\"é😀\u{202e}\u{0}\"".to_string()),
        Just("\"\\u0000\"".to_string()),
        Just("'''\nmulti\nline'''".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u32>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        // Any text as a TOML string: unicode, control characters, quotes (escaped by Debug).
        any::<String>().prop_map(|s| toml_str(&s)),
        "[a-z0-9./:*-]{0,80}".prop_map(|s| format!("\"{s}\"")),
        // Lists of any text, long names included (zones, tiers, regions, patterns).
        prop::collection::vec(
            prop_oneof![any::<String>(), "[a-zé0-9-]{0,300}", "us-east-1[a-f]"],
            0..4
        )
        .prop_map(|items| {
            let items: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
            format!("[{}]", items.join(", "))
        }),
        // Not a value: TOML syntax errors inside a key's line.
        "[^\n]{0,20}",
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(prop::sample::Index),
    DuplicateLine(prop::sample::Index),
    /// The value of a `key = value` line (or the whole line, when it has none).
    ReplaceValue(prop::sample::Index, String),
    UnknownKey(prop::sample::Index, String),
    UnknownTable(prop::sample::Index, String),
    /// Cut the file at a character, dropping everything after it.
    Truncate(prop::sample::Index),
    /// A stray line: a table header, an array of tables, a dotted key.
    InsertLine(prop::sample::Index, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let index = any::<prop::sample::Index>;
    prop_oneof![
        1 => index().prop_map(Mutation::DeleteLine),
        1 => index().prop_map(Mutation::DuplicateLine),
        4 => (index(), toml_value()).prop_map(|(i, v)| Mutation::ReplaceValue(i, v)),
        1 => (index(), "[a-z_]{1,12}").prop_map(|(i, k)| Mutation::UnknownKey(i, k)),
        1 => (index(), "[a-z_]{1,12}").prop_map(|(i, k)| Mutation::UnknownTable(i, k)),
        1 => index().prop_map(Mutation::Truncate),
        1 => (
            index(),
            prop_oneof![
                Just("[tiers.web]".to_string()),
                Just("[[tiers]]".to_string()),
                Just("[stack]".to_string()),
                Just("extends = \"stage1.toml\"".to_string()),
                Just("extends = \"stage3.toml\"".to_string()),
                Just("extends = \"/nonexistent.toml\"".to_string()),
                Just("stack.extends = \"\"".to_string()),
                Just("tiers.web.min_size = 9".to_string()),
                Just("databases.main.master_user_password = \"hunter2\"".to_string()),
                "[a-z_.]{1,30} = [0-9]{1,3}",
            ]
        )
            .prop_map(|(i, l)| Mutation::InsertLine(i, l)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    match m {
        Mutation::DeleteLine(i) => {
            lines.remove(i.index(lines.len()));
        }
        Mutation::DuplicateLine(i) => {
            let at = i.index(lines.len());
            lines.insert(at, lines[at].clone());
        }
        Mutation::ReplaceValue(i, value) => {
            // Prefer lines that set a value: that is where type confusion lives.
            let settable: Vec<usize> = (0..lines.len())
                .filter(|&n| lines[n].contains(" = "))
                .collect();
            if let Some(&at) = settable.get(i.index(settable.len().max(1))) {
                let key = lines[at]
                    .split(" = ")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                lines[at] = format!("{key} = {value}");
            }
        }
        Mutation::UnknownKey(i, key) => lines.insert(i.index(lines.len()), format!("{key} = 1")),
        Mutation::UnknownTable(i, key) => {
            lines.insert(i.index(lines.len()), format!("[{key}]\nx = 1"))
        }
        Mutation::Truncate(i) => {
            let chars: Vec<char> = text.chars().collect();
            let cut = i.index(chars.len().max(1));
            return chars[..cut.min(chars.len())].iter().collect();
        }
        Mutation::InsertLine(i, line) => lines.insert(i.index(lines.len()), line.clone()),
    }
    lines.join("\n") + "\n"
}

/// Fields a user may set with `--var`, plus nonsense.
fn var_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tiers.web.max_size".to_string()),
        Just("tiers.web.min_size".to_string()),
        Just("tiers.web.capacity_alarm.period_seconds".to_string()),
        Just("tiers.web.capacity_alarm.evaluation_periods".to_string()),
        Just("tiers.web".to_string()),
        Just("tiers".to_string()),
        Just("network.cidr".to_string()),
        Just("network.az_count".to_string()),
        Just("network.subnet_prefix".to_string()),
        Just("network.availability_zones".to_string()),
        Just("network.nat".to_string()),
        Just("stack.name".to_string()),
        Just("stack.region".to_string()),
        Just("stack.extends".to_string()),
        Just("stack".to_string()),
        Just("load_balancers.public.port".to_string()),
        Just("databases.main.engine".to_string()),
        Just("databases.main.allocated_storage_gb".to_string()),
        Just("databases.main.master_username".to_string()),
        Just("caches.session.shards".to_string()),
        Just("caches.session.replicas_per_shard".to_string()),
        Just("caches.session.engine_version".to_string()),
        Just("tables.orders.replica_regions".to_string()),
        Just("tables.orders.billing_mode".to_string()),
        Just("services.api.cpu".to_string()),
        Just("services.api.memory".to_string()),
        Just("services.api.path_patterns".to_string()),
        Just("file_systems.shared.root_path".to_string()),
        Just("clusters.analytics.core_instance_count".to_string()),
        Just("clusters.analytics.managed_scaling.max_instances".to_string()),
        Just("dns.zone".to_string()),
        Just("dns".to_string()),
        Just("tracing.tiers".to_string()),
        Just("tracing.sample_percent".to_string()),
        Just("notifications.emails".to_string()),
        "[a-z_]{1,8}(\\.[a-z0-9_-]{1,8}){0,3}",
        // Malformed keys: empty parts, spaces, unicode.
        "[a-z. é]{0,10}",
    ]
}

fn var() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (var_key(), toml_value()).prop_map(|(k, v)| format!("{k}={v}")),
        // Not KEY=VALUE at all.
        1 => "[^=]{0,20}",
        1 => any::<String>(),
    ]
}

/// Overrides that often leave the stack valid, so expansion, ordering and planning meet many
/// shapes of deployment (zones, NAT, shards, replicas, sizes, optional parts on and off).
fn plausible_var() -> impl Strategy<Value = String> {
    let int =
        |key: &'static str, lo: i64, hi: i64| (lo..=hi).prop_map(move |v| format!("{key}={v}"));
    let flag = |key: &'static str| any::<bool>().prop_map(move |v| format!("{key}={v}"));
    prop_oneof![
        int("network.az_count", 1, 7),
        int("network.subnet_prefix", 16, 28),
        prop::sample::select(vec!["none", "single", "per-az", "all"])
            .prop_map(|v| format!("network.nat=\"{v}\"")),
        prop::sample::select(vec![
            "10.0.0.0/16",
            "10.0.0.0/24",
            "10.0.0.0/28",
            "172.16.0.0/20"
        ])
        .prop_map(|v| format!("network.cidr={v}")),
        (2..=6usize).prop_map(|n| {
            let zones: Vec<String> = (0..n)
                .map(|i| format!("\"us-east-1{}\"", (b'a' + i as u8) as char))
                .collect();
            format!("network.availability_zones=[{}]", zones.join(","))
        }),
        int("tiers.web.min_size", 0, 4),
        int("tiers.web.max_size", 0, 8),
        int("tiers.web.desired_capacity", 0, 8),
        int("tiers.app.port", 0, 9000),
        int("load_balancers.public.port", 1, 9000),
        flag("databases.main.multi_az"),
        flag("databases.main.deletion_protection"),
        prop::sample::select(vec!["mysql", "postgres"])
            .prop_map(|v| format!("databases.main.engine=\"{v}\"")),
        flag("tracing.enabled"),
        int("tracing.reservoir_per_second", 0, 20_000),
        int("caches.session.shards", 0, 6),
        int("caches.session.replicas_per_shard", 0, 6),
        flag("caches.session.cluster_mode"),
        flag("caches.session.automatic_failover"),
        flag("caches.session.multi_az"),
        flag("caches.session.autoscaling.enabled"),
        int("caches.session.autoscaling.min_replicas", 0, 6),
        int("caches.session.autoscaling.max_replicas", 0, 6),
        Just("tables.orders.replica_regions=[]".to_string()),
        Just("tables.orders.replica_regions=[\"us-west-2\", \"eu-west-1\"]".to_string()),
        prop::sample::select(vec!["on-demand", "provisioned"])
            .prop_map(|v| format!("tables.orders.billing_mode=\"{v}\"")),
        int("services.api.desired_count", 0, 8),
        flag("services.api.autoscaling.enabled"),
        Just("services.api.file_system=\"nope\"".to_string()),
        int("clusters.analytics.core_instance_count", 0, 9),
        flag("dns.private"),
        Just("dns.load_balancer=\"internal\"".to_string()),
        flag("file_systems.shared.backup"),
        flag("audit.trail"),
        Just("notifications.emails=[\"a@b.c\", \"nope\"]".to_string()),
        Just("notifications.https_endpoints=[\"https://x.example\"]".to_string()),
        Just("notifications.sqs_queue_arns=[\"arn:aws:sqs:us-east-1:1:q\"]".to_string()),
        int("tiers.web.capacity_alarm.period_seconds", 0, 120),
        int("tiers.web.capacity_alarm.evaluation_periods", 0, 2000),
    ]
}

// ---- properties -----------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_and_errors_are_located(
        bytes in prop::collection::vec(any::<u8>(), 0..400)
    ) {
        let dir = stacks_with("fuzz.toml", &bytes);
        load_and_check(dir.path(), "fuzz.toml", &[])?;
    }

    #[test]
    fn arbitrary_text_never_panics_and_errors_are_located(text in any::<String>()) {
        let dir = stacks_with("fuzz.toml", text.as_bytes());
        load_and_check(dir.path(), "fuzz.toml", &[])?;
    }

    /// Text made of TOML's own pieces gets past the syntax check more often than random text.
    #[test]
    fn toml_shaped_text_never_panics(
        lines in prop::collection::vec(
            prop_oneof![
                "\\[[a-z_.]{1,20}\\]".boxed(),
                "\\[\\[[a-z_.]{1,20}\\]\\]".boxed(),
                (var_key(), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")).boxed(),
                Just("extends = \"stage1.toml\"".to_string()).boxed(),
            ],
            0..12,
        )
    ) {
        let text = lines.join("\n");
        let dir = stacks_with("fuzz.toml", text.as_bytes());
        load_and_check(dir.path(), "fuzz.toml", &[])?;
    }

}

// The shipped stacks' properties reach validation, expansion and planning: more cases.
proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn mutated_shipped_stacks_never_panic_and_errors_are_located(
        stage in 0..3usize,
        target in 0..3usize,
        mutations in prop::collection::vec(mutation(), 1..3),
        vars in prop::collection::vec(prop_oneof![var(), plausible_var()], 0..3),
    ) {
        // Mutate the named stage or one it extends (stage3 → stage2 → stage1).
        let target = STAGES[target.min(stage)];
        let mut text = shipped(target);
        for m in &mutations {
            text = apply(&text, m);
        }
        let dir = stacks_with(target, text.as_bytes());
        load_and_check(dir.path(), STAGES[stage], &vars)?;
    }

    /// Mostly valid stacks: the path through expand, graph and plan gets exercised.
    #[test]
    fn plausible_vars_on_shipped_stacks_expand_order_and_plan(
        stage in 0..3usize,
        vars in prop::collection::vec(plausible_var(), 0..6),
    ) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacks");
        load_and_check(&dir, STAGES[stage], &vars)?;
    }

    #[test]
    fn random_vars_on_shipped_stacks_never_panic_and_errors_are_located(
        stage in 0..3usize,
        vars in prop::collection::vec(var(), 1..5),
    ) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacks");
        load_and_check(&dir, STAGES[stage], &vars)?;
    }
}
