//! The changes an experiment makes (`Action`) and what puts each back (`Undo`), as the journal
//! records them, with the sentences the dry run and the report say them in.

use super::replication;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One change the experiment makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Cut a zone's subnets off the network, as FIS's `aws:network:disrupt-connectivity` does:
    /// move them onto a new network ACL of the VPC with no rules, which denies all traffic
    /// both ways (a custom ACL has only its catch-all deny until rules are added: Amazon VPC
    /// User Guide, "Network ACLs"). ACLs are stateless, so open connections stop too.
    IsolateSubnets {
        vpc: String,
        zone: String,
        /// subnet id -> the network ACL it is on now, which rollback puts it back on.
        subnets: BTreeMap<String, String>,
    },
    /// Take a zone out of a group's zone list so it cannot launch there.
    RemoveZone {
        group: String,
        zone: String,
        from: Vec<String>,
        to: Vec<String>,
    },
    TerminateInstances {
        instances: Vec<String>,
    },
    StopInstances {
        instances: Vec<String>,
    },
    /// Reboot a Multi-AZ database with failover to its standby.
    FailoverDatabase {
        identifier: String,
        zone: String,
    },
    /// DocumentDB FailoverDBCluster: DocumentDB promotes a replica (the lowest promotion tier)
    /// and the cluster endpoint follows it.
    FailoverDocuments {
        identifier: String,
        /// The writer before, when known.
        writer: String,
    },
    /// Stop tasks of an ECS service; the service should start new ones.
    StopTasks {
        cluster: String,
        service: String,
        tasks: Vec<String>,
    },
    /// ElastiCache TestFailover: the shard's primary is replaced by a replica.
    FailoverCache {
        group: String,
        shard: String,
        /// Where the primary was, when known.
        #[serde(default)]
        zone: Option<String>,
    },
    /// Systems Manager Run Command: run `document` with `parameters` on `instances`. `comment`
    /// marks the command so that rollback can find it.
    SendCommand {
        document: String,
        instances: Vec<String>,
        parameters: BTreeMap<String, Vec<String>>,
        comment: String,
    },
    /// Deny DynamoDB's replication role on a replica (its resource policy) for `seconds`.
    PauseReplication {
        table: String,
        region: String,
        /// The replica's table ARN.
        arn: String,
        seconds: u32,
    },
}

impl Action {
    pub fn describe(&self) -> String {
        match self {
            Action::IsolateSubnets { zone, subnets, .. } => format!(
                "cut {zone} off the network: move subnet{} {} onto a deny-all network ACL",
                if subnets.len() == 1 { "" } else { "s" },
                subnets.keys().cloned().collect::<Vec<_>>().join(" ")
            ),
            Action::RemoveZone {
                group,
                zone,
                from,
                to,
                ..
            } => format!(
                "take {zone} out of group {group}: subnets {} -> {}",
                from.join(","),
                to.join(",")
            ),
            Action::TerminateInstances { instances } => {
                format!("terminate {}", instances.join(" "))
            }
            Action::StopInstances { instances } => format!("stop {}", instances.join(" ")),
            Action::FailoverDatabase { identifier, zone } => {
                format!("reboot database {identifier} with failover (primary in {zone})")
            }
            Action::FailoverDocuments { identifier, writer } => {
                format!("fail document database {identifier} over to a replica (writer {writer})")
            }
            Action::StopTasks { service, tasks, .. } => format!(
                "stop {} task{} of service {service}: {}",
                tasks.len(),
                if tasks.len() == 1 { "" } else { "s" },
                tasks
                    .iter()
                    .map(|t| t.rsplit('/').next().unwrap_or(t))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Action::SendCommand {
                document,
                instances,
                parameters,
                ..
            } => format!(
                "run {document} ({}) on {}",
                parameters
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.join(",")))
                    .collect::<Vec<_>>()
                    .join(" "),
                instances.join(" ")
            ),
            Action::FailoverCache { group, shard, zone } => format!(
                "test failover of cache {group} shard {shard}{}",
                zone.as_ref()
                    .map(|z| format!(" (primary in {z})"))
                    .unwrap_or_default()
            ),
            Action::PauseReplication {
                table,
                region,
                seconds,
                ..
            } => format!(
                "pause replication of table {table} to its replica in {region} for {seconds} s: \
                 its resource policy denies DynamoDB's replication role (the deny expires by \
                 itself {} s after that)",
                replication::EXPIRY_GRACE_SECONDS
            ),
        }
    }

    /// What puts this change back, if anything can.
    pub fn undo(&self) -> Option<Undo> {
        match self {
            Action::IsolateSubnets { vpc, subnets, .. } => Some(Undo::RestoreNetworkAcls {
                vpc: vpc.clone(),
                subnets: subnets.clone(),
            }),
            Action::RemoveZone { group, from, .. } => Some(Undo::RestoreZones {
                group: group.clone(),
                subnets: from.clone(),
            }),
            Action::StopInstances { instances } => Some(Undo::StartInstances {
                instances: instances.clone(),
            }),
            Action::SendCommand {
                document,
                instances,
                comment,
                ..
            } => Some(Undo::CancelCommand {
                document: document.clone(),
                instances: instances.clone(),
                comment: comment.clone(),
            }),
            Action::PauseReplication {
                table, region, arn, ..
            } => Some(Undo::ResumeReplication {
                table: table.clone(),
                region: region.clone(),
                arn: arn.clone(),
            }),
            Action::TerminateInstances { .. }
            | Action::FailoverDatabase { .. }
            | Action::FailoverDocuments { .. }
            | Action::FailoverCache { .. }
            | Action::StopTasks { .. } => None,
        }
    }
}

/// What rollback does, recorded before the change it undoes is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "kebab-case")]
pub enum Undo {
    RestoreZones {
        group: String,
        subnets: Vec<String>,
    },
    StartInstances {
        instances: Vec<String>,
    },
    /// Put each subnet back on its network ACL and delete the deny-all ACL kill-az made
    /// (found by its tag, so this works also when the run died before it learnt the ACL's id).
    RestoreNetworkAcls {
        vpc: String,
        subnets: BTreeMap<String, String>,
    },
    /// Cancel the run's command (found by its comment) wherever it still runs, and see every
    /// invocation end: the AWSFIS documents remove their fault when cancelled.
    CancelCommand {
        document: String,
        instances: Vec<String>,
        comment: String,
    },
    /// Take ftctl's deny (found by its statement id) out of the replica's resource policy,
    /// keeping every other statement, and delete the policy if nothing else is left.
    ResumeReplication {
        table: String,
        region: String,
        arn: String,
    },
}

impl Undo {
    pub fn describe(&self) -> String {
        match self {
            Undo::RestoreZones { group, subnets } => {
                format!("restore group {group} subnets {}", subnets.join(","))
            }
            Undo::StartInstances { instances } => format!("start {}", instances.join(" ")),
            Undo::RestoreNetworkAcls { subnets, .. } => format!(
                "put {} back on their network ACLs ({}) and delete the deny-all ACL",
                subnets.keys().cloned().collect::<Vec<_>>().join(" "),
                subnets
                    .iter()
                    .map(|(s, a)| format!("{s} -> {a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Undo::CancelCommand {
                document,
                instances,
                ..
            } => format!(
                "cancel {document} on {} and see it end",
                instances.join(" ")
            ),
            Undo::ResumeReplication { table, region, .. } => format!(
                "resume replication of table {table} to {region}: take ftctl's deny out of the \
                 replica's resource policy"
            ),
        }
    }
}
