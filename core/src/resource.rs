//! The resource model shared by the planner and the AWS providers: what a resource should be
//! (`ResourceSpec`), what AWS says it is (`Observed`), and the attribute values both speak in.
//! Nothing here does I/O.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use crate::kind::Kind;

impl Kind {
    /// Attributes whose change cannot be applied in place: the resource must be replaced.
    /// Every other attribute is updated in place by the provider.
    pub fn replaced_on(self) -> &'static [&'static str] {
        match self {
            Kind::Vpc => &["cidr_block"],
            Kind::Subnet => &["vpc_id", "cidr_block", "availability_zone"],
            Kind::InternetGateway => &[],
            Kind::ElasticIp => &[],
            Kind::NatGateway => &["subnet_id", "allocation_id"],
            Kind::RouteTable => &["vpc_id"],
            Kind::NetworkAcl => &["vpc_id"],
            Kind::VpcEndpoint => &["type", "vpc_id", "service_name"],
            Kind::SecurityGroup => &["vpc_id", "description"],
            Kind::LaunchTemplate => &[],
            Kind::TargetGroup => &["vpc_id", "port", "protocol", "target_type"],
            Kind::LoadBalancer => &["scheme", "type"],
            Kind::Certificate => &["domain_name", "zone_id"],
            Kind::Listener => &["load_balancer_arn"],
            Kind::WebAcl => &[],
            Kind::AutoScalingGroup => &[],
            Kind::DbSubnetGroup => &[],
            // Neither can be changed after creation (RDS API reference, ModifyDBParameterGroup).
            Kind::DbParameterGroup => &["family", "description"],
            Kind::DbInstance => &[
                "engine",
                "storage_encrypted",
                "db_subnet_group_name",
                "master_username",
            ],
            Kind::BackupVault => &[],
            Kind::BackupPlan => &[],
            Kind::KmsKey => &[],
            Kind::SnsTopic => &[],
            Kind::SqsQueue => &[],
            Kind::MetricAlarm => &[],
            Kind::CacheSubnetGroup => &[],
            Kind::CacheReplicationGroup => &[
                "engine",
                "cluster_mode",
                "at_rest_encryption",
                "transit_encryption",
                "port",
                "cache_subnet_group_name",
            ],
            Kind::CacheScaling => &["resource_id"],
            Kind::DynamoTable => &["partition_key", "sort_key"],
            Kind::TableReplica => &["table_name", "region"],
            Kind::IamRole => &[],
            Kind::LogGroup => &[],
            Kind::EcsCluster => &[],
            Kind::TaskDefinition => &[],
            Kind::EcsService => &["cluster_arn", "target_group_arn", "container_name"],
            Kind::ServiceScaling => &["resource_id"],
            Kind::ListenerRule => &["listener_arn"],
            Kind::EfsFileSystem => &["performance_mode", "encrypted"],
            Kind::EfsMountTarget => &["file_system_id", "subnet_id"],
            Kind::EfsAccessPoint => &["file_system_id", "posix_uid", "posix_gid", "root_path"],
            Kind::HostedZone => &["zone_name", "private", "vpc_id"],
            Kind::DnsRecord => &["zone_id", "record_name"],
            Kind::HealthCheck => &["type"],
            Kind::InstanceProfile => &["role_name"],
            Kind::S3Bucket => &[],
            Kind::Trail => &[],
            Kind::Dashboard => &[],
            Kind::TracingGroup => &[],
            Kind::SamplingRule => &[],
            Kind::EmrCluster => &[
                "release_label",
                "applications",
                "master_instance_type",
                "core_instance_type",
                "subnet_id",
                "master_security_group",
                "core_security_group",
                "service_security_group",
                "service_role",
                "instance_profile",
                "log_uri",
            ],
        }
    }

    /// Attributes used when the resource is created that AWS may not report back (ElastiCache
    /// describes engine version, security groups and subnet group per node, not per group). They
    /// are compared when the provider could read them and left alone when it could not.
    pub fn create_only(self) -> &'static [&'static str] {
        match self {
            Kind::CacheReplicationGroup => &[
                "engine_version",
                "security_group_ids",
                "cache_subnet_group_name",
                "initial_replicas",
                // Placement at creation; later nodes go where AWS puts them, and a change in
                // zones must never replace (delete) a cache.
                "zones",
            ],
            Kind::EcsService => &["initial_count"],
            Kind::AutoScalingGroup => &["initial_capacity"],
            // Chosen at creation; ModifyDBInstance cannot change it.
            Kind::DbInstance => &["engine_lifecycle_support"],
            // Route 53 lists a private zone's VPCs only in GetHostedZone.
            Kind::HostedZone => &["vpc_id"],
            // EMR reports instance groups, scaling and idle policies through separate calls
            // that not every endpoint implements; the counts also move with managed scaling.
            Kind::EmrCluster => &[
                "master_instance_type",
                "core_instance_type",
                "core_instance_count",
                "managed_min",
                "managed_max",
                "auto_termination",
            ],
            _ => &[],
        }
    }
}

impl Kind {
    /// Whether an observed value satisfies the wanted one. Mostly equality; a few attributes
    /// are normalised by AWS (a requested engine version `8.0` runs as `8.0.39`).
    pub fn equivalent(self, attr: &str, want: &Val, have: &Val) -> bool {
        match (self, attr, want, have) {
            (
                Kind::DbInstance | Kind::CacheReplicationGroup,
                "engine_version",
                Val::Str(w),
                Val::Str(h),
            ) => h == w || h.starts_with(&format!("{w}.")),
            // With auto scaling on, the stack gives the range the scaler may move a count in
            // (cache replicas, service tasks): any count inside it is what the stack wants.
            (_, _, Val::Map(_), Val::Int(h)) if want.range().is_some() => {
                want.range().is_some_and(|(lo, hi)| (lo..=hi).contains(h))
            }
            // Instance types in order of preference (a `prioritized` mixed instances policy):
            // the order is the setting, unlike the other lists, which are sets.
            (Kind::AutoScalingGroup, "mixed_instance_types", Val::List(w), Val::List(h)) => {
                w.len() == h.len() && w.iter().zip(h).all(|(a, b)| a.same_as(b))
            }
            (Kind::DnsRecord, "alias_dns_name", Val::Str(w), Val::Str(h)) => {
                same_alias_target(w, h)
            }
            // Zones a replication group was placed in: all asked for must be used (auto scaling
            // may add nodes elsewhere).
            (Kind::CacheReplicationGroup, "zones", Val::List(w), Val::List(h)) => {
                w.iter().all(|z| h.contains(z))
            }
            _ => want.same_as(have),
        }
    }
}

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

/// Route 53 answers alias targets with a trailing dot and, for load balancers, a `dualstack.`
/// prefix: the same target either way.
pub fn same_alias_target(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim_end_matches('.')
            .to_lowercase()
            .trim_start_matches("dualstack.")
            .to_string()
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_targets_compare_as_route53_returns_them() {
        assert!(same_alias_target(
            "shop-public-1.us-east-1.elb.amazonaws.com",
            "dualstack.shop-public-1.us-east-1.elb.amazonaws.com."
        ));
        assert!(!same_alias_target(
            "a.elb.amazonaws.com",
            "b.elb.amazonaws.com"
        ));
    }

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
    fn instance_types_compare_in_order_of_preference() {
        let want = Val::list([Val::str("t3.micro"), Val::str("t3a.micro")]);
        let swapped = Val::list([Val::str("t3a.micro"), Val::str("t3.micro")]);
        let g = Kind::AutoScalingGroup;
        assert!(g.equivalent("mixed_instance_types", &want, &want.clone()));
        assert!(!g.equivalent("mixed_instance_types", &want, &swapped));
        // Other lists of the same kind stay sets.
        assert!(g.equivalent("subnet_ids", &want, &swapped));
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
