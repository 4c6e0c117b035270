//! Game days scheduled inside AWS (`ftctl verify --schedule`), the pure part: the names of what
//! is made for a deployment, the FIS experiment role's trust and its one inline policy of
//! exactly the permissions its templates' actions need, the EventBridge Scheduler role that
//! may start only those templates, the universal target that starts one, and the schedule
//! expressions accepted.
//!
//! Facts from the AWS FIS User Guide ("IAM roles for AWS FIS experiments": trust of
//! fis.amazonaws.com with aws:SourceAccount and aws:SourceArn `experiment/*`; "Tutorial:
//! Schedule a recurring experiment": the StartExperiment target, its Input with
//! `<aws.scheduler.execution-id>` as ClientToken, fis:StartExperiment on the template and on
//! `experiment/*`) and the EventBridge Scheduler User Guide ("Universal targets": the target
//! ARN `arn:aws:scheduler:::aws-sdk:<service>:<apiAction>`; "Confused deputy prevention":
//! aws:SourceArn names a schedule group, never a schedule; "Schedule types": a rate schedule
//! first runs at its StartDate; API CreateSchedule: names of 1-64 of `[0-9a-zA-Z-_.]`).

use super::model::PERMISSIONS;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Marks what `--schedule` made (templates, roles, the schedule group) with the deployment's name.
pub const TAG_GAME_DAY: &str = "ftctl:game-day";
/// On a scheduled template: the failure mode it runs.
pub const TAG_FAILURE_MODE: &str = "ftctl:failure-mode";

/// Where the game-day roles live: not under the stack's roles' path, which finds those.
pub fn role_path(env: &str, region: &str) -> String {
    format!("/ftctl-game-days/{env}/{region}/")
}

/// The FIS experiment role's name and the Scheduler role's (IAM names: 64 characters).
pub fn role_names(env: &str, region: &str) -> (String, String) {
    (
        crate::deployment::global_name(env, region, "fis", 64),
        crate::deployment::global_name(env, region, "game-days", 64),
    )
}

/// The deployment's schedule group: deleting it deletes every schedule in it.
pub fn schedule_group(env: &str) -> String {
    format!("{env}-game-days")
}

/// A failure mode's schedule name: `[0-9a-zA-Z-_.]`, at most 64 characters.
pub fn schedule_name(mode: &str) -> String {
    let name: String = mode
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    crate::deployment::physical_name("ftctl", &name, 64)
}

/// Checks `--schedule`: `rate(N unit)` with unit minute(s), hour(s) or day(s), or a
/// `cron(...)` of six fields. At most one a day would be `rate(1 day)`; faster than hourly is
/// refused (a game day would start before the last one recovered).
pub fn check_expression(expr: &str) -> Result<(), String> {
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut words = inner.split_whitespace();
        let (Some(n), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("`{expr}`: a rate is `rate(N minutes|hours|days)`"));
        };
        let n: u64 = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("`{expr}`: {n} is not a positive whole number"))?;
        let minutes = match unit {
            "minute" | "minutes" => n,
            "hour" | "hours" => n * 60,
            "day" | "days" => n * 1440,
            other => return Err(format!("`{expr}`: {other} is not minutes, hours or days")),
        };
        if (n == 1) != unit.ends_with(|c| c != 's') {
            return Err(format!(
                "`{expr}`: EventBridge Scheduler wants `1 {}` and `N {}s`",
                unit.trim_end_matches('s'),
                unit.trim_end_matches('s')
            ));
        }
        if minutes < 60 {
            return Err(format!(
                "`{expr}`: a game day more often than hourly would start before the last one recovered"
            ));
        }
        return Ok(());
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        if inner.split_whitespace().count() == 6 {
            return Ok(());
        }
        return Err(format!(
            "`{expr}`: a cron expression has six fields (minutes hours day-of-month month day-of-week year)"
        ));
    }
    Err(format!(
        "`{expr}` is not a schedule expression: rate(7 days) or cron(0 9 ? * MON *)"
    ))
}

/// Trust of the experiment role: FIS, for this account's experiments only.
pub fn fis_trust(partition: &str, account: &str, region: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "fis.amazonaws.com" },
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": { "aws:SourceAccount": account },
                "ArnLike": { "aws:SourceArn": format!("arn:{partition}:fis:{region}:{account}:experiment/*") }
            }
        }]
    })
}

/// The experiment role's policy: the permissions of every action the templates use, and only
/// those. Instances may be stopped or terminated only when they are the deployment's.
pub fn fis_policy(templates: &[Value], env: &str) -> Value {
    let used: BTreeSet<&str> = templates
        .iter()
        .filter_map(|t| t["actions"].as_object())
        .flat_map(|a| a.values())
        .filter_map(|a| a["actionId"].as_str())
        .collect();
    let mut tagged = BTreeSet::new();
    let mut other = BTreeSet::new();
    for (id, permissions) in PERMISSIONS {
        if !used.contains(id) {
            continue;
        }
        for p in *permissions {
            if matches!(
                *p,
                "ec2:TerminateInstances" | "ec2:StopInstances" | "ec2:StartInstances"
            ) {
                tagged.insert(*p);
            } else {
                other.insert(*p);
            }
        }
    }
    let mut statements = Vec::new();
    if !tagged.is_empty() {
        statements.push(json!({
            "Sid": "DeploymentInstances",
            "Effect": "Allow",
            "Action": tagged,
            "Resource": "*",
            "Condition": { "StringEquals": { format!("aws:ResourceTag/{}", crate::deployment::TAG_DEPLOYMENT): env } }
        }));
    }
    if !other.is_empty() {
        statements.push(json!({
            "Sid": "ExperimentActions",
            "Effect": "Allow",
            "Action": other,
            "Resource": "*"
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Trust of the Scheduler role: EventBridge Scheduler, for this deployment's schedule group.
pub fn scheduler_trust(partition: &str, account: &str, region: &str, group: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "scheduler.amazonaws.com" },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": {
                "aws:SourceAccount": account,
                "aws:SourceArn": format!("arn:{partition}:scheduler:{region}:{account}:schedule-group/{group}")
            } }
        }]
    })
}

/// The Scheduler role's policy: start these templates' experiments, nothing else.
pub fn scheduler_policy(
    partition: &str,
    account: &str,
    region: &str,
    template_ids: &[String],
) -> Value {
    let mut resources: Vec<String> = template_ids
        .iter()
        .map(|id| format!("arn:{partition}:fis:{region}:{account}:experiment-template/{id}"))
        .collect();
    resources.push(format!(
        "arn:{partition}:fis:{region}:{account}:experiment/*"
    ));
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "StartGameDays",
            "Effect": "Allow",
            "Action": ["fis:StartExperiment", "fis:TagResource"],
            "Resource": resources
        }]
    })
}

/// The universal target that starts an experiment, and its input: the execution id makes a
/// retried invocation the same experiment, not a second one.
pub fn start_target(partition: &str) -> String {
    format!("arn:{partition}:scheduler:::aws-sdk:fis:startExperiment")
}

pub fn start_input(template_id: &str) -> String {
    json!({
        "ClientToken": "<aws.scheduler.execution-id>",
        "ExperimentTemplateId": template_id,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_are_checked_before_anything_is_made() {
        for ok in [
            "rate(7 days)",
            "rate(1 day)",
            "rate(2 hours)",
            "cron(0 9 ? * MON *)",
        ] {
            assert_eq!(check_expression(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("every week", "not a schedule expression"),
            ("rate(7 weeks)", "not minutes, hours or days"),
            ("rate(0 days)", "not a positive whole number"),
            ("rate(1 days)", "wants `1 day`"),
            ("rate(30 minutes)", "more often than hourly"),
            ("cron(0 9 * *)", "six fields"),
        ] {
            let err = check_expression(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn the_fis_role_may_do_what_its_templates_do_and_nothing_more() {
        let templates = vec![json!({ "actions": {
            "kill": { "actionId": "aws:ec2:terminate-instances" },
            "failover": { "actionId": "aws:rds:reboot-db-instances" },
        }})];
        let policy = fis_policy(&templates, "prod");
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(
            statements[0]["Action"],
            json!(["ec2:TerminateInstances"]),
            "{policy}"
        );
        assert_eq!(
            statements[0]["Condition"]["StringEquals"]["aws:ResourceTag/ftctl:deployment"],
            "prod"
        );
        assert_eq!(
            statements[1]["Action"],
            json!([
                "ec2:DescribeInstances",
                "rds:DescribeDBInstances",
                "rds:RebootDBInstance",
                "tag:GetResources"
            ])
        );
        let text = policy.to_string();
        assert!(!text.contains("ecs:") && !text.contains("ssm:"), "{text}");
        let trust = scheduler_trust("aws", "123456789012", "us-east-1", "prod-game-days");
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceArn"],
            "arn:aws:scheduler:us-east-1:123456789012:schedule-group/prod-game-days"
        );
        let start = scheduler_policy("aws", "1", "us-east-1", &["EXT1".into()]);
        assert_eq!(
            start["Statement"][0]["Resource"],
            json!([
                "arn:aws:fis:us-east-1:1:experiment-template/EXT1",
                "arn:aws:fis:us-east-1:1:experiment/*"
            ])
        );
        assert_eq!(
            schedule_name("kill-az us-east-1a"),
            "ftctl-kill-az_us-east-1a"
        );
    }
}
