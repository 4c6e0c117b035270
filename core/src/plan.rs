//! Desired vs observed → the changes that make AWS match the stack. Pure and deterministic.

use crate::graph::{creation_order, GraphError};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::Schemas;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AttrChange {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Val>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Val>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub id: String,
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttrChange>,
    /// Why, when it is not evident from the attributes (e.g. a dependency is replaced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Every change, no-ops excluded, in logical-id order.
    pub changes: Vec<Change>,
    pub summary: Summary,
    /// Logical ids that need nothing.
    #[serde(skip)]
    pub unchanged: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Changes that would delete (or replace) a resource whose deletion protection is on, as
    /// AWS reports it now. Applying them would fail half-way: they are refused up front.
    pub fn protected_deletions<'a>(&'a self, observed: &[Observed]) -> Vec<&'a Change> {
        self.changes
            .iter()
            .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
            .filter(|c| {
                observed.iter().any(|o| {
                    Some(&o.physical_id) == c.physical_id.as_ref()
                        && o.id == c.id
                        && o.props.get("deletion_protection") == Some(&Val::Bool(true))
                })
            })
            .collect()
    }
}

/// Computes the plan. `observed` may contain several resources with one logical id (left over by
/// an interrupted run): the first by physical id is kept, the others are deleted. `schemas` says,
/// per kind, which attribute changes replace and how values compare.
pub fn diff(
    desired: &[ResourceSpec],
    observed: &[Observed],
    schemas: Schemas<'_>,
) -> Result<Plan, GraphError> {
    let order = creation_order(desired)?;
    let specs: HashMap<&str, &ResourceSpec> = desired.iter().map(|s| (s.id.as_str(), s)).collect();

    let mut sorted_observed: Vec<&Observed> = observed.iter().collect();
    sorted_observed.sort_by(|a, b| (&a.id, &a.physical_id).cmp(&(&b.id, &b.physical_id)));
    let mut current: HashMap<&str, &Observed> = HashMap::new();
    let mut changes = Vec::new();
    for o in sorted_observed {
        if current.contains_key(o.id.as_str()) || !specs.contains_key(o.id.as_str()) {
            let duplicate = current.contains_key(o.id.as_str());
            changes.push(Change {
                id: o.id.clone(),
                kind: o.kind,
                name: o.name.clone(),
                action: Action::Delete,
                physical_id: Some(o.physical_id.clone()),
                attributes: Vec::new(),
                reason: if duplicate {
                    Some(
                        "a duplicate of the same logical resource, left by an interrupted run"
                            .into(),
                    )
                } else if desired.is_empty() {
                    None // destroying the whole deployment: no need to say why each goes
                } else {
                    Some("no longer in the stack".into())
                },
            });
        } else {
            current.insert(&o.id, o);
        }
    }

    let mut pending: HashSet<String> = HashSet::new(); // created or replaced: outputs unknown
    let mut unchanged = Vec::new();
    for id in &order {
        let spec = specs[id.as_str()];
        let Some(obs) = current.get(id.as_str()) else {
            pending.insert(id.clone());
            changes.push(Change {
                id: id.clone(),
                kind: spec.kind,
                name: spec.name.clone(),
                action: Action::Create,
                physical_id: None,
                attributes: spec
                    .props
                    .iter()
                    .map(|(k, v)| AttrChange {
                        name: k.clone(),
                        before: None,
                        after: Some(resolve(v, &current, &pending)),
                        forces_replacement: false,
                    })
                    .collect(),
                reason: None,
            });
            continue;
        };
        let schema = schemas(spec.kind);
        let mut attributes = Vec::new();
        for (key, want) in &spec.props {
            let want = resolve(want, &current, &pending);
            let have = obs.props.get(key);
            if have.is_none() && schema.create_only(key) {
                continue;
            }
            let same = have.is_some_and(|h| schema.equivalent(key, &want, h));
            if !same {
                attributes.push(AttrChange {
                    name: key.clone(),
                    before: have.cloned(),
                    after: Some(want),
                    forces_replacement: schema.replaces(key),
                });
            }
        }
        let replaced_dep = spec
            .deps()
            .into_iter()
            .find(|d| pending.contains(d) && current.contains_key(d.as_str()));
        let action = if attributes.iter().any(|a| a.forces_replacement) {
            Action::Replace
        } else if replaced_dep.is_some() {
            // The old dependency must go before its replacement is made, and it cannot go while
            // this resource still uses it: replace this one too.
            Action::Replace
        } else if attributes.is_empty() {
            Action::NoOp
        } else {
            Action::Update
        };
        if action == Action::NoOp {
            unchanged.push(id.clone());
            continue;
        }
        if action == Action::Replace {
            pending.insert(id.clone());
        }
        let reason = replaced_dep
            .filter(|_| action == Action::Replace)
            .map(|d| format!("depends on {d}, which is replaced"))
            .or_else(|| {
                attributes.iter().find_map(|a| {
                    crate::resource::update_note(
                        spec.kind,
                        &a.name,
                        a.before.as_ref(),
                        a.after.as_ref()?,
                    )
                })
            });
        changes.push(Change {
            id: id.clone(),
            kind: spec.kind,
            name: spec.name.clone(),
            action,
            physical_id: Some(obs.physical_id.clone()),
            attributes,
            reason,
        });
    }
    changes.sort_by(|a, b| a.id.cmp(&b.id).then(a.action.cmp(&b.action)));
    let mut summary = Summary::default();
    for c in &changes {
        match c.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Replace => summary.replace += 1,
            Action::Delete => summary.delete += 1,
            Action::NoOp => {}
        }
    }
    Ok(Plan {
        changes,
        summary,
        unchanged,
    })
}

/// A desired value with references replaced by what AWS holds now; references to resources
/// still to be created (or replaced) are unknown.
fn resolve(v: &Val, current: &HashMap<&str, &Observed>, pending: &HashSet<String>) -> Val {
    v.resolve(&|r| {
        if pending.contains(&r.id) {
            return None;
        }
        current
            .get(r.id.as_str())
            .and_then(|o| o.outputs.get(&r.attr).cloned())
    })
}

/// Counts by action, for the one-line summary.
pub fn summary_line(summary: &Summary) -> String {
    format!(
        "{} to add, {} to change, {} to replace, {} to destroy.",
        summary.create, summary.update, summary.replace, summary.delete
    )
}

#[cfg(test)]
mod tests;
