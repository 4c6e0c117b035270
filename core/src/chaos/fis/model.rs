//! What AWS FIS accepts, for the actions ftctl exports: each action's parameters and the target
//! key and resource type it takes, and the parameters each target resource type takes. `check`
//! reads a template against it, so that a template ftctl writes is known to name only actions,
//! parameters and keys that FIS has, before anyone runs `aws fis create-experiment-template`.
//!
//! Facts from the AWS FIS User Guide: "AWS FIS Actions reference" (action ids, parameters, which
//! are optional, durations of one minute to 12 hours, resource types), "Actions for AWS FIS"
//! (section "Action targets": the key of an action's `targets` map for each kind of resource;
//! `startAfter` names actions that must complete first) and "Targets for AWS FIS" (sections
//! "Resource parameters", "Selection mode", and the considerations of "Identify target
//! resources"); and from the AWS FIS API Reference, "ExperimentTemplate" (a description of at
//! most 512 characters, action names of at most 64).

use serde_json::Value;
use std::collections::BTreeSet;

/// The target an action acts on: the key of its `targets` map and the resource type the
/// target named there must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionTarget {
    pub key: &'static str,
    pub resource_type: &'static str,
}

/// One FIS action as the Actions reference describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionModel {
    pub id: &'static str,
    /// None for an action that takes no target (`aws:fis:wait`).
    pub target: Option<ActionTarget>,
    /// Parameters the reference does not mark optional or conditional.
    pub required: &'static [&'static str],
    /// Parameters it marks optional or conditional.
    pub optional: &'static [&'static str],
    /// Parameters whose value is an ISO 8601 duration from one minute to 12 hours.
    pub durations: &'static [&'static str],
}

/// The parameters a target of one resource type may carry ("Resource parameters").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceModel {
    pub resource_type: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

const INSTANCES: ActionTarget = ActionTarget {
    key: "Instances",
    resource_type: "aws:ec2:instance",
};

/// Every action ftctl writes into a template.
pub const ACTIONS: &[ActionModel] = &[
    // Actions reference, "Amazon EC2 actions": no parameters.
    ActionModel {
        id: "aws:ec2:terminate-instances",
        target: Some(INSTANCES),
        required: &[],
        optional: &[],
        durations: &[],
    },
    // Both parameters optional; the instances are started again after the duration.
    ActionModel {
        id: "aws:ec2:stop-instances",
        target: Some(INSTANCES),
        required: &[],
        optional: &[
            "startInstancesAfterDuration",
            "completeIfInstancesTerminated",
        ],
        durations: &["startInstancesAfterDuration"],
    },
    // "Network actions": `prefixListIdentifier` only with scope prefix-list.
    ActionModel {
        id: "aws:network:disrupt-connectivity",
        target: Some(ActionTarget {
            key: "Subnets",
            resource_type: "aws:ec2:subnet",
        }),
        required: &["scope", "duration"],
        optional: &["prefixListIdentifier"],
        durations: &["duration"],
    },
    // "Amazon RDS actions": `forceFailover` optional (false by default).
    ActionModel {
        id: "aws:rds:reboot-db-instances",
        target: Some(ActionTarget {
            key: "DBInstances",
            resource_type: "aws:rds:db",
        }),
        required: &[],
        optional: &["forceFailover"],
        durations: &[],
    },
    // "Systems Manager actions": documentVersion optional, documentParameters conditional.
    ActionModel {
        id: "aws:ssm:send-command",
        target: Some(INSTANCES),
        required: &["documentArn", "duration"],
        optional: &["documentVersion", "documentParameters"],
        durations: &["duration"],
    },
    // "Amazon ECS actions": StopTask on the target tasks, no parameters.
    ActionModel {
        id: "aws:ecs:stop-task",
        target: Some(ActionTarget {
            key: "Tasks",
            resource_type: "aws:ecs:task",
        }),
        required: &[],
        optional: &[],
        durations: &[],
    },
    // "Amazon ElastiCache actions": the zone is a parameter of the target, not of the action.
    ActionModel {
        id: "aws:elasticache:replicationgroup-interrupt-az-power",
        target: Some(ActionTarget {
            key: "ReplicationGroups",
            resource_type: "aws:elasticache:replicationgroup",
        }),
        required: &["duration"],
        optional: &[],
        durations: &["duration"],
    },
    // "Amazon DynamoDB actions": pauses replication into and out of the experiment's Region for
    // the global tables targeted there ("Cross-Region: Connectivity" scenario).
    ActionModel {
        id: "aws:dynamodb:global-table-pause-replication",
        target: Some(ActionTarget {
            key: "Tables",
            resource_type: "aws:dynamodb:global-table",
        }),
        required: &["duration"],
        optional: &[],
        durations: &["duration"],
    },
    // "Wait action": no target.
    ActionModel {
        id: "aws:fis:wait",
        target: None,
        required: &["duration"],
        optional: &[],
        durations: &["duration"],
    },
];

/// Every resource type ftctl targets, with its resource parameters ("Targets for AWS FIS").
pub const RESOURCES: &[ResourceModel] = &[
    ResourceModel {
        resource_type: "aws:ec2:instance",
        required: &[],
        optional: &[],
    },
    ResourceModel {
        resource_type: "aws:ec2:subnet",
        required: &[],
        optional: &["availabilityZoneIdentifier", "vpc"],
    },
    ResourceModel {
        resource_type: "aws:rds:db",
        required: &[],
        optional: &["availabilityZoneIdentifiers"],
    },
    ResourceModel {
        resource_type: "aws:ecs:task",
        required: &[],
        optional: &["cluster", "service"],
    },
    ResourceModel {
        resource_type: "aws:dynamodb:global-table",
        required: &[],
        optional: &[],
    },
    ResourceModel {
        resource_type: "aws:elasticache:replicationgroup",
        required: &["availabilityZoneIdentifier"],
        optional: &[],
    },
];

/// The longest template description and action name FIS takes (API Reference,
/// "ExperimentTemplate").
pub const MAX_DESCRIPTION: usize = 512;
pub const MAX_NAME: usize = 64;

/// Durations FIS takes for the actions above: one minute to 12 hours.
pub const MIN_DURATION_SECONDS: u64 = 60;
pub const MAX_DURATION_SECONDS: u64 = 12 * 3600;

pub fn action(id: &str) -> Option<&'static ActionModel> {
    ACTIONS.iter().find(|a| a.id == id)
}

pub fn resource(resource_type: &str) -> Option<&'static ResourceModel> {
    RESOURCES.iter().find(|r| r.resource_type == resource_type)
}

/// Seconds of an ISO 8601 time duration as FIS writes them (`PT90S`, `PT1M`, `PT1H30M`); None
/// when it is not one.
pub fn duration_seconds(text: &str) -> Option<u64> {
    let rest = text.strip_prefix("PT")?;
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut last_unit = 0;
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        // Hours, then minutes, then seconds, each once.
        let (rank, scale) = match c {
            'H' => (1, 3600),
            'M' => (2, 60),
            'S' => (3, 1),
            _ => return None,
        };
        if number.is_empty() || rank <= last_unit {
            return None;
        }
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(scale)?)?;
        number.clear();
        last_unit = rank;
    }
    number.is_empty().then_some(total)
}

/// Whether a selection mode is one FIS has: `ALL`, `COUNT(n)`, `PERCENT(n)`.
fn selection_mode_ok(mode: &str) -> bool {
    if mode == "ALL" {
        return true;
    }
    let number = |prefix: &str| {
        mode.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| n.parse::<u64>().ok())
    };
    matches!(number("COUNT("), Some(n) if n >= 1)
        || matches!(number("PERCENT("), Some(n) if (1..=100).contains(&n))
}

/// Everything in a template that FIS would not take as ftctl means it, one line each; empty
/// when the template is sound.
pub fn check(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(root) = template.as_object() else {
        return vec!["the template is not a JSON object".into()];
    };
    match root.get("description").and_then(Value::as_str) {
        Some(d) if d.chars().count() > MAX_DESCRIPTION => problems.push(format!(
            "the description has {} characters: FIS takes at most {MAX_DESCRIPTION}",
            d.chars().count()
        )),
        Some(_) => {}
        None => problems.push("the template has no description".into()),
    }
    let empty = serde_json::Map::new();
    let targets = match root.get("targets") {
        None => &empty,
        Some(Value::Object(t)) => t,
        Some(_) => {
            problems.push("`targets` is not an object".into());
            &empty
        }
    };
    for (name, target) in targets {
        check_target(name, target, &mut problems);
    }
    let actions = match root.get("actions") {
        Some(Value::Object(a)) => a,
        Some(_) => {
            problems.push("`actions` is not an object".into());
            &empty
        }
        None => &empty,
    };
    if actions.is_empty() {
        problems.push("the template has no action: FIS would do nothing".into());
    }
    for (name, action) in actions {
        check_action(name, action, targets, actions, &mut problems);
    }
    problems
}

/// String parameters of a target or action; a value that is not a string is a problem (FIS
/// takes parameters as a map of strings).
fn string_map<'a>(
    value: Option<&'a Value>,
    whose: &str,
    problems: &mut Vec<String>,
) -> Vec<(&'a str, &'a str)> {
    let Some(value) = value else {
        return Vec::new();
    };
    let Some(map) = value.as_object() else {
        problems.push(format!("{whose}: `parameters` is not an object"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in map {
        match v.as_str() {
            Some(s) => out.push((k.as_str(), s)),
            None => problems.push(format!("{whose}: parameter {k} is not a string")),
        }
    }
    out
}

/// Unknown and missing parameters against what the model allows.
fn check_names(
    whose: &str,
    given: &[(&str, &str)],
    required: &[&str],
    optional: &[&str],
    problems: &mut Vec<String>,
) {
    for (k, _) in given {
        if !required.contains(k) && !optional.contains(k) {
            let mut known: Vec<&str> = required.iter().chain(optional).copied().collect();
            known.sort_unstable();
            problems.push(format!(
                "{whose}: unknown parameter {k} (it takes {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    for r in required {
        if !given.iter().any(|(k, _)| k == r) {
            problems.push(format!("{whose}: missing parameter {r}"));
        }
    }
}

fn check_target(name: &str, target: &Value, problems: &mut Vec<String>) {
    let whose = format!("target {name}");
    let Some(t) = target.as_object() else {
        problems.push(format!("{whose} is not an object"));
        return;
    };
    let resource_type = t.get("resourceType").and_then(Value::as_str);
    let model = match resource_type {
        None => {
            problems.push(format!("{whose} has no resourceType"));
            None
        }
        Some(rt) => {
            let m = resource(rt);
            if m.is_none() {
                problems.push(format!("{whose}: unknown resource type {rt}"));
            }
            m
        }
    };
    let parameters = string_map(t.get("parameters"), &whose, problems);
    if let Some(m) = model {
        check_names(&whose, &parameters, m.required, m.optional, problems);
    }
    match t.get("selectionMode").and_then(Value::as_str) {
        Some(mode) if selection_mode_ok(mode) => {}
        Some(mode) => problems.push(format!(
            "{whose}: selection mode {mode} is none of ALL, COUNT(n), PERCENT(n)"
        )),
        None => problems.push(format!("{whose} has no selectionMode")),
    }
    // "Identify target resources": resource ids exclude tags and filters.
    if t.contains_key("resourceArns")
        && (t.contains_key("resourceTags") || t.contains_key("filters"))
    {
        problems.push(format!(
            "{whose}: resource ARNs cannot be combined with resource tags or filters"
        ));
    }
}

fn check_action(
    name: &str,
    action: &Value,
    targets: &serde_json::Map<String, Value>,
    actions: &serde_json::Map<String, Value>,
    problems: &mut Vec<String>,
) {
    let whose = format!("action {name}");
    if name.chars().count() > MAX_NAME {
        problems.push(format!(
            "{whose}: the name is longer than the {MAX_NAME} characters FIS takes"
        ));
    }
    let Some(a) = action.as_object() else {
        problems.push(format!("{whose} is not an object"));
        return;
    };
    let model = match a.get("actionId").and_then(Value::as_str) {
        None => {
            problems.push(format!("{whose} has no actionId"));
            None
        }
        Some(id) => {
            let m = self::action(id);
            if m.is_none() {
                problems.push(format!("{whose}: unknown action id {id}"));
            }
            m
        }
    };
    let parameters = string_map(a.get("parameters"), &whose, problems);
    let given_targets: Vec<(&str, &str)> = match a.get("targets") {
        None => Vec::new(),
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| match v.as_str() {
                Some(s) => Some((k.as_str(), s)),
                None => {
                    problems.push(format!("{whose}: target {k} is not named by a string"));
                    None
                }
            })
            .collect(),
        Some(_) => {
            problems.push(format!("{whose}: `targets` is not an object"));
            Vec::new()
        }
    };
    if let Some(m) = model {
        check_names(&whose, &parameters, m.required, m.optional, problems);
        for (k, v) in &parameters {
            if !m.durations.contains(k) {
                continue;
            }
            match duration_seconds(v) {
                Some(s) if (MIN_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&s) => {}
                Some(s) => problems.push(format!(
                    "{whose}: {k} {v} is {s} s, outside the one minute to 12 hours FIS takes"
                )),
                None => problems.push(format!(
                    "{whose}: {k} {v} is not an ISO 8601 duration (PT90S, PT5M)"
                )),
            }
        }
        match m.target {
            None => {
                for (k, _) in &given_targets {
                    problems.push(format!("{whose}: {} takes no target, given {k}", m.id));
                }
            }
            Some(want) => {
                if !given_targets.iter().any(|(k, _)| *k == want.key) {
                    problems.push(format!(
                        "{whose}: no target under key {} (the key {} takes)",
                        want.key, m.id
                    ));
                }
                for (k, target) in &given_targets {
                    if *k != want.key {
                        problems.push(format!(
                            "{whose}: wrong target key {k}: {} takes {}",
                            m.id, want.key
                        ));
                        continue;
                    }
                    match targets.get(*target) {
                        None => problems.push(format!("{whose}: no target named {target}")),
                        Some(t) => {
                            let rt = t.get("resourceType").and_then(Value::as_str);
                            if rt != Some(want.resource_type) {
                                problems.push(format!(
                                    "{whose}: target {target} is of resource type {}, and {} acts on {}",
                                    rt.unwrap_or("(none)"),
                                    m.id,
                                    want.resource_type
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    match a.get("startAfter") {
        None => {}
        Some(Value::Array(after)) => {
            let mut seen = BTreeSet::new();
            for other in after {
                match other.as_str() {
                    Some(o) if o == name => {
                        problems.push(format!("{whose} starts after itself"));
                    }
                    Some(o) if !actions.contains_key(o) => {
                        problems.push(format!("{whose} starts after {o}, which is no action"));
                    }
                    Some(o) if !seen.insert(o) => {
                        problems.push(format!("{whose} names {o} twice in startAfter"));
                    }
                    Some(_) => {}
                    None => problems.push(format!("{whose}: startAfter holds a non-string")),
                }
            }
        }
        Some(_) => problems.push(format!("{whose}: startAfter is not a list")),
    }
}

/// What the experiment role needs for each action, as the Actions reference lists under
/// "Permissions" (the conditional ones for options ftctl does not set left out). Stop
/// conditions and target resolution need nothing of it: FIS's service-linked role reads the
/// alarms and resolves tags ("Use service-linked roles for AWS FIS": AmazonFISServiceRolePolicy).
pub const PERMISSIONS: &[(&str, &[&str])] = &[
    (
        "aws:ec2:terminate-instances",
        &["ec2:TerminateInstances", "ec2:DescribeInstances"],
    ),
    (
        "aws:ec2:stop-instances",
        &[
            "ec2:StopInstances",
            "ec2:StartInstances",
            "ec2:DescribeInstances",
        ],
    ),
    (
        "aws:network:disrupt-connectivity",
        &[
            "ec2:CreateNetworkAcl",
            "ec2:CreateNetworkAclEntry",
            "ec2:DeleteNetworkAcl",
            "ec2:CreateTags",
            "ec2:DescribeManagedPrefixLists",
            "ec2:DescribeNetworkAcls",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
            "ec2:GetManagedPrefixListEntries",
            "ec2:ReplaceNetworkAclAssociation",
        ],
    ),
    (
        "aws:rds:reboot-db-instances",
        &[
            "rds:RebootDBInstance",
            "rds:DescribeDBInstances",
            "tag:GetResources",
        ],
    ),
    (
        "aws:ecs:stop-task",
        &[
            "ecs:DescribeTasks",
            "ecs:ListTasks",
            "ecs:StopTask",
            "tag:GetResources",
        ],
    ),
    (
        "aws:elasticache:replicationgroup-interrupt-az-power",
        &[
            "elasticache:InterruptClusterAzPower",
            "elasticache:DescribeReplicationGroups",
            "tag:GetResources",
        ],
    ),
    (
        "aws:ssm:send-command",
        &["ssm:SendCommand", "ssm:ListCommands", "ssm:CancelCommand"],
    ),
    (
        "aws:dynamodb:global-table-pause-replication",
        &[
            "dynamodb:PutResourcePolicy",
            "dynamodb:DeleteResourcePolicy",
            "dynamodb:GetResourcePolicy",
            "dynamodb:DescribeTable",
            "tag:GetResources",
        ],
    ),
    ("aws:fis:wait", &[]),
];
