//! Evidence tied to the configuration (issue 18): an experiment's proof holds for the exact
//! configuration of its blast radius — the resources it touched and everything they depend on —
//! and goes stale when any of them changes. This is the pure part: which resources an
//! experiment's actions touched, the blast radius over the planned specs, and its fingerprint, a
//! stable hash of those specs that any change inside the radius changes and nothing outside it
//! does.

use crate::chaos::design::Action;
use crate::resource::{Observed, ResourceSpec};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The logical ids of the deployment's resources an experiment's actions name (by physical id,
/// name or ARN): groups, subnets, databases, caches, services, tables. Instances and tasks are
/// not resources of the stack (their group or service is), so they name nothing here.
pub fn touched(actions: &[Action], observed: &[Observed]) -> BTreeSet<String> {
    let mut by_handle: BTreeMap<&str, &str> = BTreeMap::new();
    for o in observed {
        for handle in [
            Some(o.physical_id.as_str()),
            Some(o.name.as_str()),
            o.outputs.get("arn").map(String::as_str),
        ]
        .into_iter()
        .flatten()
        .filter(|h| !h.is_empty())
        {
            by_handle.insert(handle, o.id.as_str());
        }
    }
    let mut ids = BTreeSet::new();
    for action in actions {
        let mut strings = Vec::new();
        if let Ok(value) = serde_json::to_value(action) {
            leaves(&value, &mut strings);
        }
        for s in strings {
            if let Some(id) = by_handle.get(s.as_str()) {
                ids.insert(id.to_string());
            }
        }
    }
    ids
}

/// Every string in a JSON value, map keys included (kill-az keys its subnets by id).
fn leaves(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                out.push(k.clone());
                leaves(item, out);
            }
        }
        _ => {}
    }
}

/// The touched resources and, transitively, everything they depend on, among `specs`.
pub fn blast_radius(specs: &[ResourceSpec], touched: &BTreeSet<String>) -> BTreeSet<String> {
    let by_id: BTreeMap<&str, &ResourceSpec> = specs.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut radius = BTreeSet::new();
    let mut todo: Vec<String> = touched.iter().cloned().collect();
    while let Some(id) = todo.pop() {
        let Some(spec) = by_id.get(id.as_str()) else {
            continue;
        };
        if radius.insert(id) {
            todo.extend(spec.deps());
        }
    }
    radius
}

/// `sha256:HEX` over the radius's specs in id order, each as canonical JSON (properties are
/// ordered maps, so insertion order never matters). Any attribute of a resource in the radius
/// changes it; resources outside the radius do not.
pub fn fingerprint(specs: &[ResourceSpec], radius: &BTreeSet<String>) -> String {
    let mut inside: Vec<&ResourceSpec> = specs.iter().filter(|s| radius.contains(&s.id)).collect();
    inside.sort_by(|a, b| a.id.cmp(&b.id));
    let mut hash = Sha256::new();
    for spec in inside {
        // A spec always serialises (its values are plain data); the id keeps two specs apart.
        let text = serde_json::to_string(spec).unwrap_or_default();
        hash.update(spec.id.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// One experiment's proof, as kept in the deployment's evidence bucket.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The failure mode: the experiment and its target (`kill-az us-east-1a`).
    pub failure_mode: String,
    pub experiment: String,
    /// The logical ids of the blast radius, and its fingerprint when the run started.
    pub radius: Vec<String>,
    pub fingerprint: String,
    /// `recovered`, `held`, `not-recovered`, ... (the journal's outcome).
    pub outcome: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_after: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_after: Option<f64>,
    pub budget_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    pub ftctl_version: String,
    /// RFC 3339.
    pub at: String,
}

impl Evidence {
    /// Whether the proof still holds for `specs`: the radius's fingerprint is unchanged.
    pub fn holds_for(&self, specs: &[ResourceSpec]) -> bool {
        let radius: BTreeSet<String> = self.radius.iter().cloned().collect();
        fingerprint(specs, &radius) == self.fingerprint
    }

    /// For people: `passed 2026-11-30, recovered in 48 s of 300 s`.
    pub fn describe(&self) -> String {
        let day = self.at.get(..10).unwrap_or(&self.at);
        let how = match self.recovered_after {
            Some(r) => format!("recovered in {r:.0} s of {:.0} s", self.budget_seconds),
            None => self.outcome.clone(),
        };
        format!(
            "{} {day}, {how}",
            if self.passed { "passed" } else { "failed" }
        )
    }
}

/// A proof a change invalidates, and the changed resources in its radius.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stale<'a> {
    pub evidence: &'a Evidence,
    pub changed: Vec<String>,
}

/// The proofs among `evidence` whose blast radius holds a resource in `changed` (what a plan
/// creates, updates, replaces or deletes, or what drifted), newest proof per failure mode only.
pub fn invalidated_by<'a>(changed: &BTreeSet<String>, evidence: &'a [Evidence]) -> Vec<Stale<'a>> {
    let mut latest: BTreeMap<&str, &Evidence> = BTreeMap::new();
    for e in evidence {
        let newer = latest
            .get(e.failure_mode.as_str())
            .is_none_or(|seen| e.at > seen.at);
        if newer {
            latest.insert(&e.failure_mode, e);
        }
    }
    latest
        .into_values()
        .filter_map(|e| {
            let hit: Vec<String> = e
                .radius
                .iter()
                .filter(|id| changed.contains(*id))
                .cloned()
                .collect();
            (!hit.is_empty()).then_some(Stale {
                evidence: e,
                changed: hit,
            })
        })
        .collect()
}

/// The resilience score: the share of the derived failure modes with valid passing evidence,
/// each weighted by the share of the deployment's resources its blast radius covers. With `n`
/// resources and failure modes `m` of radius `r(m)`: `Σ r(m)/n · valid(m) / Σ r(m)/n`, which is
/// `Σ r(m)·valid(m) / Σ r(m)`, from 0 to 1; a deployment with no failure mode scores 0.
pub fn score(modes: &[(usize, bool)]) -> f64 {
    let total: usize = modes.iter().map(|(r, _)| r).sum();
    if total == 0 {
        return 0.0;
    }
    let proven: usize = modes.iter().filter(|(_, ok)| *ok).map(|(r, _)| r).sum();
    proven as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{Kind, Val};

    fn specs() -> Vec<ResourceSpec> {
        vec![
            ResourceSpec::new("vpc", Kind::Vpc, "t-vpc").with("cidr", Val::str("10.0.0.0/16")),
            ResourceSpec::new("subnet.a", Kind::Subnet, "t-a")
                .with("vpc_id", Val::reference("vpc", "id"))
                .with("cidr", Val::str("10.0.1.0/24")),
            ResourceSpec::new("tier.web.asg", Kind::AutoScalingGroup, "t-web")
                .with("subnet_ids", Val::list([Val::reference("subnet.a", "id")]))
                .with("max_size", Val::Int(4)),
            ResourceSpec::new("db.main", Kind::DbInstance, "t-main")
                .with("instance_class", Val::str("db.t4g.micro")),
        ]
    }

    fn web() -> BTreeSet<String> {
        ["tier.web.asg".to_string()].into()
    }

    #[test]
    fn the_radius_is_what_was_touched_and_what_it_depends_on() {
        let r = blast_radius(&specs(), &web());
        assert_eq!(
            r.into_iter().collect::<Vec<_>>(),
            vec!["subnet.a", "tier.web.asg", "vpc"]
        );
    }

    #[test]
    fn the_fingerprint_is_stable_and_follows_only_the_radius() {
        let base = specs();
        let radius = blast_radius(&base, &web());
        let f = fingerprint(&base, &radius);
        assert!(f.starts_with("sha256:") && f.len() == 7 + 64, "{f}");
        // Stable: the same specs in another order, properties inserted in another order.
        let mut shuffled = specs();
        shuffled.reverse();
        assert_eq!(shuffled[2].id, "subnet.a");
        shuffled[2] = ResourceSpec::new("subnet.a", Kind::Subnet, "t-a")
            .with("cidr", Val::str("10.0.1.0/24"))
            .with("vpc_id", Val::reference("vpc", "id"));
        assert_eq!(fingerprint(&shuffled, &radius), f);
        // Any attribute in the radius, even a dependency's, changes it.
        let mut changed = specs();
        changed[0] = changed[0].clone().with("cidr", Val::str("10.1.0.0/16"));
        assert_ne!(fingerprint(&changed, &radius), f);
        let mut bigger = specs();
        bigger[2] = bigger[2].clone().with("max_size", Val::Int(5));
        assert_ne!(fingerprint(&bigger, &radius), f);
        // Outside the radius: the database's class does not touch the web tier's proof.
        let mut db = specs();
        db[3] = db[3]
            .clone()
            .with("instance_class", Val::str("db.r7g.large"));
        assert_eq!(fingerprint(&db, &radius), f);
    }

    #[test]
    fn actions_name_the_resources_they_touch() {
        let observed = vec![
            Observed::new("tier.web.asg", Kind::AutoScalingGroup, "t-web"),
            Observed::new("subnet.a", Kind::Subnet, "subnet-1"),
            Observed::new("db.main", Kind::DbInstance, "t-main"),
        ];
        let actions = vec![
            Action::RemoveZone {
                group: "t-web".into(),
                zone: "az-a".into(),
                from: vec!["subnet-1".into(), "subnet-2".into()],
                to: vec!["subnet-2".into()],
            },
            Action::TerminateInstances {
                instances: vec!["i-1".into()],
            },
        ];
        assert_eq!(
            touched(&actions, &observed).into_iter().collect::<Vec<_>>(),
            vec!["subnet.a", "tier.web.asg"]
        );
    }

    fn proof(mode: &str, radius: &[&str], at: &str) -> Evidence {
        Evidence {
            failure_mode: mode.into(),
            experiment: mode.split(' ').next().unwrap().into(),
            radius: radius.iter().map(|s| s.to_string()).collect(),
            fingerprint: fingerprint(&specs(), &radius.iter().map(|s| s.to_string()).collect()),
            outcome: "recovered".into(),
            passed: true,
            detected_after: Some(1.0),
            recovered_after: Some(48.0),
            budget_seconds: 300.0,
            rpo_seconds: None,
            error_rate: None,
            ftctl_version: "0.1.0".into(),
            at: at.into(),
        }
    }

    #[test]
    fn a_change_in_a_proven_radius_names_the_stale_proof_and_one_outside_does_not() {
        let old = proof(
            "kill-az us-east-1a",
            &["subnet.a", "tier.web.asg", "vpc"],
            "2026-11-29T10:00:00Z",
        );
        let new = proof(
            "kill-az us-east-1a",
            &["subnet.a", "tier.web.asg", "vpc"],
            "2026-11-30T10:00:00Z",
        );
        let db = proof("rds-failover main", &["db.main"], "2026-11-30T11:00:00Z");
        let all = vec![old, new.clone(), db];
        let changed: BTreeSet<String> = ["tier.web.asg".to_string()].into();
        let stale = invalidated_by(&changed, &all);
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert_eq!(stale[0].evidence, &new);
        assert_eq!(stale[0].changed, vec!["tier.web.asg"]);
        assert_eq!(
            new.describe(),
            "passed 2026-11-30, recovered in 48 s of 300 s"
        );
        let elsewhere: BTreeSet<String> = ["alarm.x".to_string()].into();
        assert!(invalidated_by(&elsewhere, &all).is_empty());
        // The fingerprint says the same from the specs alone.
        assert!(new.holds_for(&specs()));
        let mut changed_specs = specs();
        changed_specs[2] = changed_specs[2].clone().with("max_size", Val::Int(9));
        assert!(!new.holds_for(&changed_specs));
    }

    #[test]
    fn the_score_weights_each_proven_mode_by_its_radius() {
        assert_eq!(score(&[]), 0.0);
        assert_eq!(score(&[(3, true), (1, false)]), 0.75);
        assert_eq!(score(&[(3, false), (1, true)]), 0.25);
        assert_eq!(score(&[(2, true), (2, true)]), 1.0);
    }
}
