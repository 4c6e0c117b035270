//! Dependency graphs: of the desired resources (from references in their attributes) and of the
//! observed ones (from the AWS identifiers one resource's attributes mention of another).

use crate::resource::{Observed, ResourceSpec, Val};
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GraphError {
    #[error("{from} refers to {to}, which the stack does not define")]
    UnknownReference { from: String, to: String },
    #[error("dependency cycle through {0}")]
    Cycle(String),
    #[error("logical id {0} is defined twice")]
    Duplicate(String),
}

/// Logical ids in an order where every resource comes after what it depends on.
/// Ties are broken by id so the order is stable from run to run.
pub fn creation_order(specs: &[ResourceSpec]) -> Result<Vec<String>, GraphError> {
    let mut index: HashMap<&str, NodeIndex> = HashMap::new();
    let mut graph: DiGraph<&str, ()> = DiGraph::new();
    let mut sorted: Vec<&ResourceSpec> = specs.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for spec in &sorted {
        if index.contains_key(spec.id.as_str()) {
            return Err(GraphError::Duplicate(spec.id.clone()));
        }
        index.insert(&spec.id, graph.add_node(&spec.id));
    }
    for spec in &sorted {
        for dep in spec.deps() {
            let Some(&from) = index.get(dep.as_str()) else {
                return Err(GraphError::UnknownReference {
                    from: spec.id.clone(),
                    to: dep,
                });
            };
            graph.add_edge(from, index[spec.id.as_str()], ());
        }
    }
    toposort(&graph, None)
        .map(|order| order.into_iter().map(|n| graph[n].to_string()).collect())
        .map_err(|cycle| GraphError::Cycle(graph[cycle.node_id()].to_string()))
}

/// For each observed resource (by physical id), the physical ids of the observed resources it
/// depends on: those whose identifier or ARN appears among its attributes. Needs no stack file,
/// so `destroy` can order deletions.
pub fn observed_dependencies(observed: &[Observed]) -> HashMap<String, BTreeSet<String>> {
    let mut owner_of: HashMap<&str, &str> = HashMap::new();
    for o in observed {
        // Physical ids are identifiers too (an Auto Scaling group is known by its name).
        owner_of.insert(o.physical_id.as_str(), o.physical_id.as_str());
        for (key, value) in &o.outputs {
            if key == "id" || key == "arn" || key == "allocation_id" {
                owner_of.insert(value.as_str(), o.physical_id.as_str());
            }
        }
    }
    let mut deps: HashMap<String, BTreeSet<String>> = observed
        .iter()
        .map(|o| {
            let mut strings = Vec::new();
            for v in o.props.values() {
                collect_strings(v, &mut strings);
            }
            let deps = strings
                .iter()
                .filter_map(|s| owner_of.get(s.as_str()))
                .filter(|dep| **dep != o.physical_id)
                .map(|dep| dep.to_string())
                .collect();
            (o.physical_id.clone(), deps)
        })
        .collect();
    // Resources that mention each other (security groups whose rules name one another, as
    // EMR's managed groups do) are peers, not one before the other: no order among them, or
    // none of them would ever be deleted. Their providers cope with the other still existing.
    let mut graph: petgraph::graphmap::DiGraphMap<&str, (), std::hash::RandomState> =
        petgraph::graphmap::DiGraphMap::default();
    for (user, used) in &deps {
        graph.add_node(user.as_str());
        for u in used {
            graph.add_edge(user.as_str(), u.as_str(), ());
        }
    }
    let peers: Vec<BTreeSet<String>> = petgraph::algo::tarjan_scc(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| c.into_iter().map(str::to_string).collect())
        .collect();
    for group in peers {
        for member in &group {
            if let Some(used) = deps.get_mut(member) {
                used.retain(|u| !group.contains(u));
            }
        }
    }
    deps
}

fn collect_strings(v: &Val, out: &mut Vec<String>) {
    match v {
        Val::Str(s) => out.push(s.clone()),
        Val::List(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Val::Map(m) => m.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Kind;

    fn spec(id: &str, deps: &[&str]) -> ResourceSpec {
        let mut s = ResourceSpec::new(id, Kind::Subnet, id);
        for (i, d) in deps.iter().enumerate() {
            s = s.with(&format!("r{i}"), Val::reference(*d, "id"));
        }
        s
    }

    #[test]
    fn dependencies_come_first() {
        let specs = vec![
            spec("asg", &["lt", "subnet"]),
            spec("lt", &["sg"]),
            spec("sg", &["vpc"]),
            spec("subnet", &["vpc"]),
            spec("vpc", &[]),
        ];
        let order = creation_order(&specs).unwrap();
        let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
        assert!(pos("vpc") < pos("sg"));
        assert!(pos("sg") < pos("lt"));
        assert!(pos("lt") < pos("asg"));
        assert!(pos("subnet") < pos("asg"));
    }

    #[test]
    fn cycles_are_errors() {
        let specs = vec![spec("a", &["b"]), spec("b", &["c"]), spec("c", &["a"])];
        assert!(matches!(creation_order(&specs), Err(GraphError::Cycle(_))));
    }

    #[test]
    fn unknown_references_are_errors() {
        let err = creation_order(&[spec("a", &["ghost"])]).unwrap_err();
        assert_eq!(
            err,
            GraphError::UnknownReference {
                from: "a".into(),
                to: "ghost".into()
            }
        );
    }

    #[test]
    fn duplicates_are_errors() {
        let err = creation_order(&[spec("a", &[]), spec("a", &[])]).unwrap_err();
        assert_eq!(err, GraphError::Duplicate("a".into()));
    }

    #[test]
    fn observed_dependencies_follow_identifiers() {
        let vpc = Observed::new("vpc", Kind::Vpc, "vpc-1");
        let subnet =
            Observed::new("subnet", Kind::Subnet, "subnet-1").prop("vpc_id", Val::str("vpc-1"));
        let asg = Observed::new("asg", Kind::AutoScalingGroup, "web")
            .prop("subnet_ids", Val::list([Val::str("subnet-1")]));
        let deps = observed_dependencies(&[vpc, subnet, asg]);
        assert!(deps["web"].contains("subnet-1"));
        assert!(deps["subnet-1"].contains("vpc-1"));
        assert!(deps["vpc-1"].is_empty());
    }

    #[test]
    fn what_names_a_group_by_its_name_goes_before_it() {
        // The X-Ray group of a tier marks the tier's Auto Scaling group (known by its name): it
        // must be deleted first, not at the same time as the group it marks.
        let asg = Observed::new("tier.app.asg", Kind::AutoScalingGroup, "dev-app");
        let xray = Observed::new(
            "tier.app.xray-group",
            Kind::TracingGroup,
            "arn:xray:dev-app",
        )
        .prop("asg_name", Val::str("dev-app"));
        let deps = observed_dependencies(&[asg, xray]);
        assert!(deps["arn:xray:dev-app"].contains("dev-app"), "{deps:?}");
        assert!(deps["dev-app"].is_empty(), "{deps:?}");
    }

    #[test]
    fn resources_that_mention_each_other_are_peers() {
        let vpc = Observed::new("vpc", Kind::Vpc, "vpc-1").output("id", "vpc-1");
        let rule = |from: &str| Val::list([Val::map([("source", Val::str(from))])]);
        let group = |id: &str, other: &str| {
            Observed::new(id, Kind::SecurityGroup, id)
                .prop("vpc_id", Val::str("vpc-1"))
                .prop("ingress", rule(other))
                .output("id", id)
        };
        let deps = observed_dependencies(&[
            vpc,
            group("sg-master", "sg-core"),
            group("sg-core", "sg-master"),
            group("sg-web", "sg-master"),
        ]);
        assert_eq!(deps["sg-master"], BTreeSet::from(["vpc-1".to_string()]));
        assert_eq!(deps["sg-core"], BTreeSet::from(["vpc-1".to_string()]));
        // Outside the cycle, order stays.
        assert!(deps["sg-web"].contains("sg-master"));
    }
}
