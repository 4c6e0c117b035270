use super::*;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Compare, Schema};

// The other schemas these tests need, declared here: the real ones live with the AWS providers.
use crate::schema::for_tests::{SUBNET, VPC};
static GROUP: Schema = Schema::new(
    Kind::AutoScalingGroup,
    &[Attr::new("subnet_ids"), Attr::new("max_size")],
);
static CACHE: Schema = Schema::new(
    Kind::CacheReplicationGroup,
    &[
        Attr::new("replicas_per_shard"),
        Attr::new("engine_version")
            .create_only()
            .compare(Compare::VersionPrefix),
        Attr::new("zones").create_only().compare(Compare::Superset),
    ],
);

fn schemas(kind: Kind) -> &'static Schema {
    match kind {
        Kind::Vpc => &VPC,
        Kind::Subnet => &SUBNET,
        Kind::AutoScalingGroup => &GROUP,
        Kind::CacheReplicationGroup => &CACHE,
        other => crate::schema::undeclared(other),
    }
}

fn diff(desired: &[ResourceSpec], observed: &[Observed]) -> Result<Plan, GraphError> {
    super::diff(desired, observed, &schemas)
}

fn vpc() -> ResourceSpec {
    ResourceSpec::new("vpc", Kind::Vpc, "dev-vpc").with("cidr_block", Val::str("10.0.0.0/16"))
}

fn subnet(cidr: &str) -> ResourceSpec {
    ResourceSpec::new("subnet", Kind::Subnet, "dev-subnet")
        .with("vpc_id", Val::reference("vpc", "id"))
        .with("cidr_block", Val::str(cidr))
}

fn asg(max: i64) -> ResourceSpec {
    ResourceSpec::new("asg", Kind::AutoScalingGroup, "dev-web")
        .with("subnet_ids", Val::list([Val::reference("subnet", "id")]))
        .with("max_size", Val::Int(max))
}

fn observed_of(spec: &ResourceSpec, physical: &str, resolve: &[(&str, &str)]) -> Observed {
    let mut o = Observed::new(&spec.id, spec.kind, physical);
    o.props = spec
        .props
        .iter()
        .map(|(k, v)| {
            let v = v.resolve(&|r| {
                resolve
                    .iter()
                    .find(|(id, _)| *id == r.id)
                    .map(|(_, p)| p.to_string())
            });
            (k.clone(), v)
        })
        .collect();
    o
}

fn world() -> Vec<Observed> {
    vec![
        observed_of(&vpc(), "vpc-1", &[]),
        observed_of(&subnet("10.0.0.0/24"), "subnet-1", &[("vpc", "vpc-1")]),
        observed_of(&asg(4), "dev-web", &[("subnet", "subnet-1")]),
    ]
}

#[test]
fn nothing_exists_so_everything_is_created() {
    let plan = diff(&[vpc(), subnet("10.0.0.0/24"), asg(4)], &[]).unwrap();
    assert_eq!(
        plan.summary,
        Summary {
            create: 3,
            ..Summary::default()
        }
    );
    let subnet = plan.changes.iter().find(|c| c.id == "subnet").unwrap();
    let vpc_attr = subnet
        .attributes
        .iter()
        .find(|a| a.name == "vpc_id")
        .unwrap();
    assert_eq!(vpc_attr.after, Some(Val::unknown()));
}

#[test]
fn matching_world_plans_nothing() {
    let plan = diff(&[vpc(), subnet("10.0.0.0/24"), asg(4)], &world()).unwrap();
    assert!(plan.is_empty(), "{:?}", plan.changes);
    assert_eq!(plan.unchanged.len(), 3);
}

#[test]
fn changed_max_size_is_one_update_in_place() {
    let plan = diff(&[vpc(), subnet("10.0.0.0/24"), asg(6)], &world()).unwrap();
    assert_eq!(
        plan.summary,
        Summary {
            update: 1,
            ..Summary::default()
        }
    );
    let c = &plan.changes[0];
    assert_eq!((c.id.as_str(), c.action), ("asg", Action::Update));
    assert_eq!(c.attributes.len(), 1);
    assert_eq!(c.attributes[0].before, Some(Val::Int(4)));
    assert_eq!(c.attributes[0].after, Some(Val::Int(6)));
}

#[test]
fn force_new_attribute_replaces_and_cascades() {
    let plan = diff(&[vpc(), subnet("10.0.1.0/24"), asg(4)], &world()).unwrap();
    let action = |id: &str| plan.changes.iter().find(|c| c.id == id).map(|c| c.action);
    assert_eq!(action("subnet"), Some(Action::Replace));
    assert!(
        plan.changes
            .iter()
            .find(|c| c.id == "subnet")
            .unwrap()
            .attributes[0]
            .forces_replacement
    );
    assert_eq!(action("asg"), Some(Action::Replace));
    assert_eq!(action("vpc"), None);
}

#[test]
fn removed_resources_are_deleted() {
    let plan = diff(&[vpc(), subnet("10.0.0.0/24")], &world()).unwrap();
    assert_eq!(
        plan.summary,
        Summary {
            delete: 1,
            ..Summary::default()
        }
    );
    assert_eq!(plan.changes[0].physical_id.as_deref(), Some("dev-web"));
}

#[test]
fn duplicates_left_by_a_crash_are_deleted() {
    let mut observed = world();
    observed.push(observed_of(&vpc(), "vpc-2", &[]));
    let plan = diff(&[vpc(), subnet("10.0.0.0/24"), asg(4)], &observed).unwrap();
    assert_eq!(
        plan.summary,
        Summary {
            delete: 1,
            ..Summary::default()
        }
    );
    assert_eq!(plan.changes[0].physical_id.as_deref(), Some("vpc-2"));
}

#[test]
fn empty_desired_destroys_everything() {
    let plan = diff(&[], &world()).unwrap();
    assert_eq!(plan.summary.delete, 3);
}

fn cache(replicas: Val) -> ResourceSpec {
    ResourceSpec::new("cache", Kind::CacheReplicationGroup, "dev-session")
        .with("replicas_per_shard", replicas)
        .with("engine_version", Val::str("7.1"))
        .with(
            "zones",
            Val::list([Val::str("us-east-1a"), Val::str("us-east-1b")]),
        )
}

#[test]
fn attributes_aws_does_not_report_are_compared_only_when_read() {
    let spec = cache(Val::Int(1));
    let mut seen = observed_of(&spec, "dev-session", &[]);
    seen.props.remove("engine_version");
    assert!(
        diff(std::slice::from_ref(&spec), std::slice::from_ref(&seen))
            .unwrap()
            .is_empty()
    );
    // Read back and different: a change like any other.
    seen.props
        .insert("engine_version".into(), Val::str("6.2.6"));
    let plan = diff(std::slice::from_ref(&spec), &[seen]).unwrap();
    assert_eq!(plan.changes[0].action, Action::Update);
    assert_eq!(plan.changes[0].attributes[0].name, "engine_version");
}

#[test]
fn a_scaled_replica_count_inside_the_range_is_no_change() {
    let range = Val::map([("min", Val::Int(1)), ("max", Val::Int(3))]);
    let spec = cache(range);
    let mut seen = observed_of(&cache(Val::Int(1)), "dev-session", &[]);
    for (have, changes) in [(1, 0), (3, 0), (4, 1), (0, 1)] {
        seen.props
            .insert("replicas_per_shard".into(), Val::Int(have));
        // Auto scaling may also have added a node in a third zone.
        seen.props.insert(
            "zones".into(),
            Val::list([
                Val::str("us-east-1a"),
                Val::str("us-east-1b"),
                Val::str("us-east-1c"),
            ]),
        );
        let plan = diff(std::slice::from_ref(&spec), std::slice::from_ref(&seen)).unwrap();
        assert_eq!(plan.changes.len(), changes, "{have} replicas");
    }
    // Without auto scaling the count is exact.
    seen.props.insert("replicas_per_shard".into(), Val::Int(2));
    let plan = diff(&[cache(Val::Int(1))], &[seen]).unwrap();
    assert_eq!(plan.changes.len(), 1);
}

#[test]
fn deleting_a_protected_resource_is_flagged() {
    let table = ResourceSpec::new("table", Kind::DynamoTable, "dev-orders")
        .with("deletion_protection", Val::Bool(true));
    let seen = vec![
        observed_of(&vpc(), "vpc-1", &[]),
        observed_of(&table, "dev-orders", &[]),
    ];
    let plan = diff(&[], &seen).unwrap();
    let blocked: Vec<&str> = plan
        .protected_deletions(&seen)
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(blocked, vec!["table"]);
    // Protection off (as after an apply that turned it off): nothing is flagged.
    let unprotected = vec![observed_of(
        &table.with("deletion_protection", Val::Bool(false)),
        "dev-orders",
        &[],
    )];
    let plan = diff(&[], &unprotected).unwrap();
    assert!(plan.protected_deletions(&unprotected).is_empty());
}
