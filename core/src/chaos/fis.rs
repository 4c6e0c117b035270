//! The same experiment as an AWS Fault Injection Service experiment template, for teams that
//! want to run it inside AWS. Targets are chosen by the deployment's tags when the experiment
//! starts (not by today's instance ids), and the alarms guarding what it touches are its stop
//! conditions. The JSON is the input of `aws fis create-experiment-template --cli-input-json`.

use super::design::{AzMode, Design, Fault};
use super::Inventory;
use crate::deployment::TAG_DEPLOYMENT;
use serde_json::{json, Map, Value};

/// ISO 8601 duration for FIS parameters, whole seconds.
pub(crate) fn iso_duration(seconds: f64) -> String {
    format!("PT{}S", seconds.ceil().max(1.0) as u64)
}

/// The FIS target for a share of a tier's running instances, chosen by the deployment's and the
/// group's tags when the experiment starts: `COUNT(n)`, `PERCENT(p)`, one by default.
pub(crate) fn tier_instances(
    inv: &Inventory,
    group: &super::Group,
    count: Option<u32>,
    percent: Option<u32>,
) -> Value {
    let selection = match (count, percent) {
        (_, Some(p)) => format!("PERCENT({p})"),
        (Some(c), None) => format!("COUNT({c})"),
        (None, None) => "COUNT(1)".to_string(),
    };
    json!({
        "resourceType": "aws:ec2:instance",
        "resourceTags": { TAG_DEPLOYMENT: inv.env, "aws:autoscaling:groupName": group.name },
        "filters": [{ "path": "State.Name", "values": ["running"] }],
        "selectionMode": selection,
    })
}

pub fn template(
    fault: &Fault,
    design: &Design,
    inv: &Inventory,
    role_arn: &str,
    duration: f64,
    stop_on_arns: &[String],
) -> Value {
    let mut targets = Map::new();
    let mut actions = Map::new();
    match fault {
        Fault::KillInstance { count, percent, .. } => {
            for tier in &design.tiers {
                let Some(group) = inv.groups.iter().find(|g| &g.tier == tier) else {
                    continue;
                };
                let name = format!("{tier}-instances");
                targets.insert(name.clone(), tier_instances(inv, group, *count, *percent));
                actions.insert(
                    format!("terminate-{tier}"),
                    json!({
                        "actionId": "aws:ec2:terminate-instances",
                        "description": format!("Terminate instances of tier {tier}"),
                        "targets": { "Instances": name },
                    }),
                );
            }
        }
        Fault::KillAz { mode, .. } => {
            let zone = design.zone.clone().unwrap_or_default();
            // One target per group: only group members are lost (like the design), never
            // other instances carrying the deployment's tag (EMR nodes).
            let mut zone_targets = Vec::new();
            for group in &inv.groups {
                let name = format!("{}-zone-instances", group.tier);
                targets.insert(
                    name.clone(),
                    json!({
                        "resourceType": "aws:ec2:instance",
                        "resourceTags": {
                            TAG_DEPLOYMENT: inv.env,
                            "aws:autoscaling:groupName": group.name,
                        },
                        "filters": [
                            { "path": "State.Name", "values": ["running"] },
                            { "path": "Placement.AvailabilityZone", "values": [zone] },
                        ],
                        "selectionMode": "ALL",
                    }),
                );
                zone_targets.push((group.tier.clone(), name));
            }
            targets.insert(
                "zone-subnets".into(),
                json!({
                    "resourceType": "aws:ec2:subnet",
                    "resourceTags": { TAG_DEPLOYMENT: inv.env },
                    "filters": [{ "path": "AvailabilityZone", "values": [zone] }],
                    "selectionMode": "ALL",
                }),
            );
            for (tier, target) in zone_targets {
                let instance_action = match mode {
                    AzMode::Terminate => json!({
                        "actionId": "aws:ec2:terminate-instances",
                        "description": format!("Terminate tier {tier}'s instances in {zone}"),
                        "targets": { "Instances": target },
                    }),
                    AzMode::Stop => json!({
                        "actionId": "aws:ec2:stop-instances",
                        "description": format!("Power off tier {tier}'s instances in {zone}"),
                        "parameters": { "startInstancesAfterDuration": iso_duration(duration) },
                        "targets": { "Instances": target },
                    }),
                };
                actions.insert(format!("lose-{tier}-instances"), instance_action);
            }
            // FIS cannot edit a group's zone list; cutting the zone's subnets off the network
            // is how an AZ outage is expressed there.
            actions.insert(
                "isolate-zone".into(),
                json!({
                    "actionId": "aws:network:disrupt-connectivity",
                    "description": format!("Cut the deployment's subnets in {zone} off"),
                    "parameters": { "duration": iso_duration(duration), "scope": "all" },
                    "targets": { "Subnets": "zone-subnets" },
                }),
            );
        }
        Fault::RdsFailover { .. } | Fault::CacheFailover { .. } | Fault::KillTask { .. } => {}
        Fault::Latency { .. } | Fault::PacketLoss { .. } | Fault::CpuStress { .. } => {
            super::design::gray::fis(fault, design, inv, &mut targets, &mut actions)
        }
        Fault::PauseReplication { .. } => {
            super::design::replication::fis(design, duration, &mut targets, &mut actions)
        }
    }
    let databases = design.failover_databases();
    if !databases.is_empty() {
        targets.insert(
            "databases".into(),
            json!({
                "resourceType": "aws:rds:db",
                "resourceTags": { TAG_DEPLOYMENT: inv.env },
                "filters": [{ "path": "DBInstanceIdentifier", "values": databases }],
                "selectionMode": "ALL",
            }),
        );
        actions.insert(
            "failover-databases".into(),
            json!({
                "actionId": "aws:rds:reboot-db-instances",
                "description": "Reboot with failover to the standby",
                "parameters": { "forceFailover": "true" },
                "targets": { "DBInstances": "databases" },
            }),
        );
    }
    let mut stops: Vec<Value> = Vec::new();
    let mut guard_arns: Vec<String> = design
        .tiers
        .iter()
        .flat_map(|t| inv.tier_alarms(t))
        .map(|a| a.arn.clone())
        .collect();
    guard_arns.extend(stop_on_arns.iter().cloned());
    guard_arns.retain(|a| !a.is_empty());
    guard_arns.sort();
    guard_arns.dedup();
    for arn in guard_arns {
        stops.push(json!({ "source": "aws:cloudwatch:alarm", "value": arn }));
    }
    if stops.is_empty() {
        stops.push(json!({ "source": "none" }));
    }
    json!({
        "description": format!("ftctl {} on {}: {}", design.experiment, inv.env, design.summary),
        "roleArn": role_arn,
        "targets": targets,
        "actions": actions,
        "stopConditions": stops,
        "tags": { TAG_DEPLOYMENT: inv.env, "Name": format!("{}-{}", inv.env, design.experiment) },
    })
}
