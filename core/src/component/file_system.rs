//! The file systems of a stack (EFS file systems): their settings in the stack file, what is
//! checked of them beyond what the types say, the resources they expand into and, where they have
//! metrics worth watching, their rows on the dashboard.

use super::monitoring::{metric, Row};
use super::{alarm, tcp_rule_from_sg, AlarmDef, Component, Cx, TOPIC};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThroughputMode {
    Elastic,
    Bursting,
}

/// An encrypted EFS file system with a mount target in every zone.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSystem {
    #[serde(default = "default_throughput")]
    pub throughput_mode: ThroughputMode,
    /// AWS Backup's daily plan for the file system.
    #[serde(default = "yes")]
    pub backup: bool,
    /// Where the access point roots clients, and the POSIX owner it enforces.
    #[serde(default = "default_ap_path")]
    pub root_path: String,
    #[serde(default = "default_posix_id")]
    pub posix_uid: u32,
    #[serde(default = "default_posix_id")]
    pub posix_gid: u32,
    /// I/O limit use (percent, General Purpose mode) above which it alarms.
    #[serde(default = "default_io_limit")]
    pub io_limit_alarm_percent: f64,
    #[serde(default = "five_minute_alarm")]
    pub alarm: AlarmPolicy,
}

fn default_throughput() -> ThroughputMode {
    ThroughputMode::Elastic
}
fn default_ap_path() -> String {
    "/shared".into()
}
fn default_posix_id() -> u32 {
    1000
}
fn default_io_limit() -> f64 {
    90.0
}

/// The EFS file systems, their mount targets and the services' access points.
pub(crate) struct FileSystems;

impl Component for FileSystems {
    /// Reports each problem of the stack's file systems as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (name, fs) in &stack.file_systems {
            let at = format!("file_systems.{name}");
            if !valid_component_name(name) {
                bad(
                    at.clone(),
                    "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
                );
            }
            if !fs.root_path.starts_with('/') || fs.root_path == "/" {
                bad(
                    format!("{at}.root_path"),
                    "an absolute directory below / (clients are rooted there)".into(),
                );
            }
            if !(1.0..=100.0).contains(&fs.io_limit_alarm_percent) {
                bad(
                    format!("{at}.io_limit_alarm_percent"),
                    "must be between 1 and 100".into(),
                );
            }
            check_policy(bad, &format!("{at}.alarm"), fs.alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx { stack, env, .. } = *cx;
        let (private_ids, topic) = (&cx.private_subnets, TOPIC);
        for (name, fs) in &stack.file_systems {
            let users: Vec<&String> = stack
                .services
                .iter()
                .filter(|(_, s)| s.file_system.as_deref() == Some(name.as_str()))
                .map(|(n, _)| n)
                .collect();
            out.extend(expand_file_system(
                env,
                topic,
                name,
                fs,
                &users,
                private_ids,
            ));
        }
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .file_systems
            .keys()
            .map(|name| {
                let d = [("FileSystemId", Val::reference(format!("fs.{name}"), "id"))];
                let m = |metric_name| metric("AWS/EFS", metric_name, &d);
                Row::new(
                    cx,
                    format!("File system {name}"),
                    vec![
                        ("I/O limit", vec![m("PercentIOLimit")], "Average"),
                        ("Clients", vec![m("ClientConnections")], "Sum"),
                    ],
                )
            })
            .collect()
    }
}

fn expand_file_system(
    env: &str,
    topic: &str,
    name: &str,
    fs: &crate::stack::FileSystem,
    users: &[&String],
    private_ids: &[String],
) -> Vec<ResourceSpec> {
    let id = format!("fs.{name}");
    let sg = format!("fs.{name}.sg");
    let mut out = vec![
        ResourceSpec::new(
            &sg,
            Kind::SecurityGroup,
            physical_name(env, &format!("{name}-fs"), 255),
        )
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with(
            "description",
            Val::str(format!("ftctl {env}: file system {name}")),
        )
        .with(
            "ingress",
            Val::List(
                users
                    .iter()
                    .map(|s| tcp_rule_from_sg(2049, &format!("svc.{s}.sg")))
                    .collect(),
            ),
        ),
        ResourceSpec::new(&id, Kind::EfsFileSystem, physical_name(env, name, 64))
            .with("encrypted", Val::Bool(true))
            .with("performance_mode", Val::str("generalPurpose"))
            .with(
                "throughput_mode",
                Val::str(match fs.throughput_mode {
                    crate::stack::ThroughputMode::Elastic => "elastic",
                    crate::stack::ThroughputMode::Bursting => "bursting",
                }),
            )
            .with("backup", Val::Bool(fs.backup)),
        ResourceSpec::new(
            format!("fs.{name}.ap"),
            Kind::EfsAccessPoint,
            physical_name(env, &format!("{name}-ap"), 255),
        )
        .with("file_system_id", Val::reference(&id, "id"))
        .with("posix_uid", Val::Int(fs.posix_uid.into()))
        .with("posix_gid", Val::Int(fs.posix_gid.into()))
        .with("root_path", Val::str(&fs.root_path)),
    ];
    // A mount target in every zone: a task reaches the file system in its own zone.
    for (i, subnet) in private_ids.iter().enumerate() {
        out.push(
            ResourceSpec::new(
                format!("fs.{name}.mount.{i}"),
                Kind::EfsMountTarget,
                physical_name(env, &format!("{name}-mount-{i}"), 255),
            )
            .with("file_system_id", Val::reference(&id, "id"))
            .with("subnet_id", Val::reference(subnet, "id"))
            .with("security_group_ids", Val::list([Val::reference(&sg, "id")])),
        );
    }
    out.push(alarm(
        env,
        topic,
        AlarmDef {
            id: format!("alarm.fs.{name}.io-limit"),
            name_suffix: format!("{name}-fs-io-limit"),
            description: format!(
                "File system {name}: above {}% of its I/O limit",
                fs.io_limit_alarm_percent
            ),
            namespace: "AWS/EFS",
            metric: "PercentIOLimit",
            statistic: "Average",
            dimensions: vec![("FileSystemId", Val::reference(&id, "id"))],
            comparison: "GreaterThanThreshold",
            threshold: fs.io_limit_alarm_percent,
            policy: fs.alarm,
            missing: "missing",
        },
    ));
    out
}
