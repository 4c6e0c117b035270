//! The checked attribute keys. Expansion writes a resource's attributes as string keys, providers
//! read them back by the same strings, and each kind's `Schema` says what the planner makes of
//! them: these tests hold the three to one another. Every key expansion writes is declared; every
//! key a provider reads or reports is declared; every declared attribute is written by some
//! expansion and read or reported by its provider. A misspelt key then fails here, not at apply
//! time ("attribute X is missing") or as a diff that never goes away.
//!
//! Why a checked schema rather than typed attribute structs per kind: the generic machinery (the
//! diff, plan rendering, saved plans, the controls check) works on one uniform key/value map for
//! every kind. Typed specs would need per-kind serde and per-kind diff code, a second definition
//! of each kind to keep in step with its provider. These tests give the same guarantee where it
//! matters, at the boundary between expansion, schema and provider.

use super::registry::schema;
use crate::resource::{Kind, ResourceSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Stack settings no shipped stack uses, each turning on attributes nothing else writes.
const VARIANTS: &[(&str, &[&str])] = &[
    // CloudTrail is off by default (a trail records the whole account's calls).
    ("stage1.toml", &["audit.trail=true"]),
    // A queue the alarm topic delivers into.
    ("stage3.toml", &["queues.payments.from_alarm_topic=true"]),
    // A balancer no tier serves answers with a fixed response.
    (
        "stage1.toml",
        &[
            "load_balancers.spare.scheme=\"internal\"",
            "load_balancers.spare.port=8081",
            "load_balancers.spare.allow_from=[\"web\"]",
        ],
    ),
    (
        "stage2.toml",
        &[
            "tables.orders.billing_mode=\"provisioned\"",
            "tables.orders.read_capacity=5",
            "tables.orders.write_capacity=5",
            "tables.orders.replica_regions=[]",
        ],
    ),
    // A public zone: HTTPS with a certificate, a health check and its alarm, whose topic and
    // key live in us-east-1 when the deployment does not (see REGIONS).
    (
        "stage3.toml",
        &["dns.zone=\"shop.mycompany.com\"", "dns.private=false"],
    ),
    // The same behind CloudFront, restricted to it: the record names the distribution, whose
    // certificate lives in us-east-1.
    (
        "stage3.toml",
        &[
            "dns.zone=\"shop.mycompany.com\"",
            "dns.private=false",
            "edge.restrict_balancer=true",
        ],
    ),
];

/// Route 53 publishes health check metrics in us-east-1 only: elsewhere the health alarm, its
/// topic and key carry a `region`.
const REGIONS: &[&str] = &["us-east-1", "eu-west-1"];

fn stacks_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks"))
}

/// Every shipped stack and every variant, expanded in every region: (what, resources).
fn expansions() -> Vec<(String, Vec<ResourceSpec>)> {
    let mut shipped: Vec<PathBuf> = std::fs::read_dir(stacks_dir())
        .expect("the stacks folder")
        .map(|e| e.expect("a stacks folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    shipped.sort();
    assert!(shipped.len() >= 3, "shipped stacks: {shipped:?}");
    let mut runs: Vec<(PathBuf, Vec<String>)> = shipped.into_iter().map(|p| (p, vec![])).collect();
    for (file, vars) in VARIANTS {
        runs.push((
            stacks_dir().join(file),
            vars.iter().map(|v| v.to_string()).collect(),
        ));
    }
    let mut out = Vec::new();
    for (path, vars) in &runs {
        for region in REGIONS {
            out.push((
                format!("{} {vars:?} in {region}", file_name(path)),
                expand(path, vars, region),
            ));
        }
    }
    out
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn expand(path: &Path, vars: &[String], region: &str) -> Vec<ResourceSpec> {
    let stack = crate::stack::load(path, vars)
        .unwrap_or_else(|e| panic!("{} {vars:?}: {e}", path.display()))
        .stack;
    let zones: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|z| format!("{region}{z}"))
        .collect();
    crate::expand::expand(&stack, "dev", region, &zones)
        .unwrap_or_else(|p| panic!("{} {vars:?} in {region}: {p}", path.display()))
}

#[test]
fn every_key_expansion_writes_is_declared() {
    let mut undeclared = BTreeSet::new();
    for (what, specs) in expansions() {
        for spec in &specs {
            for key in spec.props.keys() {
                if schema(spec.kind).attr(key).is_none() {
                    undeclared.insert(format!("{:?} {} writes {key} ({what})", spec.kind, spec.id));
                }
            }
        }
    }
    assert!(
        undeclared.is_empty(),
        "attributes expansion writes that the kind's schema does not declare:\n{}",
        undeclared.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// Kinds with a provider that no stack component makes yet.
const NOT_YET_EXPANDED: &[Kind] = &[];

#[test]
fn every_declared_attribute_is_written_by_some_expansion() {
    let mut written: BTreeSet<(Kind, String)> = BTreeSet::new();
    for (_, specs) in expansions() {
        for spec in specs {
            written.extend(spec.props.into_keys().map(|k| (spec.kind, k)));
        }
    }
    let mut unwritten = Vec::new();
    for kind in Kind::ALL.iter().filter(|k| !NOT_YET_EXPANDED.contains(k)) {
        for a in schema(*kind).attributes {
            if !written.contains(&(*kind, a.name.to_string())) {
                unwritten.push(format!("{kind:?} {}", a.name));
            }
        }
    }
    assert!(
        unwritten.is_empty(),
        "declared attributes no shipped stack or variant writes (remove them, or add a variant \
         to VARIANTS that writes them):\n{}",
        unwritten.join("\n")
    );
}

#[test]
fn providers_use_exactly_the_keys_their_schemas_declare() {
    let files = provider_files();
    let covered: BTreeSet<Kind> = files.iter().flat_map(|f| f.kinds.clone()).collect();
    assert_eq!(
        covered,
        Kind::ALL.iter().copied().collect(),
        "every kind's provider file is found by its `fn kind`"
    );
    let mut problems = Vec::new();
    // AwsCloud sends the kinds that may live in us-east-1 there by their `region`, and reports
    // it when it observes them there: their providers never see it.
    let cloud_src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/aws/cloud.rs");
    let routing = routing_keys(&lex(&std::fs::read_to_string(cloud_src).expect("cloud.rs")));
    assert!(
        !routing.is_empty(),
        "cloud.rs reads the region it routes by"
    );
    for kind in super::cloud::REMOTE_KINDS {
        for key in &routing {
            if schema(kind).attr(key).is_none() {
                problems.push(format!("{cloud_src} routes {kind:?} by {key}, undeclared"));
            }
        }
    }
    for f in &files {
        let routed = f
            .kinds
            .iter()
            .any(|k| super::cloud::REMOTE_KINDS.contains(k));
        // A file serving two kinds (scaling targets, X-Ray) reads the keys of both.
        let declared: BTreeSet<&str> = f
            .kinds
            .iter()
            .flat_map(|k| schema(*k).attributes.iter().map(|a| a.name))
            .collect();
        for key in &f.keys {
            if !declared.contains(key.as_str()) {
                problems.push(format!(
                    "{} ({:?}) reads or reports {key}, which its schema does not declare",
                    f.path, f.kinds
                ));
            }
        }
        for name in &declared {
            let used = f.keys.contains(*name) || (routed && routing.contains(*name));
            if !used {
                problems.push(format!(
                    "{} ({:?}) declares {name} but neither reads nor reports it",
                    f.path, f.kinds
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What one provider source file says about attributes.
struct ProviderFile {
    path: String,
    /// The kinds its `fn kind` returns.
    kinds: Vec<Kind>,
    /// The literal keys it reads from a spec or the current resource, or reports when observing.
    keys: BTreeSet<String>,
}

/// Every file under src/aws with a `fn kind` returning kinds.
fn provider_files() -> Vec<ProviderFile> {
    let by_name: BTreeMap<String, Kind> =
        Kind::ALL.iter().map(|k| (format!("{k:?}"), *k)).collect();
    let mut paths = Vec::new();
    walk(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/aws")),
        &mut paths,
    );
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("a source file");
        let tokens = lex(&text);
        let kinds: Vec<Kind> = kinds_returned(&tokens)
            .iter()
            .map(|name| {
                *by_name
                    .get(name)
                    .unwrap_or_else(|| panic!("{}: no kind {name}", path.display()))
            })
            .collect();
        if kinds.is_empty() {
            continue;
        }
        out.push(ProviderFile {
            path: path.display().to_string(),
            kinds,
            keys: keys_used(&tokens),
        });
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a source folder entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An identifier, keyword or number.
    Word(String),
    /// The contents of a string literal.
    Str(String),
    Punct(char),
}

/// Rust source as tokens, without comments, lifetimes or char literals: enough to find calls.
fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            i += 2;
            while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if ch == 'r' && (next == Some('"') || next == Some('#')) && is_raw_string(&c, i) {
            // r"..." or r#"..."#
            let mut j = i + 1;
            let mut hashes = 0;
            while c[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            let start = j;
            while j < c.len()
                && !(c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')))
            {
                j += 1;
            }
            out.push(Tok::Str(c[start..j.min(c.len())].iter().collect()));
            i = j + 1 + hashes;
        } else if ch == '"' {
            let mut s = String::new();
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if let Some(x) = c.get(i) {
                    s.push(*x);
                }
                i += 1;
            }
            out.push(Tok::Str(s));
            i += 1;
        } else if ch == '\'' {
            // A char literal ('x', '\n') or a lifetime ('a): skipped either way.
            if next == Some('\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Word(c[start..i].iter().collect()));
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

fn is_raw_string(c: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_');
    let mut j = i + 1;
    while c.get(j) == Some(&'#') {
        j += 1;
    }
    before_ok && c.get(j) == Some(&'"')
}

fn word(t: Option<&Tok>, w: &str) -> bool {
    matches!(t, Some(Tok::Word(x)) if x == w)
}

fn punct(t: Option<&Tok>, p: char) -> bool {
    t == Some(&Tok::Punct(p))
}

fn string(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Str(s)) => Some(s),
        _ => None,
    }
}

/// The index just past the `{ ... }` block opening at `open`.
fn block_end(t: &[Tok], open: usize) -> usize {
    let mut depth = 0;
    for (j, tok) in t.iter().enumerate().skip(open) {
        match tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    t.len()
}

/// The `Kind::X` names in the bodies of every `fn kind(...) -> Kind`.
fn kinds_returned(t: &[Tok]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..t.len() {
        if !(word(t.get(i), "fn") && word(t.get(i + 1), "kind") && punct(t.get(i + 2), '(')) {
            continue;
        }
        let Some(open) = (i..t.len()).find(|&j| punct(t.get(j), '{')) else {
            continue;
        };
        let body = &t[open..block_end(t, open)];
        for j in 0..body.len() {
            if word(body.get(j), "Kind") && punct(body.get(j + 1), ':') {
                if let Some(Tok::Word(name)) = body.get(j + 3) {
                    out.push(name.clone());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The spec getters of `aws::sdk` (`s(spec, "k")`, ...) and `count_within(spec, "k", ..)`.
const GETTERS: &[&str] = &["s", "i", "f", "b", "strs", "count_within"];
/// Helpers comparing the spec with the current resource: `changed(spec, current, "k")`.
const COMPARERS: &[&str] = &["changed", "delta"];

/// The literal attribute keys a provider file reads from `spec` or `current`, or reports with
/// `.prop("k", ..)`, in the forms the providers use: the getters and comparers above, local
/// closures over them or over props (`let changed = |key: &str| changed(spec, current, key)`,
/// then `changed("k")`), `spec.props.get("k")` and its kin, and arrays of keys handed to one
/// (`["a", "b"].iter().any(|k| changed(spec, current, k))`).
fn keys_used(t: &[Tok]) -> BTreeSet<String> {
    let closures = key_closures(t);
    let mut keys = BTreeSet::new();
    for i in 0..t.len() {
        let at = |n: usize| t.get(i + n);
        let Some(Tok::Word(w)) = at(0) else {
            if punct(at(0), '.') && word(at(1), "prop") && punct(at(2), '(') {
                keys.extend(string(at(3)).map(str::to_string));
            }
            if punct(at(0), '[') {
                keys.extend(key_array(&t[i..]));
            }
            continue;
        };
        let after_dot = i > 0 && punct(t.get(i - 1), '.');
        let call = punct(at(1), '(') && !after_dot;
        if call && GETTERS.contains(&w.as_str()) && word(at(2), "spec") && punct(at(3), ',') {
            keys.extend(string(at(4)).map(str::to_string));
        }
        if call
            && COMPARERS.contains(&w.as_str())
            && word(at(2), "spec")
            && punct(at(3), ',')
            && word(at(4), "current")
            && punct(at(5), ',')
        {
            keys.extend(string(at(6)).map(str::to_string));
        }
        if call && closures.contains(w) && punct(at(3), ')') {
            keys.extend(string(at(2)).map(str::to_string));
        }
        if (w == "spec" || w == "current")
            && punct(at(1), '.')
            && word(at(2), "props")
            && punct(at(3), '.')
            && ["get", "contains_key", "remove"]
                .iter()
                .any(|m| word(at(4), m))
            && punct(at(5), '(')
        {
            keys.extend(string(at(6)).map(str::to_string));
        }
        if (w == "spec" || w == "current")
            && punct(at(1), '.')
            && word(at(2), "props")
            && punct(at(3), '[')
        {
            keys.extend(string(at(4)).map(str::to_string));
        }
    }
    keys
}

/// The keys `AwsCloud` reads from any resource's props (`props.get("k")`) or reports
/// (`.prop("k", ..)`).
fn routing_keys(t: &[Tok]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for i in 0..t.len() {
        let at = |n: usize| t.get(i + n);
        if word(at(0), "props") && punct(at(1), '.') && word(at(2), "get") && punct(at(3), '(') {
            keys.extend(string(at(4)).map(str::to_string));
        }
        if punct(at(0), '.') && word(at(1), "prop") && punct(at(2), '(') {
            keys.extend(string(at(3)).map(str::to_string));
        }
    }
    keys
}

/// Names of local closures taking one `&str` whose body reads props or calls a getter or
/// comparer: `let changed = |key: &str| changed(spec, current, key);`.
fn key_closures(t: &[Tok]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for i in 0..t.len() {
        let at = |n: usize| t.get(i + n);
        let opens = word(at(0), "let")
            && punct(at(2), '=')
            && punct(at(3), '|')
            && matches!(at(4), Some(Tok::Word(_)))
            && punct(at(5), ':')
            && punct(at(6), '&')
            && word(at(7), "str")
            && punct(at(8), '|');
        let (true, Some(Tok::Word(name))) = (opens, at(1)) else {
            continue;
        };
        let mut depth = 0i32;
        let mut end = t.len();
        for (j, tok) in t.iter().enumerate().skip(i + 9) {
            match tok {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') => depth -= 1,
                Tok::Punct(';') if depth <= 0 => {
                    end = j;
                    break;
                }
                _ => {}
            }
        }
        let body = &t[i + 9..end];
        let reads = (0..body.len()).any(|j| {
            word(body.get(j), "props")
                || (matches!(body.get(j), Some(Tok::Word(w))
                        if GETTERS.contains(&w.as_str()) || COMPARERS.contains(&w.as_str()))
                    && punct(body.get(j + 1), '(')
                    && word(body.get(j + 2), "spec"))
        });
        if reads {
            out.insert(name.clone());
        }
    }
    out
}

/// The keys of `["a", "b", ...]` when the array is iterated with `.any(..)`, as the providers do
/// to ask whether any of several attributes changed.
fn key_array(t: &[Tok]) -> Vec<String> {
    let mut keys = Vec::new();
    let mut j = 1;
    loop {
        match t.get(j) {
            Some(Tok::Str(s)) => keys.push(s.clone()),
            _ => return Vec::new(),
        }
        j += 1;
        if punct(t.get(j), ',') {
            j += 1;
        }
        if punct(t.get(j), ']') {
            break;
        }
    }
    let iterated = punct(t.get(j + 1), '.')
        && (word(t.get(j + 2), "iter") || word(t.get(j + 2), "into_iter"))
        && punct(t.get(j + 3), '(')
        && punct(t.get(j + 4), ')')
        && punct(t.get(j + 5), '.')
        && word(t.get(j + 6), "any");
    if iterated {
        keys
    } else {
        Vec::new()
    }
}

#[test]
fn the_scanner_finds_each_form_of_key_use() {
    let src = r##"
        // s(spec, "in_a_comment")
        fn kind(&self) -> Kind { Kind::Vpc }
        async fn update(&self, spec: &ResourceSpec, current: &Observed) -> Result<Observed> {
            let a = s(spec, "getter")?;
            let n = count_within(spec, "counted", 3)?;
            if changed(spec, current, "compared") {}
            let changed = |key: &str| changed(spec, current, key);
            let name = |x: &str| format!("{x}-1");
            if changed("through_closure") && name("not_a_key") == "" {}
            let _ = spec.props.get("got").and_then(Val::as_str);
            let _ = current.props.contains_key("contained");
            let _ = parent.props.get("of_another_resource");
            if ["one", "two"].iter().any(|k| changed(spec, current, k)) {}
            let listed = ["not", "iterated"];
            let o = Observed::new("id", Kind::Vpc, "p").prop("reported", Val::Bool(true));
            let p = |k: &str| {
                current.props.get(k).and_then(Val::as_str).unwrap_or_default().to_string()
            };
            let _ = p("block_closure");
            let differs = |k: &str| spec.props.get(k) != current.props.get(k);
            if ["three"].into_iter().any(differs) {}
            let raw = r#"s(spec, "in_a_raw_string")"#;
            let list = |k: &str| s.get(k).map(Val::strings);
            let c = 'x';
            let statements = list("of_a_map_not_props");
        }
    "##;
    let tokens = lex(src);
    assert_eq!(kinds_returned(&tokens), vec!["Vpc".to_string()]);
    let keys: Vec<String> = keys_used(&tokens).into_iter().collect();
    assert_eq!(
        keys,
        [
            "block_closure",
            "compared",
            "contained",
            "counted",
            "getter",
            "got",
            "one",
            "reported",
            "three",
            "through_closure",
            "two",
        ]
    );
}
