//! The document databases of a stack (`[documents.NAME]`, Amazon DocumentDB, the MongoDB-compatible
//! choice for stage 2's store): their settings in the stack file, what is checked of them beyond
//! what the types say, the resources they expand into (a security group, a subnet group, a
//! cluster parameter group requiring TLS, the cluster, an instance per zone and their alarms)
//! and their row on the dashboard.

use super::monitoring::{metric, Row};
use super::{alarm, tcp_rule_from_sg, AlarmDef, Component, Cx, TOPIC};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Documents {
    /// DocumentDB's engine version: 5.0.0 (family `docdb5.0`, long-term support).
    #[serde(default = "default_version")]
    pub engine_version: String,
    pub instance_class: String,
    /// Instances, one per zone in turn: the first is the writer, the others are replicas a
    /// failover promotes (at least 2 for one to exist).
    #[serde(default = "default_instances")]
    pub instances: u32,
    #[serde(default = "default_backup_days")]
    pub backup_retention_days: u32,
    #[serde(default = "yes")]
    pub deletion_protection: bool,
    #[serde(default = "default_master_user")]
    pub master_username: String,
    /// Tiers allowed to connect (port 27017).
    #[serde(default)]
    pub allow_from: Vec<String>,
    #[serde(default = "default_cpu")]
    pub cpu_alarm_percent: f64,
    /// Freeable memory of the writer, in MiB, below which it alarms.
    #[serde(default = "default_free_memory")]
    pub free_memory_alarm_mib: u32,
    /// The largest replica lag, in milliseconds, above which it alarms (DocumentDB's is
    /// "usually much less than 100 milliseconds"; DocumentDB Developer Guide, replication).
    #[serde(default = "default_lag")]
    pub replica_lag_alarm_ms: u32,
    #[serde(default = "five_minute_alarm")]
    pub alarm: AlarmPolicy,
}

fn default_version() -> String {
    "5.0.0".into()
}
fn default_instances() -> u32 {
    2
}
fn default_backup_days() -> u32 {
    7
}
fn default_master_user() -> String {
    "ftctladmin".into()
}
fn default_cpu() -> f64 {
    80.0
}
fn default_free_memory() -> u32 {
    256
}
fn default_lag() -> u32 {
    1000
}

/// DocumentDB's port (CreateDBCluster, Port: default 27017).
pub const DOCUMENTS_PORT: u16 = 27017;
/// The versions ftctl knows the parameter family of (DocumentDB Developer Guide, engine
/// versions; 3.6 left standard support in March 2026).
const VERSIONS: &[(&str, &str)] = &[
    ("4.0.0", "docdb4.0"),
    ("5.0.0", "docdb5.0"),
    ("8.0.0", "docdb8.0"),
];
/// DocumentDB keeps up to 15 replicas beside the writer.
const MAX_INSTANCES: u32 = 16;

/// The parameter family of an engine version, when ftctl knows it.
pub fn family(version: &str) -> Option<&'static str> {
    VERSIONS
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, f)| *f)
}

/// The logical id of document database `name`.
pub fn documents_id(name: &str) -> String {
    format!("docdb.{name}")
}

/// The document databases, their groups, instances and alarms.
pub(crate) struct DocumentDatabases;

impl Component for DocumentDatabases {
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (name, d) in &stack.documents {
            let at = format!("documents.{name}");
            if !valid_component_name(name) {
                bad(
                    at.clone(),
                    "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
                );
            }
            if family(&d.engine_version).is_none() {
                let known: Vec<&str> = VERSIONS.iter().map(|(v, _)| *v).collect();
                bad(
                    format!("{at}.engine_version"),
                    format!(
                        "`{}` is not a DocumentDB version ftctl makes; known: {}",
                        d.engine_version,
                        known.join(", ")
                    ),
                );
            }
            if !d.instance_class.starts_with("db.") {
                bad(
                    format!("{at}.instance_class"),
                    format!(
                        "`{}` is not a DB instance class such as db.r6g.large",
                        d.instance_class
                    ),
                );
            }
            if !(1..=MAX_INSTANCES).contains(&d.instances) {
                bad(
                    format!("{at}.instances"),
                    format!("must be 1 to {MAX_INSTANCES} (a writer and up to 15 replicas)"),
                );
            }
            if !(7..=35).contains(&d.backup_retention_days) {
                bad(
                    format!("{at}.backup_retention_days"),
                    "must be between 7 and 35 days (Security Hub DocumentDB.2 asks a week at least)"
                        .into(),
                );
            }
            // (CreateDBCluster, MasterUsername: 1-63 letters or numbers, a letter first)
            let user = &d.master_username;
            if user.is_empty()
                || user.len() > 63
                || !user.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                || !user.chars().all(|c| c.is_ascii_alphanumeric())
                || ["admin", "root", "serviceadmin"].contains(&user.as_str())
            {
                bad(
                    format!("{at}.master_username"),
                    "1-63 letters or digits, starting with a letter, and not a reserved name"
                        .into(),
                );
            }
            for (i, tier) in d.allow_from.iter().enumerate() {
                if !stack.tiers.contains_key(tier) {
                    bad(
                        format!("{at}.allow_from.{i}"),
                        format!("no tier named `{tier}`"),
                    );
                }
            }
            if !(1.0..=100.0).contains(&d.cpu_alarm_percent) {
                bad(
                    format!("{at}.cpu_alarm_percent"),
                    "must be between 1 and 100".into(),
                );
            }
            check_policy(bad, &format!("{at}.alarm"), d.alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx { stack, env, .. } = *cx;
        for (name, d) in &stack.documents {
            let id = documents_id(name);
            let sg = format!("{id}.sg");
            out.push(
                ResourceSpec::new(
                    &sg,
                    Kind::SecurityGroup,
                    physical_name(env, &format!("{name}-docdb"), 255),
                )
                .with("vpc_id", Val::reference("network.vpc", "id"))
                .with(
                    "description",
                    Val::str(format!("ftctl {env}: document database {name}")),
                )
                .with(
                    "ingress",
                    Val::List(
                        d.allow_from
                            .iter()
                            .map(|t| tcp_rule_from_sg(DOCUMENTS_PORT, &format!("tier.{t}.sg")))
                            .collect(),
                    ),
                ),
            );
            // The same resource as an RDS subnet group (DocumentDB and RDS share the API).
            let subnets = format!("{id}.subnets");
            out.push(
                ResourceSpec::new(
                    &subnets,
                    Kind::DbSubnetGroup,
                    physical_name(env, &format!("{name}-docdb"), 255),
                )
                .with(
                    "description",
                    Val::str(format!(
                        "ftctl {env}: private subnets of document database {name}"
                    )),
                )
                .with(
                    "subnet_ids",
                    Val::list(cx.private_subnets.iter().map(|s| Val::reference(s, "id"))),
                ),
            );
            let family = family(&d.engine_version).unwrap_or("docdb5.0");
            let family_slug = family.replace('.', "-");
            // TLS 1.2 or later required of every client. The default group requires TLS too
            // but cannot be changed, and allows 1.0; the parameter is static, so the group is
            // made before the cluster, whose instances then start with it (DocumentDB Developer
            // Guide, "Encrypting data in transit"). A new family is a new group, like RDS's.
            let params = format!("{id}.params.{family_slug}");
            out.push(
                ResourceSpec::new(
                    &params,
                    Kind::DocdbParameterGroup,
                    physical_name(env, &format!("{name}-{family_slug}"), 255),
                )
                .with("family", Val::str(family))
                .with(
                    "description",
                    Val::str(format!("ftctl {env}: document database {name} ({family})")),
                )
                .with("parameters", Val::map([("tls", Val::str("tls1.2+"))])),
            );
            out.push(
                ResourceSpec::new(&id, Kind::DocdbCluster, physical_name(env, name, 63))
                    .with("engine_version", Val::str(&d.engine_version))
                    .with("master_username", Val::str(&d.master_username))
                    .with("manage_master_user_password", Val::Bool(true))
                    .with("storage_encrypted", Val::Bool(true))
                    .with(
                        "backup_retention_days",
                        Val::Int(d.backup_retention_days.into()),
                    )
                    .with("deletion_protection", Val::Bool(d.deletion_protection))
                    .with("port", Val::Int(DOCUMENTS_PORT.into()))
                    .with("db_subnet_group_name", Val::reference(&subnets, "name"))
                    .with("security_group_ids", Val::list([Val::reference(&sg, "id")]))
                    .with("parameter_group_name", Val::reference(&params, "name")),
            );
            for i in 0..d.instances as usize {
                let zone = &cx.zones[i % cx.zones.len()];
                out.push(
                    ResourceSpec::new(
                        format!("{id}.{i}"),
                        Kind::DocdbInstance,
                        physical_name(env, &format!("{name}-{i}"), 63),
                    )
                    .with("cluster", Val::reference(&id, "name"))
                    .with("instance_class", Val::str(&d.instance_class))
                    .with("availability_zone", Val::str(zone))
                    // Failover promotes the lowest tier first: the replicas in their order.
                    .with("promotion_tier", Val::Int(i.min(15) as i64)),
                );
            }
            // On the cluster's writer, whichever instance it is (the `Role` dimension):
            // an alarm on one instance would watch a replica after a failover.
            let writer = || {
                vec![
                    ("DBClusterIdentifier", Val::reference(&id, "name")),
                    ("Role", Val::str("WRITER")),
                ]
            };
            for def in [
                AlarmDef {
                    id: format!("alarm.{id}.cpu"),
                    name_suffix: format!("{name}-docdb-cpu"),
                    description: format!(
                        "Document database {name}: writer CPU above {}%",
                        d.cpu_alarm_percent
                    ),
                    namespace: "AWS/DocDB",
                    metric: "CPUUtilization",
                    statistic: "Average",
                    dimensions: writer(),
                    comparison: "GreaterThanThreshold",
                    threshold: d.cpu_alarm_percent,
                    policy: d.alarm,
                    missing: "missing",
                },
                AlarmDef {
                    id: format!("alarm.{id}.memory"),
                    name_suffix: format!("{name}-docdb-memory"),
                    description: format!(
                        "Document database {name}: writer freeable memory below {} MiB",
                        d.free_memory_alarm_mib
                    ),
                    namespace: "AWS/DocDB",
                    metric: "FreeableMemory",
                    statistic: "Minimum",
                    dimensions: writer(),
                    comparison: "LessThanThreshold",
                    threshold: f64::from(d.free_memory_alarm_mib) * 1024.0 * 1024.0,
                    policy: d.alarm,
                    missing: "missing",
                },
                AlarmDef {
                    id: format!("alarm.{id}.replica-lag"),
                    name_suffix: format!("{name}-docdb-replica-lag"),
                    description: format!(
                        "Document database {name}: a replica lags over {} ms",
                        d.replica_lag_alarm_ms
                    ),
                    namespace: "AWS/DocDB",
                    metric: "DBClusterReplicaLagMaximum",
                    statistic: "Maximum",
                    dimensions: vec![("DBClusterIdentifier", Val::reference(&id, "name"))],
                    comparison: "GreaterThanThreshold",
                    threshold: d.replica_lag_alarm_ms.into(),
                    policy: d.alarm,
                    // A cluster without replicas has no lag to report.
                    missing: "notBreaching",
                },
            ] {
                out.push(alarm(env, TOPIC, def));
            }
        }
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .documents
            .keys()
            .map(|name| {
                let id = documents_id(name);
                let writer = [
                    ("DBClusterIdentifier", Val::reference(&id, "name")),
                    ("Role", Val::str("WRITER")),
                ];
                let cluster = [("DBClusterIdentifier", Val::reference(&id, "name"))];
                Row::new(
                    cx,
                    format!("Document database {name}"),
                    vec![
                        (
                            "CPU",
                            vec![metric("AWS/DocDB", "CPUUtilization", &writer)],
                            "Average",
                        ),
                        (
                            "Freeable memory",
                            vec![metric("AWS/DocDB", "FreeableMemory", &writer)],
                            "Minimum",
                        ),
                        (
                            "Connections",
                            vec![metric("AWS/DocDB", "DatabaseConnections", &writer)],
                            "Maximum",
                        ),
                        (
                            "Replica lag (ms)",
                            vec![metric("AWS/DocDB", "DBClusterReplicaLagMaximum", &cluster)],
                            "Maximum",
                        ),
                    ],
                )
            })
            .collect()
    }
}
