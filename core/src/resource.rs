//! The resource model shared by the planner and the AWS providers: what a resource should be
//! (`ResourceSpec`), what AWS says it is (`Observed`), and the attribute values both speak in.
//! Nothing here does I/O.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use crate::kind::Kind;

/// The major version of a database engine version: `8.0` of MySQL's `8.0.39`, `16` of
/// PostgreSQL's `16.3` (PostgreSQL counts majors in the first number from 10 on).
pub fn major_version(version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    let first_is_major = parts[0].parse::<u32>().is_ok_and(|n| n >= 10);
    let n = if first_is_major { 1 } else { 2 };
    parts[..n.min(parts.len())].join(".")
}

/// What a plan should say about an in-place change beyond its attributes: a database engine
/// major version upgrade (RDS refuses it without AllowMajorVersionUpgrade, restarts the
/// database, and cannot undo it).
pub fn update_note(kind: Kind, attr: &str, before: Option<&Val>, after: &Val) -> Option<String> {
    if (kind, attr) == (Kind::DbInstance, "parameter_group_name") {
        // RDS API reference, ModifyDBInstance (DBParameterGroupName): "the DB instance isn't
        // rebooted automatically"; the new group is pending-reboot until then.
        return Some(
            "a new parameter group takes effect at the database's next reboot, which ftctl does \
             not make: reboot it in a quiet hour (aws rds reboot-db-instance)"
                .into(),
        );
    }
    let (Kind::DbInstance, "engine_version", Some(Val::Str(from)), Val::Str(to)) =
        (kind, attr, before, after)
    else {
        return None;
    };
    let (old, new) = (major_version(from), major_version(to));
    (old != new).then(|| {
        format!(
            "a major version upgrade ({old} -> {new}): the database restarts on the new version \
             and cannot be downgraded; snapshot it first (ftctl backup)"
        )
    })
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An attribute value. `Ref` points at an output of another resource in the same deployment
/// (for example the `id` of the VPC) and is resolved when that resource exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Val {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Val>),
    Map(BTreeMap<String, Val>),
    Ref(Ref),
    /// A value that is only known once a dependency has been created or replaced.
    Unknown(UnknownMarker),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Ref {
    #[serde(rename = "ref")]
    pub id: String,
    pub attr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnknownMarker {
    pub unknown: bool,
}

impl Val {
    pub fn str(s: impl Into<String>) -> Val {
        Val::Str(s.into())
    }

    pub fn reference(id: impl Into<String>, attr: impl Into<String>) -> Val {
        Val::Ref(Ref {
            id: id.into(),
            attr: attr.into(),
        })
    }

    pub fn unknown() -> Val {
        Val::Unknown(UnknownMarker { unknown: true })
    }

    pub fn list<I: IntoIterator<Item = Val>>(items: I) -> Val {
        Val::List(items.into_iter().collect())
    }

    pub fn map<I: IntoIterator<Item = (K, Val)>, K: Into<String>>(items: I) -> Val {
        Val::Map(items.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Float(f) => Some(*f),
            Val::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> &[Val] {
        match self {
            Val::List(l) => l,
            _ => &[],
        }
    }

    /// The text items of a list (other items and non-lists give nothing).
    pub fn strings(&self) -> Vec<String> {
        self.as_list()
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    }

    /// A count range `{ min, max }` (what a scaler may move a count within).
    pub fn range(&self) -> Option<(i64, i64)> {
        let m = self.as_map()?;
        if m.len() != 2 {
            return None;
        }
        Some((m.get("min")?.as_i64()?, m.get("max")?.as_i64()?))
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Val>> {
        match self {
            Val::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Every reference inside this value, however deeply nested.
    pub fn refs(&self, out: &mut Vec<Ref>) {
        match self {
            Val::Ref(r) => out.push(r.clone()),
            Val::List(items) => items.iter().for_each(|v| v.refs(out)),
            Val::Map(m) => m.values().for_each(|v| v.refs(out)),
            _ => {}
        }
    }

    /// Replaces references using `lookup`; an unresolvable reference becomes `Unknown`.
    pub fn resolve(&self, lookup: &dyn Fn(&Ref) -> Option<String>) -> Val {
        match self {
            Val::Ref(r) => lookup(r).map(Val::Str).unwrap_or_else(Val::unknown),
            Val::List(items) => Val::List(items.iter().map(|v| v.resolve(lookup)).collect()),
            Val::Map(m) => Val::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.resolve(lookup)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Equality as AWS means it: sets of strings compare without order, floats with tolerance.
    pub fn same_as(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Float(a), Val::Float(b)) => (a - b).abs() < 1e-9,
            (Val::Float(a), Val::Int(b)) | (Val::Int(b), Val::Float(a)) => {
                (a - *b as f64).abs() < 1e-9
            }
            (Val::List(a), Val::List(b)) => {
                if a.len() != b.len() {
                    return false;
                }
                // Lists are sets in every AWS attribute ftctl compares (subnets, rules, actions),
                // so compare them sorted by their rendering.
                let mut x: Vec<String> = a.iter().map(Val::render).collect();
                let mut y: Vec<String> = b.iter().map(Val::render).collect();
                x.sort();
                y.sort();
                x == y
            }
            (Val::Map(a), Val::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.same_as(w)))
            }
            _ => self == other,
        }
    }

    /// A compact, stable, human-readable rendering used in plans.
    pub fn render(&self) -> String {
        match self {
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => {
                if f.fract() == 0.0 {
                    format!("{f:.1}")
                } else {
                    f.to_string()
                }
            }
            Val::Str(s) => format!("{s:?}"),
            Val::List(items) => {
                let mut parts: Vec<String> = items.iter().map(Val::render).collect();
                parts.sort();
                format!("[{}]", parts.join(", "))
            }
            Val::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", v.render()))
                    .collect();
                format!("{{ {} }}", parts.join(", "))
            }
            Val::Ref(r) => format!("${{{}.{}}}", r.id, r.attr),
            Val::Unknown(_) => "(known after apply)".to_string(),
        }
    }
}

pub type Props = BTreeMap<String, Val>;

/// A resource as the stack wants it.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceSpec {
    /// Stable logical id, unique in the deployment, e.g. `tier.web.asg`.
    pub id: String,
    pub kind: Kind,
    /// The AWS name ftctl gives it (also shown as the `Name` tag).
    pub name: String,
    pub props: Props,
    /// Dependencies that are not visible as references in `props`.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub extra_deps: BTreeSet<String>,
}

impl ResourceSpec {
    pub fn new(id: impl Into<String>, kind: Kind, name: impl Into<String>) -> Self {
        ResourceSpec {
            id: id.into(),
            kind,
            name: name.into(),
            props: Props::new(),
            extra_deps: BTreeSet::new(),
        }
    }

    pub fn with(mut self, key: &str, value: Val) -> Self {
        self.props.insert(key.to_string(), value);
        self
    }

    pub fn after(mut self, id: impl Into<String>) -> Self {
        self.extra_deps.insert(id.into());
        self
    }

    /// Logical ids this resource depends on.
    pub fn deps(&self) -> BTreeSet<String> {
        let mut refs = Vec::new();
        for v in self.props.values() {
            v.refs(&mut refs);
        }
        let mut deps: BTreeSet<String> = refs.into_iter().map(|r| r.id).collect();
        deps.extend(self.extra_deps.iter().cloned());
        deps
    }
}

/// A resource as AWS reports it, found through the deployment's ownership tags.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    pub id: String,
    pub kind: Kind,
    /// The identifier AWS uses for it (vpc-..., an ARN, a name).
    pub physical_id: String,
    pub name: String,
    /// The stack that last applied it (from its tag).
    pub stack: String,
    pub props: Props,
    /// Values other resources may reference: always `id`, plus `arn`, `dns_name`, ...
    pub outputs: BTreeMap<String, String>,
}

impl Observed {
    pub fn new(id: &str, kind: Kind, physical_id: &str) -> Self {
        let mut outputs = BTreeMap::new();
        outputs.insert("id".to_string(), physical_id.to_string());
        Observed {
            id: id.to_string(),
            kind,
            physical_id: physical_id.to_string(),
            name: String::new(),
            stack: String::new(),
            props: Props::new(),
            outputs,
        }
    }

    pub fn output(mut self, key: &str, value: impl Into<String>) -> Self {
        self.outputs.insert(key.to_string(), value.into());
        self
    }

    pub fn prop(mut self, key: &str, value: Val) -> Self {
        self.props.insert(key.to_string(), value);
        self
    }
}

/// The stacks that applied a deployment's resources, as one label: `stage2`, or
/// `stage1+stage2` when a later stage added to resources an earlier one made (unchanged
/// resources keep the tag of the stack that made them).
pub fn stacks_label(observed: &[Observed]) -> String {
    let stacks: BTreeSet<&str> = observed
        .iter()
        .map(|o| o.stack.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    stacks.into_iter().collect::<Vec<_>>().join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_named_together() {
        let mut a = Observed::new("a", Kind::Vpc, "vpc-1");
        a.stack = "stage1".into();
        let mut b = Observed::new("b", Kind::DynamoTable, "t");
        b.stack = "stage2".into();
        assert_eq!(stacks_label(&[b.clone(), a.clone(), a]), "stage1+stage2");
        assert_eq!(stacks_label(&[b]), "stage2");
        assert_eq!(stacks_label(&[]), "");
    }

    #[test]
    fn lists_compare_as_sets() {
        let a = Val::list([Val::str("b"), Val::str("a")]);
        let b = Val::list([Val::str("a"), Val::str("b")]);
        assert!(a.same_as(&b));
        assert!(!a.same_as(&Val::list([Val::str("a")])));
    }

    #[test]
    fn deps_come_from_nested_refs() {
        let spec = ResourceSpec::new("x", Kind::Subnet, "x")
            .with(
                "rules",
                Val::list([Val::map([("from", Val::reference("sg.a", "id"))])]),
            )
            .with("vpc_id", Val::reference("vpc", "id"))
            .after("igw");
        let deps: Vec<String> = spec.deps().into_iter().collect();
        assert_eq!(deps, vec!["igw", "sg.a", "vpc"]);
    }

    #[test]
    fn unresolved_refs_become_unknown() {
        let v = Val::list([Val::reference("a", "id"), Val::reference("b", "id")]);
        let resolved = v.resolve(&|r| (r.id == "a").then(|| "vpc-1".to_string()));
        assert_eq!(resolved.as_list()[0], Val::str("vpc-1"));
        assert_eq!(resolved.as_list()[1], Val::unknown());
    }
}
