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
}
