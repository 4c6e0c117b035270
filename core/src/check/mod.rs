//! `ftctl check`: the controls of AWS Security Hub's Foundational Security Best Practices (and
//! the CIS AWS Foundations Benchmark where they map), plus ftctl's own reliability rules, over
//! resources as a stack wants them (before apply) or as AWS reports them (after). Pure: the same
//! controls (`controls`) read specs and observed resources alike; a stack's `[[opt_out]]` entries
//! turn a failure into a stated exception.

pub mod controls;

use crate::resource::{Kind, Observed, Props, ResourceSpec, Val};
pub use controls::{control, Control, CONTROLS};
use serde::Serialize;

/// Security Hub's severity scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// `check`'s exit code for a worst failing control of this severity: 3 for high and
    /// critical, 2 for medium and low, 0 otherwise (also when every failure is opted out).
    pub fn exit_code(worst: Option<Severity>) -> u8 {
        match worst {
            None | Some(Severity::Informational) => 0,
            Some(Severity::Low | Severity::Medium) => 2,
            Some(Severity::High | Severity::Critical) => 3,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Informational => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The control that failed: Security Hub's id (`RDS.5`) or ftctl's own (`ftctl.…`).
    pub control: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cis: Option<&'static str>,
    pub severity: Severity,
    /// Logical id of the resource.
    pub resource: String,
    pub finding: String,
    pub why: &'static str,
    pub fix: String,
    /// The stack's reason for opting out of the control: the finding does not count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opted_out: Option<String>,
}

impl Finding {
    /// Whether the finding counts against the exit code.
    pub fn counts(&self) -> bool {
        self.opted_out.is_none()
    }
}

/// A resource to check: a spec (props may hold references) or an observed resource.
pub struct Subject<'a> {
    pub id: &'a str,
    pub kind: Kind,
    pub props: &'a Props,
    /// The AWS identifier, when it exists (observed); references to it count as it.
    pub physical_id: Option<&'a str>,
    /// Its ARN when AWS reported one besides the identifier (a database is known by its name,
    /// a backup plan names it by ARN): references by ARN count as it too.
    pub arn: Option<&'a str>,
}

impl<'a> From<&'a ResourceSpec> for Subject<'a> {
    fn from(s: &'a ResourceSpec) -> Self {
        Subject {
            id: &s.id,
            kind: s.kind,
            props: &s.props,
            physical_id: None,
            arn: None,
        }
    }
}

impl<'a> From<&'a Observed> for Subject<'a> {
    fn from(o: &'a Observed) -> Self {
        Subject {
            id: &o.id,
            kind: o.kind,
            props: &o.props,
            physical_id: Some(&o.physical_id),
            arn: o.outputs.get("arn").map(String::as_str),
        }
    }
}

/// A control about the account or the deployment as a whole that was judged (by `check
/// --live`), over how many resources, with a note when it passed.
pub struct Judged {
    pub control: &'static Control,
    pub resources: usize,
    pub note: Option<String>,
}

/// What `check` reports: the findings, worst first, and every control's outcome.
pub struct Report {
    pub findings: Vec<Finding>,
    pub controls: Vec<ControlResult>,
}

/// Every control over `subjects`, with the findings and judgements of the account-wide controls
/// (`more`, `judged`), the stack's opt-outs applied.
pub fn judge(
    subjects: &[Subject<'_>],
    more: Vec<Finding>,
    judged: &[Judged],
    opt_outs: &[OptOut],
) -> Report {
    let mut findings = check(subjects);
    findings.extend(more);
    apply_opt_outs(&mut findings, opt_outs);
    let controls = by_control(subjects, &findings, judged);
    Report { findings, controls }
}

/// A control a stack opts out of, with its reason (`[[opt_out]]` in the stack file).
pub use crate::stack::OptOut;

/// How one control came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    /// Failed, and every failure is opted out by the stack.
    OptedOut,
    /// Nothing of the kinds it judges is in the deployment.
    NotApplicable,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    pub control: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cis: Option<&'static str>,
    pub title: &'static str,
    pub severity: Severity,
    pub outcome: Outcome,
    /// Resources judged, and of those the failing ones.
    pub resources: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<String>,
    /// What a passed account-wide control found (the trail that records the region).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The opt-out that covers a finding of `control` on `resource`: one naming the control and
/// either no resources or a prefix of the resource's logical id (`lb.public` covers
/// `lb.public.listener`).
fn opt_out_for<'o>(opt_outs: &'o [OptOut], control: &str, resource: &str) -> Option<&'o OptOut> {
    opt_outs.iter().find(|o| {
        o.control == control
            && (o.resources.is_empty()
                || o.resources.iter().any(|r| {
                    resource == r
                        || resource
                            .strip_prefix(r.as_str())
                            .is_some_and(|t| t.starts_with('.'))
                }))
    })
}

/// Marks the findings the stack opts out of with its reason.
pub fn apply_opt_outs(findings: &mut [Finding], opt_outs: &[OptOut]) {
    for f in findings.iter_mut() {
        if let Some(o) = opt_out_for(opt_outs, f.control, &f.resource) {
            f.opted_out = Some(o.reason.clone());
        }
    }
    sort(findings);
}

/// Every control over every subject: the failures, worst first.
pub fn check(subjects: &[Subject<'_>]) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in CONTROLS {
        for s in subjects.iter().filter(|s| c.kinds.contains(&s.kind)) {
            if let Some(f) = (c.test)(s, subjects) {
                out.push(c.finding(s.id, f));
            }
        }
    }
    sort(&mut out);
    out
}

/// Worst first; opted-out findings after those that count.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.opted_out
            .is_some()
            .cmp(&b.opted_out.is_some())
            .then(b.severity.cmp(&a.severity))
            .then(a.control.cmp(b.control))
            .then(a.resource.cmp(&b.resource))
    });
}

/// The worst severity among the findings that count.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings
        .iter()
        .filter(|f| f.counts())
        .map(|f| f.severity)
        .max()
}

/// Control by control: how each came out over these subjects and findings, and the
/// account-wide controls that were `judged`.
pub fn by_control(
    subjects: &[Subject<'_>],
    findings: &[Finding],
    judged: &[Judged],
) -> Vec<ControlResult> {
    let mut out: Vec<ControlResult> = CONTROLS
        .iter()
        .map(|c| {
            let resources = subjects
                .iter()
                .filter(|s| c.kinds.contains(&s.kind))
                .count();
            result(c, resources, findings, None)
        })
        .collect();
    out.extend(
        judged
            .iter()
            .map(|j| result(j.control, j.resources, findings, j.note.clone())),
    );
    out
}

fn result(
    c: &'static Control,
    resources: usize,
    findings: &[Finding],
    note: Option<String>,
) -> ControlResult {
    // Every resource that fails the control, opted out or not (at most one finding each).
    let mine: Vec<&Finding> = findings.iter().filter(|f| f.control == c.id).collect();
    let failing: Vec<String> = mine.iter().map(|f| f.resource.clone()).collect();
    let outcome = if resources == 0 {
        Outcome::NotApplicable
    } else if mine.iter().any(|f| f.counts()) {
        Outcome::Failed
    } else if !mine.is_empty() {
        Outcome::OptedOut
    } else {
        Outcome::Passed
    };
    ControlResult {
        control: c.id,
        cis: c.cis,
        title: c.title,
        severity: c.severity,
        outcome,
        resources,
        failing,
        note,
    }
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
            controls::DRIFT.finding(
                &d.id,
                controls::Failed {
                    finding: match d.status {
                        "missing" => "in the stack but missing in AWS".into(),
                        "not_in_stack" => "in AWS but no longer in the stack".into(),
                        _ => format!("differs from the stack: {}", attrs.join(", ")),
                    },
                    fix: "apply the stack, or put the change into the stack file".into(),
                },
            )
        })
        .collect()
}

/// The human report: control by control, then every failure with its fix.
pub fn render(results: &[ControlResult], findings: &[Finding]) -> String {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
    let mut controls = Table::new();
    controls
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(160)
        .set_header(["control", "CIS", "severity", "outcome", "title"]);
    for r in results
        .iter()
        .filter(|r| r.outcome != Outcome::NotApplicable)
    {
        let outcome = match r.outcome {
            Outcome::Passed => match &r.note {
                Some(note) => format!("passed: {note}"),
                None => format!("passed ({})", r.resources),
            },
            Outcome::Failed => format!("FAILED ({} of {})", r.failing.len(), r.resources),
            Outcome::OptedOut => "opted out".to_string(),
            Outcome::NotApplicable => unreachable!("filtered above"),
        };
        controls.add_row([
            r.control.to_string(),
            r.cis.unwrap_or("").to_string(),
            r.severity.label().to_string(),
            outcome,
            r.title.to_string(),
        ]);
    }
    let mut out = controls.to_string();
    if findings.is_empty() {
        return out;
    }
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(160)
        .set_header([
            "control",
            "severity",
            "resource",
            "finding",
            "why it matters",
            "fix",
        ]);
    for f in findings {
        let (severity, fix) = match &f.opted_out {
            Some(reason) => ("opted out".to_string(), format!("opted out: {reason}")),
            None => (f.severity.label().to_string(), f.fix.clone()),
        };
        table.add_row([
            f.control.to_string(),
            severity,
            f.resource.clone(),
            f.finding.clone(),
            f.why.to_string(),
            fix,
        ]);
    }
    out.push('\n');
    out.push_str(&table.to_string());
    out
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
        // What replaces, declared here: the real schemas live with the AWS providers.
        use crate::schema::for_tests::{SUBNET, VPC};
        use crate::schema::{Attr, Schema};
        static GROUP: Schema = Schema::new(
            Kind::SecurityGroup,
            &[
                Attr::new("vpc_id").replaces(),
                Attr::new("description").replaces(),
            ],
        );
        let schemas = |kind: Kind| -> &'static Schema {
            match kind {
                Kind::Vpc => &VPC,
                Kind::Subnet => &SUBNET,
                Kind::SecurityGroup => &GROUP,
                other => crate::schema::undeclared(other),
            }
        };
        let plan = crate::plan::diff(&desired, &observed, &schemas).unwrap();
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
            "{}/../stacks/{stage}.toml",
            env!("CARGO_MANIFEST_DIR")
        ));
        let vars: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
        let stack = load(&path, &vars).unwrap().stack;
        expand(&stack, "dev", "us-east-1", &["az-1".into(), "az-2".into()]).unwrap()
    }

    fn run(specs: &[ResourceSpec]) -> Vec<Finding> {
        let subjects: Vec<Subject<'_>> = specs.iter().map(Subject::from).collect();
        check(&subjects)
    }

    #[test]
    fn the_shipped_stages_pass() {
        for stage in ["stage1", "stage2", "stage3"] {
            let path = PathBuf::from(format!(
                "{}/../stacks/{stage}.toml",
                env!("CARGO_MANIFEST_DIR")
            ));
            let opt_outs = load(&path, &[]).unwrap().stack.opt_out;
            let mut findings = run(&specs(stage, &[]));
            apply_opt_outs(&mut findings, &opt_outs);
            let counting: Vec<&Finding> = findings.iter().filter(|f| f.counts()).collect();
            assert!(counting.is_empty(), "{stage}: {counting:?}");
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
        let has = |control: &str, resource: &str| {
            findings
                .iter()
                .any(|f| f.control == control && f.resource == resource)
        };
        assert!(has("RDS.5", "db.main"), "{findings:?}");
        assert!(has("RDS.8", "db.main"));
        assert!(has("ftctl.min-capacity", "tier.web.asg"));
        assert!(has("DynamoDB.2", "table.orders"));
        assert!(
            findings.windows(2).all(|w| w[0].severity >= w[1].severity),
            "worst first: {findings:?}"
        );
        assert_eq!(Severity::exit_code(worst(&findings)), 2, "medium at worst");
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
        let mut findings = run(&all);
        findings.retain(|f| f.control == "EC2.18");
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].resource, "tier.app.sg");
        assert_eq!(findings[0].control, "EC2.18");
        assert_eq!(Severity::exit_code(worst(&findings)), 3, "high");
    }

    #[test]
    fn an_opted_out_control_is_shown_with_its_reason_and_does_not_count() {
        let mut all = specs("stage1", &["databases.main.multi_az=false"]);
        all.retain(|s| s.kind != Kind::SecurityGroup);
        let mut findings = run(&all);
        findings.retain(|f| f.control == "RDS.5");
        assert_eq!(worst(&findings), Some(Severity::Medium));
        let opt_outs = [OptOut {
            control: "RDS.5".into(),
            reason: "a dev database, restored from snapshots".into(),
            resources: vec!["db.main".into()],
        }];
        apply_opt_outs(&mut findings, &opt_outs);
        let f = findings.iter().find(|f| f.control == "RDS.5").unwrap();
        assert_eq!(
            f.opted_out.as_deref(),
            Some("a dev database, restored from snapshots")
        );
        assert_eq!(worst(&findings), None, "{findings:?}");
        let subjects: Vec<Subject<'_>> = all.iter().map(Subject::from).collect();
        let results = by_control(&subjects, &findings, &[]);
        let rds5 = results.iter().find(|r| r.control == "RDS.5").unwrap();
        assert_eq!(rds5.outcome, Outcome::OptedOut);
        assert_eq!(rds5.failing, vec!["db.main".to_string()]);
        let efs = results.iter().find(|r| r.control == "EFS.1").unwrap();
        assert_eq!(
            efs.outcome,
            Outcome::NotApplicable,
            "stage 1 has no file system"
        );
        let text = render(&results, &findings);
        assert!(text.contains("opted out: a dev database"), "{text}");
        // An opt-out for another resource does not cover this one.
        let mut findings = run(&all);
        findings.retain(|f| f.control == "RDS.5");
        apply_opt_outs(
            &mut findings,
            &[OptOut {
                resources: vec!["db.other".into()],
                ..opt_outs[0].clone()
            }],
        );
        assert_eq!(worst(&findings), Some(Severity::Medium));
    }

    /// The table of docs/controls.md, one row per control.
    fn docs_table() -> String {
        let mut out =
            String::from("| control | CIS | severity | judges | title |\n|---|---|---|---|---|\n");
        for c in CONTROLS
            .iter()
            .chain(controls::ACCOUNT_CONTROLS.iter().copied())
        {
            let judges = match c.kinds {
                [] => "the deployment as a whole (`check --live`)".to_string(),
                kinds => kinds
                    .iter()
                    .map(|k| k.label())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {judges} | {} |\n",
                c.id,
                c.cis.unwrap_or(""),
                c.severity.label(),
                c.title
            ));
        }
        out
    }

    #[test]
    fn every_control_has_a_unique_id_and_is_documented() {
        let mut seen = std::collections::BTreeSet::new();
        for c in CONTROLS
            .iter()
            .chain(controls::ACCOUNT_CONTROLS.iter().copied())
        {
            assert!(seen.insert(c.id), "{} twice", c.id);
            assert!(control(c.id).is_some(), "{} not found by id", c.id);
        }
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/controls.md"))
                .unwrap();
        let start = doc
            .find("| control |")
            .expect("the table in docs/controls.md");
        let end = doc[start..]
            .find("\n\n")
            .map_or(doc.len(), |e| start + e + 1);
        assert_eq!(
            &doc[start..end],
            docs_table(),
            "docs/controls.md is stale: replace its table with the right side"
        );
    }

    #[test]
    fn cloudtrail_passes_with_the_accounts_trail_and_fails_without_one() {
        let (judged, failure) = controls::trail_check("eu-west-1", &["org-trail".into()]);
        assert!(failure.is_none());
        assert_eq!(
            judged.note.as_deref(),
            Some("recorded by the account's trail org-trail")
        );
        let (judged, failure) = controls::trail_check("eu-west-1", &[]);
        let failure = failure.expect("a finding without a trail");
        assert_eq!(failure.control, "CloudTrail.1");
        assert_eq!(failure.severity, Severity::High);
        assert!(failure.finding.contains("eu-west-1"), "{}", failure.finding);
        let results = by_control(&[], &[failure], &[judged]);
        assert_eq!(results.last().unwrap().outcome, Outcome::Failed);
    }
}
