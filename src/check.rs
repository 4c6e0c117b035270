//! `ftctl check`: reliability and security advice in the manner of Trusted Advisor and the
//! Well-Architected reliability pillar, over resources as a stack wants them (before apply) or
//! as AWS reports them (after). Pure: the same rules read specs and observed resources alike.

use crate::resource::{Kind, Props, Val};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// `check`'s exit code for a worst finding of this severity.
    pub fn exit_code(worst: Option<Severity>) -> u8 {
        match worst {
            None | Some(Severity::Info) => 0,
            Some(Severity::Warning) => 2,
            Some(Severity::Critical) => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub rule: &'static str,
    /// Logical id of the resource.
    pub resource: String,
    pub finding: String,
    pub why: &'static str,
    pub fix: String,
}

/// A resource to check: a spec (props may hold references) or an observed resource.
pub struct Subject<'a> {
    pub id: &'a str,
    pub kind: Kind,
    pub props: &'a Props,
    /// The AWS identifier, when it exists (observed); references to it count as it.
    pub physical_id: Option<&'a str>,
}

fn bool_of(p: &Props, k: &str) -> Option<bool> {
    p.get(k).and_then(Val::as_bool)
}

fn int_of(p: &Props, k: &str) -> Option<i64> {
    match p.get(k) {
        Some(Val::Int(i)) => Some(*i),
        // A range (auto scaling): its lower bound is what is guaranteed.
        Some(Val::Map(m)) => m.get("min").and_then(Val::as_i64),
        _ => None,
    }
}

fn str_of<'p>(p: &'p Props, k: &str) -> Option<&'p str> {
    p.get(k).and_then(Val::as_str)
}

/// Whether a security group (by logical id, or physical id when observed) is attached to an
/// internet-facing load balancer: the one place the internet may come in.
fn fronts_internet(subjects: &[Subject<'_>], sg: &Subject<'_>) -> bool {
    subjects
        .iter()
        .filter(|s| s.kind == Kind::LoadBalancer)
        .filter(|lb| str_of(lb.props, "scheme") == Some("internet-facing"))
        .any(|lb| {
            lb.props
                .get("security_group_ids")
                .map(Val::as_list)
                .unwrap_or_default()
                .iter()
                .any(|v| match v {
                    Val::Ref(r) => r.id == sg.id,
                    Val::Str(s) => Some(s.as_str()) == sg.physical_id,
                    _ => false,
                })
        })
}

pub fn check(subjects: &[Subject<'_>]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |severity, rule, s: &Subject<'_>, finding: String, why, fix: String| {
        out.push(Finding {
            severity,
            rule,
            resource: s.id.to_string(),
            finding,
            why,
            fix,
        })
    };
    for s in subjects {
        let p = s.props;
        match s.kind {
            Kind::AutoScalingGroup => {
                let zones = p.get("subnet_ids").map(|v| v.as_list().len()).unwrap_or(0);
                if zones < 2 {
                    add(
                        Severity::Critical,
                        "zones",
                        s,
                        format!("the group launches in {zones} subnet(s)"),
                        "losing one availability zone takes the whole tier down",
                        "give the group a subnet in at least two zones (network.az_count >= 2)"
                            .into(),
                    );
                }
                if int_of(p, "min_size").is_some_and(|m| m < 2) {
                    add(
                        Severity::Warning,
                        "min-instances",
                        s,
                        "fewer than 2 instances at minimum".into(),
                        "one instance failing or being replaced leaves the tier without capacity",
                        "set min_size = 2 or more".into(),
                    );
                }
                if str_of(p, "health_check_type").is_some_and(|t| t != "ELB") {
                    add(Severity::Warning, "elb-health-checks", s, "the group uses EC2 health checks".into(),
                        "an instance whose application fails keeps receiving traffic and is never replaced",
                        "use health_check_type ELB (ftctl's default)".into());
                }
            }
            Kind::LaunchTemplate => {
                if str_of(p, "http_tokens").is_some_and(|t| t != "required") {
                    add(
                        Severity::Warning,
                        "imdsv2",
                        s,
                        "instance metadata allows IMDSv1".into(),
                        "IMDSv1 lets a server-side request forgery read the instance's credentials",
                        "require IMDSv2 (http_tokens = required)".into(),
                    );
                }
                if bool_of(p, "volume_encrypted") == Some(false) {
                    add(Severity::Critical, "encryption-at-rest", s, "instance volumes are not encrypted".into(),
                        "data on unencrypted volumes and their snapshots is readable by anyone who gets a copy",
                        "encrypt the volumes".into());
                }
            }
            Kind::DbInstance => {
                if bool_of(p, "multi_az") == Some(false) {
                    add(
                        Severity::Critical,
                        "multi-az",
                        s,
                        "the database has no standby in another zone".into(),
                        "a zone or host failure stops the database until it is restored by hand",
                        "set multi_az = true".into(),
                    );
                }
                if int_of(p, "backup_retention_days").is_some_and(|d| d < 7) {
                    add(
                        Severity::Warning,
                        "backups",
                        s,
                        "automated backups are kept less than 7 days".into(),
                        "point-in-time recovery cannot reach back past a weekend's mistake",
                        "set backup_retention_days to 7-35".into(),
                    );
                }
                if bool_of(p, "storage_encrypted") == Some(false) {
                    add(
                        Severity::Critical,
                        "encryption-at-rest",
                        s,
                        "the database storage is not encrypted".into(),
                        "data, backups and snapshots are readable by anyone who gets a copy",
                        "create it encrypted (storage_encrypted; needs a replacement)".into(),
                    );
                }
                if bool_of(p, "deletion_protection") == Some(false) {
                    add(
                        Severity::Warning,
                        "deletion-protection",
                        s,
                        "deletion protection is off".into(),
                        "one wrong command deletes the database",
                        "set deletion_protection = true".into(),
                    );
                }
                if bool_of(p, "publicly_accessible") == Some(true) {
                    add(
                        Severity::Critical,
                        "public-exposure",
                        s,
                        "the database has a public address".into(),
                        "only the public load balancer should be reachable from the internet",
                        "set publicly_accessible = false".into(),
                    );
                }
            }
            Kind::CacheReplicationGroup => {
                if bool_of(p, "automatic_failover") == Some(false) {
                    add(
                        Severity::Critical,
                        "multi-az",
                        s,
                        "automatic failover is off".into(),
                        "a failed primary stops the cache until it is replaced",
                        "set automatic_failover = true with at least one replica".into(),
                    );
                } else if bool_of(p, "multi_az") == Some(false) {
                    add(
                        Severity::Warning,
                        "multi-az",
                        s,
                        "Multi-AZ is off".into(),
                        "replicas may share the primary's zone and go down with it",
                        "set multi_az = true".into(),
                    );
                }
                if bool_of(p, "at_rest_encryption") == Some(false) {
                    add(
                        Severity::Critical,
                        "encryption-at-rest",
                        s,
                        "the cache is not encrypted at rest".into(),
                        "snapshots and swapped data are readable by anyone who gets a copy",
                        "create it encrypted (needs a replacement)".into(),
                    );
                }
                if bool_of(p, "transit_encryption") == Some(false) {
                    add(
                        Severity::Warning,
                        "encryption-in-transit",
                        s,
                        "the cache is not encrypted in transit".into(),
                        "session data crosses the network in clear text",
                        "enable transit encryption (clients connect with TLS)".into(),
                    );
                }
            }
            Kind::DynamoTable => {
                if str_of(p, "sse").is_some_and(|k| k != "KMS") {
                    add(
                        Severity::Info,
                        "encryption-at-rest",
                        s,
                        "encrypted with a key AWS owns".into(),
                        "use of the key is not in your CloudTrail and cannot be revoked by you",
                        "use server-side encryption with KMS (ftctl's default)".into(),
                    );
                }
                if bool_of(p, "point_in_time_recovery") == Some(false) {
                    add(
                        Severity::Warning,
                        "backups",
                        s,
                        "point-in-time recovery is off".into(),
                        "a bad write or delete cannot be undone",
                        "set point_in_time_recovery = true".into(),
                    );
                }
                if bool_of(p, "deletion_protection") == Some(false) {
                    add(
                        Severity::Warning,
                        "deletion-protection",
                        s,
                        "deletion protection is off".into(),
                        "one wrong command deletes the table and its data",
                        "set deletion_protection = true".into(),
                    );
                }
            }
            Kind::EfsFileSystem if bool_of(p, "encrypted") == Some(false) => {
                add(
                    Severity::Critical,
                    "encryption-at-rest",
                    s,
                    "the file system is not encrypted".into(),
                    "files are readable by anyone who gets a copy",
                    "create it encrypted (needs a replacement)".into(),
                );
            }
            Kind::S3Bucket if bool_of(p, "public_access_blocked") == Some(false) => {
                add(
                    Severity::Critical,
                    "public-exposure",
                    s,
                    "public access to the bucket is not blocked".into(),
                    "one policy or ACL mistake publishes the logs",
                    "block all public access".into(),
                );
            }
            Kind::EcsService => {
                let zones = p.get("subnet_ids").map(|v| v.as_list().len()).unwrap_or(0);
                if zones < 2 {
                    add(
                        Severity::Critical,
                        "zones",
                        s,
                        format!("tasks run in {zones} subnet(s)"),
                        "losing one availability zone takes the service down",
                        "give the service a subnet in at least two zones".into(),
                    );
                }
                if int_of(p, "desired_count").is_some_and(|d| d < 2) {
                    add(
                        Severity::Warning,
                        "min-instances",
                        s,
                        "fewer than 2 tasks".into(),
                        "a task failing or being replaced leaves the service without capacity",
                        "run 2 or more tasks".into(),
                    );
                }
                if bool_of(p, "circuit_breaker_rollback") == Some(false) {
                    add(
                        Severity::Warning,
                        "safe-deployments",
                        s,
                        "no deployment circuit breaker".into(),
                        "a broken release keeps replacing healthy tasks",
                        "enable the circuit breaker with rollback".into(),
                    );
                }
            }
            Kind::MetricAlarm => {
                let actions = p
                    .get("alarm_actions")
                    .map(|v| v.as_list().len())
                    .unwrap_or(0);
                if actions == 0 {
                    add(
                        Severity::Warning,
                        "alarm-actions",
                        s,
                        "the alarm notifies nobody".into(),
                        "an alarm nobody hears does not shorten an outage",
                        "send it to the deployment's SNS topic".into(),
                    );
                }
            }
            Kind::SecurityGroup => {
                let open = p
                    .get("ingress")
                    .map(Val::as_list)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Val::as_map)
                    .any(|r| r.get("source").and_then(Val::as_str) == Some("0.0.0.0/0"));
                if open && !fronts_internet(subjects, s) {
                    add(
                        Severity::Critical,
                        "public-exposure",
                        s,
                        "open to 0.0.0.0/0".into(),
                        "only the public load balancer should be reachable from the internet",
                        "allow the tier or balancer in front of it instead of any address".into(),
                    );
                }
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.resource.cmp(&b.resource))
    });
    out
}

/// Differences between the deployment and its stack, as findings.
/// A resource whose live state differs from the stack: changed, deleted or left behind outside
/// ftctl (there is no state file: the stack is what it is compared with).
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub id: String,
    pub kind: Kind,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
    /// changed | missing (in the stack, not in AWS) | not_in_stack
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<DriftedAttribute>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftedAttribute {
    pub name: String,
    /// What AWS holds now (absent: AWS reports nothing for it).
    pub live: Option<Val>,
    /// What the stack says.
    pub stack: Option<Val>,
}

/// Whether a value is only known once something else is made (it holds an unknown).
fn pending(v: &Val) -> bool {
    match v {
        Val::Unknown(_) => true,
        Val::List(items) => items.iter().any(pending),
        Val::Map(m) => m.values().any(pending),
        _ => false,
    }
}

/// Drift read from a plan of the stack against the live deployment. A value that differs only
/// because something it refers to is replaced has not drifted, nor has a resource replaced only
/// for that reason.
pub fn drift_of(plan: &crate::plan::Plan) -> Vec<Drift> {
    use crate::plan::{Action, Change};
    let drifted = |c: &Change| -> Vec<DriftedAttribute> {
        c.attributes
            .iter()
            .filter(|a| !a.after.as_ref().is_some_and(pending))
            .map(|a| DriftedAttribute {
                name: a.name.clone(),
                live: a.before.clone(),
                stack: a.after.clone(),
            })
            .collect()
    };
    plan.changes
        .iter()
        .filter(|c| !matches!(c.action, Action::Update | Action::Replace) || !drifted(c).is_empty())
        .map(|c| Drift {
            id: c.id.clone(),
            kind: c.kind,
            name: c.name.clone(),
            physical_id: c.physical_id.clone(),
            status: match c.action {
                Action::Create => "missing",
                Action::Delete => "not_in_stack",
                _ => "changed",
            },
            attributes: match c.action {
                Action::Update | Action::Replace => drifted(c),
                _ => Vec::new(),
            },
        })
        .collect()
}

pub fn drift(plan: &crate::plan::Plan) -> Vec<Finding> {
    drift_of(plan)
        .into_iter()
        .map(|d| {
            let attrs: Vec<&str> = d.attributes.iter().map(|a| a.name.as_str()).collect();
            Finding {
                severity: Severity::Warning,
                rule: "drift",
                resource: d.id.clone(),
                finding: match d.status {
                    "missing" => "in the stack but missing in AWS".into(),
                    "not_in_stack" => "in AWS but no longer in the stack".into(),
                    _ => format!("differs from the stack: {}", attrs.join(", ")),
                },
                why: "what runs is not what was reviewed; the next apply will change it",
                fix: "apply the stack, or put the change into the stack file".into(),
            }
        })
        .collect()
}

/// The human table of findings.
pub fn render(findings: &[Finding]) -> String {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(160)
        .set_header(["severity", "resource", "finding", "why it matters", "fix"]);
    for f in findings {
        table.add_row([
            format!("{:?}", f.severity).to_lowercase(),
            f.resource.clone(),
            f.finding.clone(),
            f.why.to_string(),
            f.fix.clone(),
        ]);
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::expand;
    use crate::resource::ResourceSpec;
    use crate::stack::load;
    use std::path::PathBuf;

    #[test]
    fn drift_is_what_differs_itself_not_what_follows_a_replacement() {
        use crate::resource::Observed;
        let desired = vec![
            ResourceSpec::new("vpc", Kind::Vpc, "v").with("cidr_block", Val::str("10.1.0.0/16")),
            ResourceSpec::new("subnet", Kind::Subnet, "s")
                .with("vpc_id", Val::reference("vpc", "id"))
                .with("cidr_block", Val::str("10.0.1.0/24")),
            ResourceSpec::new("sg", Kind::SecurityGroup, "g")
                .with("vpc_id", Val::reference("vpc", "id"))
                .with("description", Val::str("wanted")),
        ];
        let observed = vec![
            Observed::new("vpc", Kind::Vpc, "vpc-1").prop("cidr_block", Val::str("10.0.0.0/16")),
            Observed::new("subnet", Kind::Subnet, "subnet-1")
                .prop("vpc_id", Val::str("vpc-1"))
                .prop("cidr_block", Val::str("10.0.1.0/24")),
            Observed::new("sg", Kind::SecurityGroup, "sg-1")
                .prop("vpc_id", Val::str("vpc-1"))
                .prop("description", Val::str("changed by hand")),
        ];
        let plan = crate::plan::diff(&desired, &observed).unwrap();
        assert_eq!(plan.changes.len(), 3, "all three are replaced");
        let drift = drift_of(&plan);
        let found: Vec<(&str, Vec<&str>)> = drift
            .iter()
            .map(|d| {
                (
                    d.id.as_str(),
                    d.attributes.iter().map(|a| a.name.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![("sg", vec!["description"]), ("vpc", vec!["cidr_block"])]
        );
        assert_eq!(drift[1].attributes[0].live, Some(Val::str("10.0.0.0/16")));
        assert_eq!(drift[1].attributes[0].stack, Some(Val::str("10.1.0.0/16")));
    }

    fn specs(stage: &str, vars: &[&str]) -> Vec<ResourceSpec> {
        let path = PathBuf::from(format!(
            "{}/stacks/{stage}.toml",
            env!("CARGO_MANIFEST_DIR")
        ));
        let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
        let stack = load(&path, &vars).unwrap().stack;
        expand(&stack, "dev", "us-east-1", &["az-1".into(), "az-2".into()]).unwrap()
    }

    fn run(specs: &[ResourceSpec]) -> Vec<Finding> {
        let subjects: Vec<Subject<'_>> = specs
            .iter()
            .map(|s| Subject {
                id: &s.id,
                kind: s.kind,
                props: &s.props,
                physical_id: None,
            })
            .collect();
        check(&subjects)
    }

    #[test]
    fn the_shipped_stages_pass() {
        for stage in ["stage1", "stage2", "stage3"] {
            let findings = run(&specs(stage, &[]));
            assert!(findings.is_empty(), "{stage}: {findings:?}");
        }
    }

    #[test]
    fn weakened_parameters_are_found() {
        let findings = run(&specs(
            "stage2",
            &[
                "databases.main.multi_az=false",
                "databases.main.deletion_protection=false",
                "tiers.web.min_size=1",
                "tiers.web.desired_capacity=1",
                "tables.orders.point_in_time_recovery=false",
                "load_balancers.internal.allow_cidrs=[\"10.0.0.0/8\"]",
            ],
        ));
        let has = |rule: &str, resource: &str| {
            findings
                .iter()
                .any(|f| f.rule == rule && f.resource == resource)
        };
        assert!(has("multi-az", "db.main"), "{findings:?}");
        assert!(has("deletion-protection", "db.main"));
        assert!(has("min-instances", "tier.web.asg"));
        assert!(has("backups", "table.orders"));
        assert_eq!(findings[0].severity, Severity::Critical, "worst first");
        assert_eq!(
            Severity::exit_code(findings.iter().map(|f| f.severity).max()),
            3
        );
    }

    #[test]
    fn only_the_public_balancer_may_face_the_internet() {
        let mut all = specs("stage1", &[]);
        // The app tier's group opened to the world: critical; the public balancer's is fine.
        let app = all.iter_mut().find(|s| s.id == "tier.app.sg").unwrap();
        app.props.insert(
            "ingress".into(),
            Val::list([Val::map([("source", Val::str("0.0.0.0/0"))])]),
        );
        let findings = run(&all);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].resource, "tier.app.sg");
        assert_eq!(findings[0].rule, "public-exposure");
    }
}
