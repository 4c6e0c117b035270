//! Saved plans (`plan --out`, `apply PLAN.json`): the desired resources as planned, the changes,
//! and a fingerprint of what was observed, so a later apply does exactly what was reviewed or
//! nothing. Pure: building, reading and comparing plan files does no I/O beyond the caller's.

use crate::component::objectives::Objective;
use crate::plan::Plan;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Marks a JSON file as an ftctl plan; `VERSION` changes when the format does.
pub const FORMAT: &str = "ftctl-plan";
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub format: String,
    pub version: u32,
    /// The ftctl that made it, for people; not checked.
    pub ftctl_version: String,
    pub created: String,
    pub deployment: String,
    pub stack: SavedStack,
    pub region: String,
    /// Resolved stack inputs only (`--var` settings); no environment value is ever written.
    pub vars: Vec<String>,
    pub desired: Vec<SavedSpec>,
    /// The changes as `plan --json` shows them, for people and tools.
    pub changes: serde_json::Value,
    /// sha256 of the changes as computed at plan time (see `plan_digest`).
    pub plan_digest: String,
    pub observed: Fingerprint,
    /// The stack's resilience objectives, resolved: recorded with the configuration when the
    /// plan is applied (plans saved before objectives existed have none).
    #[serde(default, skip_serializing_if = "Objective::is_empty")]
    pub objectives: Objective,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub component_objectives: BTreeMap<String, Objective>,
    /// The stack's `[retention]`, which the evidence bucket's lifecycle follows when the plan
    /// is applied (plans saved before it existed have none: the bucket is left as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::stack::Retention>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedStack {
    pub name: String,
    /// The file named on the command line, then the ones it extends.
    pub files: Vec<String>,
}

/// A `ResourceSpec` in the file. Values are tagged (`Val` serialises untagged for display, where
/// a reference and a map look alike).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSpec {
    pub id: String,
    pub kind: Kind,
    pub name: String,
    pub props: BTreeMap<String, Stored>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub extra_deps: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Stored {
    Bool(bool),
    Int(i64),
    /// As text: JSON readers may round a float; Rust prints the shortest exact form.
    Float(String),
    Str(String),
    List(Vec<Stored>),
    Map(BTreeMap<String, Stored>),
    Ref {
        id: String,
        attr: String,
    },
    Unknown(bool),
}

impl Stored {
    pub fn from_val(v: &Val) -> Stored {
        match v {
            Val::Bool(b) => Stored::Bool(*b),
            Val::Int(i) => Stored::Int(*i),
            Val::Float(f) => Stored::Float(f.to_string()),
            Val::Str(s) => Stored::Str(s.clone()),
            Val::List(l) => Stored::List(l.iter().map(Stored::from_val).collect()),
            Val::Map(m) => Stored::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Stored::from_val(v)))
                    .collect(),
            ),
            Val::Ref(r) => Stored::Ref {
                id: r.id.clone(),
                attr: r.attr.clone(),
            },
            Val::Unknown(_) => Stored::Unknown(true),
        }
    }

    pub fn to_val(&self) -> Result<Val, String> {
        Ok(match self {
            Stored::Bool(b) => Val::Bool(*b),
            Stored::Int(i) => Val::Int(*i),
            Stored::Float(f) => Val::Float(
                f.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| format!("`{f}` is not a number"))?,
            ),
            Stored::Str(s) => Val::Str(s.clone()),
            Stored::List(l) => Val::List(l.iter().map(Stored::to_val).collect::<Result<_, _>>()?),
            Stored::Map(m) => Val::Map(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_val()?)))
                    .collect::<Result<_, String>>()?,
            ),
            Stored::Ref { id, attr } => Val::reference(id.clone(), attr.clone()),
            Stored::Unknown(_) => Val::unknown(),
        })
    }
}

impl SavedSpec {
    pub fn from_spec(s: &ResourceSpec) -> SavedSpec {
        SavedSpec {
            id: s.id.clone(),
            kind: s.kind,
            name: s.name.clone(),
            props: s
                .props
                .iter()
                .map(|(k, v)| (k.clone(), Stored::from_val(v)))
                .collect(),
            extra_deps: s.extra_deps.clone(),
        }
    }

    pub fn to_spec(&self) -> Result<ResourceSpec, String> {
        let mut spec = ResourceSpec::new(&self.id, self.kind, &self.name);
        for (k, v) in &self.props {
            let val = v
                .to_val()
                .map_err(|e| format!("desired {} {k}: {e}", self.id))?;
            spec.props.insert(k.clone(), val);
        }
        spec.extra_deps = self.extra_deps.clone();
        Ok(spec)
    }
}

/// What the plan was computed from: per observed resource, a digest of each attribute the plan
/// compares, and one sha256 over all of them. Attributes the stack does not set are left out, so
/// what AWS changes on its own (timestamps, counts nobody asked for) does not void a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    pub sha256: String,
    pub resources: Vec<ObservedDigest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedDigest {
    pub id: String,
    pub kind: Kind,
    pub physical_id: String,
    pub attributes: BTreeMap<String, String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn json(v: &impl Serialize) -> String {
    // Serialising plain data (strings, numbers, ordered maps) cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

pub fn fingerprint(desired: &[ResourceSpec], observed: &[Observed]) -> Fingerprint {
    let compared: BTreeMap<&str, &ResourceSpec> =
        desired.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut resources: Vec<ObservedDigest> = observed
        .iter()
        .map(|o| ObservedDigest {
            id: o.id.clone(),
            kind: o.kind,
            physical_id: o.physical_id.clone(),
            attributes: compared
                .get(o.id.as_str())
                .map(|spec| {
                    spec.props
                        .keys()
                        .filter_map(|k| {
                            let v = o.props.get(k)?;
                            Some((k.clone(), sha256_hex(json(&Stored::from_val(v)).as_bytes())))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    resources.sort_by(|a, b| (&a.id, &a.physical_id).cmp(&(&b.id, &b.physical_id)));
    Fingerprint {
        sha256: sha256_hex(json(&resources).as_bytes()),
        resources,
    }
}

/// sha256 of the changes in their `plan --json` form: equal plans, equal digests.
pub fn plan_digest(plan: &Plan) -> String {
    sha256_hex(json(&plan.changes).as_bytes())
}

/// How the deployment differs from when the plan was made, one line per resource.
pub fn changed_since(saved: &Fingerprint, now: &Fingerprint) -> Vec<String> {
    let key = |d: &ObservedDigest| (d.id.clone(), d.physical_id.clone());
    let before: BTreeMap<_, &ObservedDigest> =
        saved.resources.iter().map(|d| (key(d), d)).collect();
    let after: BTreeMap<_, &ObservedDigest> = now.resources.iter().map(|d| (key(d), d)).collect();
    let mut out = Vec::new();
    for (k, b) in &before {
        match after.get(k) {
            None => out.push(format!("{} ({} {}): gone", b.id, b.kind, b.physical_id)),
            Some(a) if a.attributes != b.attributes => {
                let names: BTreeSet<&String> =
                    a.attributes.keys().chain(b.attributes.keys()).collect();
                let changed: Vec<&str> = names
                    .into_iter()
                    .filter(|n| a.attributes.get(*n) != b.attributes.get(*n))
                    .map(String::as_str)
                    .collect();
                out.push(format!(
                    "{} ({} {}): {} changed",
                    b.id,
                    b.kind,
                    b.physical_id,
                    changed.join(", ")
                ));
            }
            Some(_) => {}
        }
    }
    for (k, a) in &after {
        if !before.contains_key(k) {
            out.push(format!("{} ({} {}): new", a.id, a.kind, a.physical_id));
        }
    }
    out
}

/// Reads a plan file's text; errors say where (line, column, field) and what is wrong.
pub fn parse(text: &str) -> Result<(SavedPlan, Vec<ResourceSpec>), String> {
    // The format marker first, so a foreign JSON file is named as such rather than by its
    // first unexpected field.
    let head: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("{}:{}: not JSON: {e}", e.line(), e.column()))?;
    match head.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        _ => {
            return Err(format!(
                "not an ftctl plan file (no \"format\": \"{FORMAT}\")"
            ))
        }
    }
    match head.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        other => {
            return Err(format!(
                "plan file version {} is not supported: this ftctl reads version {VERSION}; make the plan again with this ftctl",
                other.map(|v| v.to_string()).unwrap_or_else(|| "(none)".into())
            ))
        }
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let saved: SavedPlan = serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        format!("{}:{}: {}: {inner}", inner.line(), inner.column(), e.path())
    })?;
    let desired = saved
        .desired
        .iter()
        .map(SavedSpec::to_spec)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((saved, desired))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<ResourceSpec> {
        vec![
            ResourceSpec::new("network.vpc", Kind::Vpc, "x-vpc")
                .with("cidr_block", Val::str("10.0.0.0/16")),
            ResourceSpec::new("tier.web.asg", Kind::AutoScalingGroup, "x-web")
                .with("max_size", Val::Int(6))
                .with("threshold", Val::Float(0.1 + 0.2))
                .with(
                    "subnets",
                    Val::list([Val::reference("network.vpc", "id"), Val::unknown()]),
                )
                .with(
                    "range",
                    Val::map([("min", Val::Int(1)), ("max", Val::Int(3))]),
                )
                .after("network.vpc"),
        ]
    }

    fn observed(max: i64) -> Vec<Observed> {
        vec![
            Observed::new("tier.web.asg", Kind::AutoScalingGroup, "x-web")
                .prop("max_size", Val::Int(max))
                .prop("instances", Val::Int(4)),
            Observed::new("network.vpc", Kind::Vpc, "vpc-1")
                .prop("cidr_block", Val::str("10.0.0.0/16")),
        ]
    }

    #[test]
    fn specs_survive_the_file_exactly() {
        for spec in specs() {
            let text = serde_json::to_string(&SavedSpec::from_spec(&spec)).unwrap();
            let back: SavedSpec = serde_json::from_str(&text).unwrap();
            let back = back.to_spec().unwrap();
            assert_eq!(back.props, spec.props, "{text}");
            assert_eq!(back.extra_deps, spec.extra_deps);
            assert_eq!(
                (back.id, back.kind, back.name),
                (spec.id, spec.kind, spec.name)
            );
        }
    }

    #[test]
    fn fingerprint_is_stable_and_sees_compared_attributes_only() {
        let a = fingerprint(&specs(), &observed(6));
        let mut reordered = observed(6);
        reordered.reverse();
        assert_eq!(a, fingerprint(&specs(), &reordered));
        // An attribute the stack does not set changes nothing.
        let mut other = observed(6);
        other[0].props.insert("instances".into(), Val::Int(5));
        assert_eq!(a, fingerprint(&specs(), &other));
        let b = fingerprint(&specs(), &observed(9));
        assert_ne!(a.sha256, b.sha256);
        assert_eq!(
            changed_since(&a, &b),
            vec!["tier.web.asg (autoscaling group x-web): max_size changed"]
        );
        let c = fingerprint(&specs(), &observed(6)[1..]);
        assert_eq!(
            changed_since(&a, &c),
            vec!["tier.web.asg (autoscaling group x-web): gone"]
        );
        assert_eq!(
            changed_since(&c, &a),
            vec!["tier.web.asg (autoscaling group x-web): new"]
        );
    }

    #[test]
    fn foreign_and_broken_files_are_named() {
        let cases = [
            ("", "not JSON"),
            ("{\"a\": 1", "not JSON"),
            ("[1, 2]", "not an ftctl plan file"),
            ("{\"terraform_version\": \"1.9\"}", "not an ftctl plan file"),
            (
                "{\"format\": \"ftctl-plan\", \"version\": 99}",
                "version 99 is not supported",
            ),
            (
                "{\"format\": \"ftctl-plan\", \"version\": 1}",
                "missing field",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let plan = serde_json::json!({
            "format": FORMAT, "version": VERSION, "ftctl_version": "0", "created": "now",
            "deployment": "d", "stack": { "name": "s", "files": [] }, "region": "r", "vars": [],
            "desired": [{ "id": "a", "kind": "warp_drive", "name": "a", "props": {} }],
            "changes": [], "plan_digest": "", "observed": { "sha256": "", "resources": [] }
        });
        let err = parse(&serde_json::to_string_pretty(&plan).unwrap()).unwrap_err();
        assert!(err.contains("desired[0].kind"), "{err}");
        assert!(err.contains("warp_drive"), "{err}");
    }
}
