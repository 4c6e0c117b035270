//! `ftctl graph`: the architecture a stack describes, as a Mermaid flowchart generated from the
//! same expansion `plan` uses, so the picture cannot drift from the stack. Pure: no AWS call
//! (zones are placeholders).

use crate::resource::{Kind, ResourceSpec, Val};
use std::collections::{BTreeMap, BTreeSet};

/// The component a resource belongs to: `tier.web.asg` → `tier.web`, `network.private.0` →
/// `network`, `alarm.tier.web.capacity` → `alarms`.
fn component(id: &str) -> String {
    let parts: Vec<&str> = id.split('.').collect();
    match parts.as_slice() {
        ["alarm", ..] | ["notifications", ..] | ["monitoring", ..] => "alarms".into(),
        ["network", ..] => "network".into(),
        ["ecs", ..] => "ecs".into(),
        ["dns", ..] => "dns".into(),
        ["edge", ..] => "edge".into(),
        ["audit", ..] => "audit".into(),
        ["backup", ..] => "backup".into(),
        [kind, name, ..] => format!("{kind}.{name}"),
        _ => id.to_string(),
    }
}

fn label(component: &str, kinds: &BTreeSet<Kind>) -> String {
    let title = match component.split_once('.') {
        Some(("lb", n)) => format!("load balancer {n}"),
        Some(("tier", n)) => format!("tier {n}"),
        Some(("db", n)) => format!("database {n}"),
        Some(("cache", n)) => format!("cache {n}"),
        Some(("table", n)) => format!("table {n}"),
        Some(("svc", n)) => format!("service {n}"),
        Some(("fs", n)) => format!("file system {n}"),
        Some(("queue", n)) => format!("queue {n}"),
        Some(("docdb", n)) => format!("document database {n}"),
        Some(("emr", n)) => format!("EMR cluster {n}"),
        Some(("logs", "balancers")) => "load balancers' access logs".into(),
        _ => match component {
            "network" => "VPC and subnets".into(),
            "alarms" => "alarms → SNS, dashboard".into(),
            "ecs" => "ECS cluster".into(),
            "dns" => "Route 53".into(),
            "edge" => "CloudFront, maintenance page in S3".into(),
            "audit" => "CloudTrail audit trail".into(),
            "backup" => "AWS Backup of the databases".into(),
            other => other.into(),
        },
    };
    let kinds: Vec<&str> = kinds.iter().map(|k| k.label()).collect();
    format!("{title}<br/><small>{}</small>", kinds.join(", "))
}

fn node_id(component: &str) -> String {
    component.replace(['.', '-'], "_")
}

/// The Mermaid flowchart of `specs`: a node per component, a link where one component's
/// resources refer to another's (the network, which everything uses, and alarms are left out of
/// the edges to keep the picture readable).
pub fn mermaid(title: &str, specs: &[ResourceSpec]) -> String {
    let mut kinds: BTreeMap<String, BTreeSet<Kind>> = BTreeMap::new();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for s in specs {
        let from = component(&s.id);
        kinds.entry(from.clone()).or_default().insert(s.kind);
        for dep in s.deps() {
            let to = component(&dep);
            if to != from && to != "network" && from != "alarms" && to != "alarms" {
                // References run both ways (a listener names its target group, a security
                // group the tier it admits): draw a plain link between the two components.
                let pair = if from < to {
                    (from.clone(), to)
                } else {
                    (to, from.clone())
                };
                edges.insert(pair);
            }
        }
    }
    let mut out = format!("---\ntitle: {title}\n---\nflowchart LR\n");
    out.push_str("  internet((internet))\n");
    for (c, k) in &kinds {
        out.push_str(&format!("  {}[\"{}\"]\n", node_id(c), label(c, k)));
    }
    for lb in kinds.keys().filter(|c| c.starts_with("lb.")) {
        let public = specs.iter().any(|s| {
            s.id == *lb && s.props.get("scheme").and_then(|v| v.as_str()) == Some("internet-facing")
        });
        // Behind CloudFront, the internet arrives through the distribution.
        let fronted = specs.iter().any(|s| {
            s.kind == Kind::Distribution
                && matches!(s.props.get("origin_domain"), Some(Val::Ref(r)) if r.id == *lb)
        });
        if fronted {
            out.push_str("  internet --> edge\n");
        } else if public {
            out.push_str(&format!("  internet --> {}\n", node_id(lb)));
        }
    }
    for (a, b) in &edges {
        out.push_str(&format!("  {} --- {}\n", node_id(a), node_id(b)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::expand;
    use crate::stack::load;
    use std::path::PathBuf;

    fn stage(name: &str) -> Vec<ResourceSpec> {
        let path = PathBuf::from(format!(
            "{}/../stacks/{name}.toml",
            env!("CARGO_MANIFEST_DIR")
        ));
        let stack = load(&path, &[]).unwrap().stack;
        expand(&stack, "dev", "us-east-1", &["az-1".into(), "az-2".into()]).unwrap()
    }

    /// The README shows `ftctl graph stage3`; it must be exactly what the command prints now.
    #[test]
    fn the_readme_diagram_is_current() {
        let specs = stage("stage3");
        let want = mermaid(&format!("stage3 ({} resources)", specs.len()), &specs);
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        let start = readme
            .find("<!-- ftctl graph stage3 -->\n```mermaid\n")
            .expect("the diagram's start marker")
            + "<!-- ftctl graph stage3 -->\n```mermaid\n".len();
        let end = start
            + readme[start..]
                .find("```\n<!-- end of ftctl graph stage3 -->")
                .expect("the diagram's end marker");
        assert_eq!(
            &readme[start..end],
            want,
            "README.md is stale: replace the diagram with `ftctl graph stage3`"
        );
    }

    #[test]
    fn the_picture_follows_the_stack() {
        let one = mermaid("stage1", &stage("stage1"));
        assert!(one.contains("internet --> lb_public"), "{one}");
        assert!(!one.contains("internet --> lb_internal"), "{one}");
        assert!(one.contains("lb_public --- tier_web"), "{one}");
        assert!(one.contains("db_main --- tier_app"), "{one}");
        assert!(!one.contains("svc_api"), "{one}");
        let three = mermaid("stage3", &stage("stage3"));
        for node in [
            "svc_api",
            "fs_shared",
            "emr_analytics",
            "dns",
            "cache_session",
            "table_orders",
        ] {
            assert!(
                three.contains(&format!("  {node}[")),
                "{node} missing:\n{three}"
            );
        }
        assert!(three.contains("fs_shared --- svc_api"), "{three}");
        assert!(three.contains("dns --- lb_public"), "{three}");
    }
}
