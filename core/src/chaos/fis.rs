//! The same experiment as an AWS Fault Injection Service experiment template, for teams that
//! want to run it inside AWS. Targets are chosen by the deployment's tags, or by the service
//! they belong to, when the experiment starts (not by today's instance ids), and the alarms
//! guarding what it touches are its stop conditions. A scenario becomes one template whose
//! later steps wait their turn. The JSON is the input of
//! `aws fis create-experiment-template --cli-input-json`; `model::check` reads it against what
//! FIS accepts. What FIS cannot express of a design is said in the template's description.

pub mod model;
pub mod schedule;
#[cfg(test)]
mod tests;

use super::design::{Action, AzMode, Design, Fault};
use super::scenario::{self, Scenario};
use super::Inventory;
use crate::deployment::TAG_DEPLOYMENT;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// ISO 8601 duration for FIS parameters, whole seconds.
pub(crate) fn iso_duration(seconds: f64) -> String {
    format!("PT{}S", seconds.ceil().max(1.0) as u64)
}

/// A duration for an action parameter that FIS bounds to one minute to 12 hours (FIS Actions
/// reference): outside them it is brought within, and `notes` says so, rather than writing a
/// template FIS refuses.
fn bounded_duration(seconds: f64, what: &str, notes: &mut Vec<String>) -> String {
    let (min, max) = (
        model::MIN_DURATION_SECONDS as f64,
        model::MAX_DURATION_SECONDS as f64,
    );
    let s = if seconds.is_finite() { seconds } else { min };
    if s < min || s > max {
        let to = s.clamp(min, max);
        notes.push(format!(
            "{what} lasts {to} s, not {seconds} s: FIS takes one minute to 12 hours"
        ));
        return iso_duration(to);
    }
    iso_duration(s)
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

/// One experiment's targets and actions, before the template around them, and what of the
/// design FIS cannot express.
#[derive(Debug, Default)]
struct Part {
    targets: Map<String, Value>,
    actions: Map<String, Value>,
    notes: Vec<String>,
}

impl Part {
    /// The same part with every target and action name prefixed, and the references to them
    /// (action targets, `startAfter`) following: two steps of a scenario may make the same
    /// names.
    fn prefixed(self, prefix: &str) -> Part {
        let name = |n: &str| format!("{prefix}{n}");
        let targets = self
            .targets
            .into_iter()
            .map(|(k, v)| (name(&k), v))
            .collect();
        let actions = self
            .actions
            .into_iter()
            .map(|(k, mut v)| {
                if let Some(Value::Object(t)) = v.get_mut("targets") {
                    for target in t.values_mut() {
                        if let Some(s) = target.as_str() {
                            *target = Value::String(name(s));
                        }
                    }
                }
                if let Some(Value::Array(after)) = v.get_mut("startAfter") {
                    for a in after.iter_mut() {
                        if let Some(s) = a.as_str() {
                            *a = Value::String(name(s));
                        }
                    }
                }
                (name(&k), v)
            })
            .collect();
        Part {
            targets,
            actions,
            notes: self.notes,
        }
    }
}

/// The deployment's name for a service (its stack name), or its ECS name.
fn service_name<'a>(inv: &'a Inventory, service: &'a str) -> &'a str {
    inv.services
        .iter()
        .find(|s| s.service == service)
        .map(|s| s.name.as_str())
        .unwrap_or(service)
}

/// The FIS targets and `aws:ecs:stop-task` actions for the design's task stops. Tasks are
/// chosen by their service: an `aws:ecs:task` target takes the parameters `cluster` and
/// `service` ("Targets for AWS FIS", Resource parameters), and the key of the action's target
/// is `Tasks` ("Actions for AWS FIS", Action targets; the action has no parameters: FIS
/// Actions reference). With a zone, only the service's tasks there: the filter path is the
/// Pascal-case path in the DescribeTasks output (Targets for AWS FIS, Resource filters), where
/// a task's `availabilityZone` is (Amazon ECS API Reference, "Task"). Without one, as many as
/// the design stops: FIS's `PERCENT(n)` rounds down where ftctl's rounds up, so the designed
/// count is what is kept.
fn stopped_tasks(design: &Design, inv: &Inventory, zone: Option<&str>, part: &mut Part) {
    for a in &design.actions {
        let Action::StopTasks {
            cluster,
            service,
            tasks,
        } = a
        else {
            continue;
        };
        let name = service_name(inv, service);
        let (target_name, action_name, target, what) = match zone {
            Some(z) => (
                format!("{name}-zone-tasks"),
                format!("lose-{name}-tasks"),
                json!({
                    "resourceType": "aws:ecs:task",
                    "parameters": { "cluster": cluster, "service": service },
                    "filters": [{ "path": "AvailabilityZone", "values": [z] }],
                    "selectionMode": "ALL",
                }),
                format!("Stop service {name}'s tasks in {z}"),
            ),
            None => (
                format!("{name}-tasks"),
                format!("stop-{name}-tasks"),
                json!({
                    "resourceType": "aws:ecs:task",
                    "parameters": { "cluster": cluster, "service": service },
                    "selectionMode": format!("COUNT({})", tasks.len().max(1)),
                }),
                format!(
                    "Stop {} task{} of service {name}",
                    tasks.len(),
                    if tasks.len() == 1 { "" } else { "s" }
                ),
            ),
        };
        part.targets.insert(target_name.clone(), target);
        part.actions.insert(
            action_name,
            json!({
                "actionId": "aws:ecs:stop-task",
                "description": what,
                "targets": { "Tasks": target_name },
            }),
        );
    }
}

/// The FIS targets and actions for the design's cache failovers, as
/// `aws:elasticache:replicationgroup-interrupt-az-power` (FIS Actions reference; target key
/// `ReplicationGroups`, "Actions for AWS FIS"). That action works by zone, not by shard: it
/// powers off every node of the group in the zone given as the target's required
/// `availabilityZoneIdentifier` ("Targets for AWS FIS"), so a primary there is replaced by the
/// replica with the least lag, and no replacement starts in that zone for `duration`. ftctl's
/// cache-failover is ElastiCache's TestFailover instead: one named shard's primary is replaced,
/// its replicas and the other shards are untouched, and nothing is blocked afterwards. So the
/// template loses each zone that holds a primary ftctl fails over: the same primaries fail
/// over, and the group also runs short of that zone's replicas for a while. A shard whose
/// primary's zone ElastiCache did not report (cluster mode) has no zone to power off and is
/// left out. FIS acts on one zone per group at a time, so a group's zones follow each other.
/// The action needs Multi-AZ on the group; the inventory knows only automatic failover.
fn failed_over_caches(design: &Design, inv: &Inventory, duration: &str, part: &mut Part) {
    let mut zones: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in &design.actions {
        let Action::FailoverCache { group, shard, zone } = a else {
            continue;
        };
        match zone {
            Some(z) => {
                let list = zones.entry(group.as_str()).or_default();
                if !list.contains(&z.as_str()) {
                    list.push(z.as_str());
                }
            }
            None => part.notes.push(format!(
                "cache {group} shard {shard} is not failed over: ElastiCache did not say which \
                 zone its primary is in, and FIS interrupts a cache by zone"
            )),
        }
    }
    for (group, mut list) in zones {
        list.sort_unstable();
        let name = inv
            .caches
            .iter()
            .find(|c| c.group == group)
            .map(|c| c.name.as_str())
            .unwrap_or(group);
        let mut previous: Option<String> = None;
        for zone in list {
            let target_name = format!("{name}-{zone}");
            let action_name = format!("interrupt-{name}-{zone}");
            part.targets.insert(
                target_name.clone(),
                json!({
                    "resourceType": "aws:elasticache:replicationgroup",
                    "resourceTags": { TAG_DEPLOYMENT: inv.env },
                    "filters": [{ "path": "ReplicationGroupId", "values": [group] }],
                    "parameters": { "availabilityZoneIdentifier": zone },
                    "selectionMode": "ALL",
                }),
            );
            let mut action = json!({
                "actionId": "aws:elasticache:replicationgroup-interrupt-az-power",
                "description": format!(
                    "Power off cache {name}'s nodes in {zone}: its primaries there fail over"
                ),
                "parameters": { "duration": duration },
                "targets": { "ReplicationGroups": target_name },
            });
            if let Some(p) = previous.replace(action_name.clone()) {
                action["startAfter"] = json!([p]);
            }
            part.actions.insert(action_name, action);
        }
    }
}

/// The targets and actions of one experiment, its put-back actions lasting `duration`.
fn part(fault: &Fault, design: &Design, inv: &Inventory, duration: f64) -> Part {
    let mut part = Part::default();
    match fault {
        Fault::KillInstance { count, percent, .. } => {
            for tier in &design.tiers {
                let Some(group) = inv.groups.iter().find(|g| &g.tier == tier) else {
                    continue;
                };
                let name = format!("{tier}-instances");
                part.targets
                    .insert(name.clone(), tier_instances(inv, group, *count, *percent));
                part.actions.insert(
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
            let lasting = bounded_duration(duration, "losing the zone", &mut part.notes);
            // One target per group: only group members are lost (like the design), never
            // other instances carrying the deployment's tag (EMR nodes).
            let mut zone_targets = Vec::new();
            for group in &inv.groups {
                let name = format!("{}-zone-instances", group.tier);
                part.targets.insert(
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
            part.targets.insert(
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
                    // The group may replace a stopped member before FIS starts it again:
                    // `completeIfInstancesTerminated` keeps that from failing the action (FIS
                    // Actions reference, aws:ec2:stop-instances).
                    AzMode::Stop => json!({
                        "actionId": "aws:ec2:stop-instances",
                        "description": format!("Power off tier {tier}'s instances in {zone}"),
                        "parameters": {
                            "startInstancesAfterDuration": lasting,
                            "completeIfInstancesTerminated": "true",
                        },
                        "targets": { "Instances": target },
                    }),
                };
                part.actions
                    .insert(format!("lose-{tier}-instances"), instance_action);
            }
            // FIS cannot edit a group's zone list; cutting the zone's subnets off the network
            // is how an AZ outage is expressed there.
            part.actions.insert(
                "isolate-zone".into(),
                json!({
                    "actionId": "aws:network:disrupt-connectivity",
                    "description": format!("Cut the deployment's subnets in {zone} off"),
                    "parameters": { "duration": lasting, "scope": "all" },
                    "targets": { "Subnets": "zone-subnets" },
                }),
            );
            stopped_tasks(design, inv, Some(zone.as_str()), &mut part);
        }
        Fault::KillTask { .. } => stopped_tasks(design, inv, None, &mut part),
        Fault::RdsFailover { .. } | Fault::CacheFailover { .. } => {}
        // FIS's aws:rds:failover-db-cluster is documented for Aurora clusters (FIS Actions
        // reference); ftctl does not rely on it reaching a DocumentDB cluster.
        Fault::DocdbFailover { .. } => part.notes.push(
            "the document database failover (DocumentDB FailoverDBCluster) has no documented FIS \
             action: run it with ftctl chaos docdb-failover"
                .into(),
        ),
        Fault::Latency { .. } | Fault::PacketLoss { .. } | Fault::CpuStress { .. } => {
            super::design::gray::fis(fault, design, inv, &mut part.targets, &mut part.actions)
        }
        Fault::PauseReplication { .. } => {
            super::design::replication::fis(design, duration, &mut part.targets, &mut part.actions)
        }
    }
    if design
        .actions
        .iter()
        .any(|a| matches!(a, Action::FailoverCache { .. }))
    {
        let lasting = bounded_duration(duration, "the cache's lost zone", &mut part.notes);
        failed_over_caches(design, inv, &lasting, &mut part);
    }
    let databases = design.failover_databases();
    if !databases.is_empty() {
        part.targets.insert(
            "databases".into(),
            json!({
                "resourceType": "aws:rds:db",
                "resourceTags": { TAG_DEPLOYMENT: inv.env },
                "filters": [{ "path": "DBInstanceIdentifier", "values": databases }],
                "selectionMode": "ALL",
            }),
        );
        part.actions.insert(
            "failover-databases".into(),
            json!({
                "actionId": "aws:rds:reboot-db-instances",
                "description": "Reboot with failover to the standby",
                "parameters": { "forceFailover": "true" },
                "targets": { "DBInstances": "databases" },
            }),
        );
    }
    part
}

/// The template around a part: role, stop conditions (the alarms guarding `tiers`, and the
/// ones asked for), tags, and a description that says what FIS leaves out, within the 512
/// characters FIS takes (API Reference, ExperimentTemplate).
fn envelope(
    summary: String,
    name: &str,
    tiers: &[String],
    inv: &Inventory,
    role_arn: &str,
    stop_on_arns: &[String],
    part: Part,
) -> Value {
    let mut stops: Vec<Value> = Vec::new();
    let mut guard_arns: Vec<String> = tiers
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
    // The notes matter more to whoever runs the template than the end of the summary: the
    // summary is what is cut.
    let notes = if part.notes.is_empty() {
        String::new()
    } else {
        format!(". In FIS: {}", part.notes.join("; "))
    };
    let room = model::MAX_DESCRIPTION.saturating_sub(notes.chars().count());
    let mut description = cut(&summary, room.max(1));
    description.push_str(&notes);
    let description = cut(&description, model::MAX_DESCRIPTION);
    json!({
        "description": description,
        "roleArn": role_arn,
        "targets": part.targets,
        "actions": part.actions,
        "stopConditions": stops,
        "tags": { TAG_DEPLOYMENT: inv.env, "Name": format!("{}-{name}", inv.env) },
    })
}

/// `text` in at most `max` characters, marked with an ellipsis where it was cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars()
        .take(max.saturating_sub(1))
        .chain(['…'])
        .collect()
}

/// One experiment (a fault and its design) as a template; what can be put back (a lost zone,
/// stopped instances, a cache's zone) is put back after `duration` seconds.
pub fn template(
    fault: &Fault,
    design: &Design,
    inv: &Inventory,
    role_arn: &str,
    duration: f64,
    stop_on_arns: &[String],
) -> Value {
    // A paused table is guarded by its own alarms, but for the replication-latency ones the
    // pause is meant to fire.
    let expected = super::design::replication::expected_alarms(design, inv);
    let mut stops: Vec<String> = stop_on_arns.to_vec();
    for a in &design.actions {
        if let Action::PauseReplication { table, .. } = a {
            if let Some(t) = inv.tables.iter().find(|t| &t.table_name == table) {
                let prefix = format!("alarm.table.{}.", t.name);
                stops.extend(
                    inv.alarms
                        .iter()
                        .filter(|al| {
                            al.logical_id.starts_with(&prefix) && !expected.contains(&al.name)
                        })
                        .map(|al| al.arn.clone()),
                );
            }
        }
    }
    envelope(
        format!(
            "ftctl {} on {}: {}",
            design.experiment, inv.env, design.summary
        ),
        &design.experiment,
        &design.tiers,
        inv,
        role_arn,
        &stops,
        part(fault, design, inv, duration),
    )
}

/// A scenario as one template: each step's targets and actions under names starting
/// `stepN-` (N its place in the file), and each step that starts later waiting for its turn.
/// `steps` are the scenario's step designs (`scenario::step_designs`), in file order.
///
/// `startAfter` waits for the named actions to complete, and an action with a duration
/// completes only when it is over ("Actions for AWS FIS": startAfter, Action duration), so a
/// later step does not start after the earlier steps' actions (a lost zone lasts `duration`):
/// it starts after its own `aws:fis:wait` of `at` seconds (FIS Actions reference, Wait action),
/// which starts with the experiment, as ftctl starts each step `at` seconds after the first.
/// FIS waits one minute at least, so a step at under a minute starts a little late (said in
/// the description). As in ftctl, what can be put back is put back `duration` seconds after
/// the first step starts: a later step's lasts what is left of it, and a step starting after
/// that is not in the template. FIS identifies every target when the experiment starts
/// ("Targets for AWS FIS"), so a later step's targets are chosen then, not when it starts.
pub fn scenario_template(
    scenario: &Scenario,
    steps: &[Design],
    inv: &Inventory,
    role_arn: &str,
    duration: f64,
    stop_on_arns: &[String],
) -> Value {
    let mut all = Part::default();
    let mut tiers: Vec<String> = Vec::new();
    let mut summaries = Vec::new();
    // Steps whose targets pick instances or tasks, by resource type: FIS picks each target on
    // its own ("Targets for AWS FIS", Selection mode), so two steps may pick the same one,
    // which ftctl refuses (`scenario::design`).
    let mut picking: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, ((at, fault), design)) in scenario.steps.iter().zip(steps).enumerate() {
        let n = i + 1;
        summaries.push(scenario::step_summary(*at, design));
        let left = duration - at;
        if left <= 0.0 {
            all.notes.push(format!(
                "step {n} is left out: it starts at {at} s, when the scenario's {duration} s are over"
            ));
            continue;
        }
        let prefix = format!("step{n}-");
        let mut step = part(fault, design, inv, left).prefixed(&prefix);
        if *at > 0.0 {
            let wait = format!("{prefix}wait");
            let mut notes = Vec::new();
            let waiting = bounded_duration(*at, &format!("the wait before step {n}"), &mut notes);
            step.notes.extend(notes);
            // Actions that already follow another of the step's actions follow the wait
            // through it.
            for action in step.actions.values_mut().filter_map(Value::as_object_mut) {
                action.entry("startAfter").or_insert_with(|| json!([wait]));
            }
            step.actions.insert(
                wait,
                json!({
                    "actionId": "aws:fis:wait",
                    "description": format!("Step {n} starts {at} s after the first"),
                    "parameters": { "duration": waiting },
                }),
            );
        }
        for t in &design.tiers {
            if !tiers.contains(t) {
                tiers.push(t.clone());
            }
        }
        for target in step.targets.values() {
            if let Some(rt) = target["resourceType"].as_str() {
                if ["aws:ec2:instance", "aws:ecs:task"].contains(&rt) {
                    let steps = picking.entry(rt.to_string()).or_default();
                    if !steps.contains(&n) {
                        steps.push(n);
                    }
                }
            }
        }
        all.targets.extend(step.targets);
        all.actions.extend(step.actions);
        all.notes.extend(
            step.notes
                .into_iter()
                .map(|note| format!("step {n}: {note}")),
        );
    }
    for (rt, steps) in picking.iter().filter(|(_, s)| s.len() > 1) {
        all.notes.push(format!(
            "steps {} choose their {rt} targets each on its own when the experiment starts, \
             so they may take the same one",
            steps
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    envelope(
        format!(
            "ftctl scenario {} on {}: {}",
            scenario.header.name,
            inv.env,
            summaries.join("; then ")
        ),
        &scenario.header.name,
        &tiers,
        inv,
        role_arn,
        stop_on_arns,
        all,
    )
}
