//! IAM actions from the requests a run made (the proxy's `service:Operation` counts), and the
//! least-privilege policy document of a stage built from them: docs/iam/<stage>.json.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The IAM prefix of a signing service (the SigV4 scope's service).
fn prefix(service: &str) -> &str {
    match service {
        "monitoring" => "cloudwatch",
        // The Resource Groups Tagging API signs as `tagging`; its actions are `tag:`.
        "tagging" => "tag",
        other => other,
    }
}

/// REST operations, identified by the proxy as method and path shape, as IAM actions.
fn rest_action(service: &str, op: &str) -> Option<&'static [&'static str]> {
    let actions: &[&str] = match (service, op) {
        ("s3", "PUT /*") => &["s3:CreateBucket"],
        ("s3", "DELETE /*") => &["s3:DeleteBucket"],
        ("s3", "HEAD /*") => &["s3:ListBucket"],
        ("s3", "GET /") | ("s3", "ListBuckets") => &["s3:ListAllMyBuckets"],
        ("s3", "PUT /*?tagging") => &["s3:PutBucketTagging"],
        ("s3", "GET /*?tagging") => &["s3:GetBucketTagging"],
        ("s3", "DELETE /*?tagging") => &["s3:PutBucketTagging"],
        ("s3", "PUT /*?policy") => &["s3:PutBucketPolicy"],
        ("s3", "GET /*?policy") => &["s3:GetBucketPolicy"],
        ("s3", "DELETE /*?policy") => &["s3:DeleteBucketPolicy"],
        ("s3", "PUT /*?publicAccessBlock") => &["s3:PutBucketPublicAccessBlock"],
        ("s3", "GET /*?publicAccessBlock") => &["s3:GetBucketPublicAccessBlock"],
        ("s3", "PUT /*?encryption") => &["s3:PutEncryptionConfiguration"],
        ("s3", "GET /*?encryption") => &["s3:GetEncryptionConfiguration"],
        ("s3", "GET /*?location") => &["s3:GetBucketLocation"],
        ("s3", "GET /*?versions") => &["s3:ListBucketVersions"],
        ("s3", "PUT /*?versioning") => &["s3:PutBucketVersioning"],
        ("s3", "GET /*?versioning") => &["s3:GetBucketVersioning"],
        // DeleteBucketLifecycle is authorised as PutLifecycleConfiguration (S3 API Reference,
        // DeleteBucketLifecycle: "Permissions").
        ("s3", "PUT /*?lifecycle") | ("s3", "DELETE /*?lifecycle") => {
            &["s3:PutLifecycleConfiguration"]
        }
        ("s3", "GET /*?lifecycle") => &["s3:GetLifecycleConfiguration"],
        // HeadObject is authorised as GetObject (S3 API Reference, HeadObject: "Permissions").
        ("s3", "HEAD /*/*") => &["s3:GetObject"],
        ("ses", "POST /v2/email/outbound-emails") => &["ses:SendEmail"],
        ("s3", "GET /*?list-type") | ("s3", "GET /*?list-type&prefix") => &["s3:ListBucket"],
        ("s3", "POST /*?delete") | ("s3", "DeleteObjects") => {
            &["s3:DeleteObject", "s3:DeleteObjectVersion"]
        }
        ("route53", "POST /2013-04-01/hostedzone") => &["route53:CreateHostedZone"],
        ("route53", "GET /2013-04-01/hostedzone") => &["route53:ListHostedZones"],
        ("route53", "GET /2013-04-01/hostedzone/*") => &["route53:GetHostedZone"],
        ("route53", "DELETE /2013-04-01/hostedzone/*") => &["route53:DeleteHostedZone"],
        ("route53", "POST /2013-04-01/hostedzone/*/rrset") => &["route53:ChangeResourceRecordSets"],
        ("route53", "GET /2013-04-01/hostedzone/*/rrset") => &["route53:ListResourceRecordSets"],
        ("route53", "POST /2013-04-01/healthcheck") => &["route53:CreateHealthCheck"],
        ("route53", "GET /2013-04-01/healthcheck") => &["route53:ListHealthChecks"],
        ("route53", "GET /2013-04-01/healthcheck/*") => &["route53:GetHealthCheck"],
        ("route53", "POST /2013-04-01/healthcheck/*") => &["route53:UpdateHealthCheck"],
        ("route53", "DELETE /2013-04-01/healthcheck/*") => &["route53:DeleteHealthCheck"],
        ("route53", "POST /2013-04-01/tags/hostedzone/*")
        | ("route53", "POST /2013-04-01/tags/healthcheck/*") => &["route53:ChangeTagsForResource"],
        ("route53", "GET /2013-04-01/tags/hostedzone/*")
        | ("route53", "GET /2013-04-01/tags/healthcheck/*") => &["route53:ListTagsForResource"],
        ("route53", "GET /2013-04-01/change/*") => &["route53:GetChange"],
        ("backup", "PUT /backup-vaults/*") => &["backup:CreateBackupVault"],
        ("backup", "DELETE /backup-vaults/*") => &["backup:DeleteBackupVault"],
        ("backup", "GET /backup-vaults") => &["backup:ListBackupVaults"],
        ("backup", "GET /backup-vaults/*") => &["backup:DescribeBackupVault"],
        ("backup", "GET /backup-vaults/*/recovery-points") => {
            &["backup:ListRecoveryPointsByBackupVault"]
        }
        ("backup", "PUT /backup/plans") => &["backup:CreateBackupPlan"],
        ("backup", "POST /backup/plans/*") => &["backup:UpdateBackupPlan"],
        ("backup", "GET /backup/plans") => &["backup:ListBackupPlans"],
        ("backup", "GET /backup/plans/*") => &["backup:GetBackupPlan"],
        ("backup", "DELETE /backup/plans/*") => &["backup:DeleteBackupPlan"],
        ("backup", "PUT /backup/plans/*/selections") => &["backup:CreateBackupSelection"],
        ("backup", "GET /backup/plans/*/selections") => &["backup:ListBackupSelections"],
        ("backup", "GET /backup/plans/*/selections/*") => &["backup:GetBackupSelection"],
        ("backup", "DELETE /backup/plans/*/selections/*") => &["backup:DeleteBackupSelection"],
        ("backup", "GET /tags/*") => &["backup:ListTags"],
        ("backup", "POST /tags/*") => &["backup:TagResource"],
        ("backup", "POST /untag/*") => &["backup:UntagResource"],
        // "To create a distribution with tags, you need cloudfront:CreateDistribution and
        // cloudfront:TagResource" (CloudFront API Reference, CreateDistributionWithTags).
        ("cloudfront", "POST /2020-05-31/distribution?WithTags") => {
            &["cloudfront:CreateDistribution", "cloudfront:TagResource"]
        }
        ("cloudfront", "GET /2020-05-31/distribution") => &["cloudfront:ListDistributions"],
        ("cloudfront", "GET /2020-05-31/distribution/*") => &["cloudfront:GetDistribution"],
        ("cloudfront", "GET /2020-05-31/distribution/*/config") => {
            &["cloudfront:GetDistributionConfig"]
        }
        ("cloudfront", "PUT /2020-05-31/distribution/*/config") => {
            &["cloudfront:UpdateDistribution"]
        }
        ("cloudfront", "DELETE /2020-05-31/distribution/*") => &["cloudfront:DeleteDistribution"],
        ("cloudfront", "GET /2020-05-31/tagging?Resource") => &["cloudfront:ListTagsForResource"],
        ("cloudfront", "POST /2020-05-31/origin-access-control") => {
            &["cloudfront:CreateOriginAccessControl"]
        }
        ("cloudfront", "GET /2020-05-31/origin-access-control") => {
            &["cloudfront:ListOriginAccessControls"]
        }
        ("cloudfront", "GET /2020-05-31/origin-access-control/*") => {
            &["cloudfront:GetOriginAccessControl"]
        }
        ("cloudfront", "PUT /2020-05-31/origin-access-control/*/config") => {
            &["cloudfront:UpdateOriginAccessControl"]
        }
        ("cloudfront", "DELETE /2020-05-31/origin-access-control/*") => {
            &["cloudfront:DeleteOriginAccessControl"]
        }
        _ => return None,
    };
    Some(actions)
}

/// EFS (REST): the path's literal words decide the resource, the method what is done to it.
fn efs_action(op: &str) -> Option<String> {
    let (method, path) = op.split_once(' ')?;
    let path = path.split('?').next().unwrap_or_default();
    let words: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "*")
        .collect();
    let action = match (method, words.get(1..).unwrap_or_default()) {
        ("POST", ["file-systems"]) => "CreateFileSystem",
        ("GET", ["file-systems"]) => "DescribeFileSystems",
        ("PUT", ["file-systems"]) => "UpdateFileSystem",
        ("DELETE", ["file-systems"]) => "DeleteFileSystem",
        ("PUT", ["file-systems", "backup-policy"]) => "PutBackupPolicy",
        ("GET", ["file-systems", "backup-policy"]) => "DescribeBackupPolicy",
        ("PUT", ["file-systems", "lifecycle-configuration"]) => "PutLifecycleConfiguration",
        ("GET", ["file-systems", "lifecycle-configuration"]) => "DescribeLifecycleConfiguration",
        ("POST", ["mount-targets"]) => "CreateMountTarget",
        ("GET", ["mount-targets"]) => "DescribeMountTargets",
        ("DELETE", ["mount-targets"]) => "DeleteMountTarget",
        ("GET", ["mount-targets", "security-groups"]) => "DescribeMountTargetSecurityGroups",
        ("PUT", ["mount-targets", "security-groups"]) => "ModifyMountTargetSecurityGroups",
        ("POST", ["access-points"]) => "CreateAccessPoint",
        ("GET", ["access-points"]) => "DescribeAccessPoints",
        ("DELETE", ["access-points"]) => "DeleteAccessPoint",
        ("POST", ["resource-tags"]) => "TagResource",
        ("GET", ["resource-tags"]) => "ListTagsForResource",
        ("DELETE", ["resource-tags"]) => "UntagResource",
        _ => return None,
    };
    Some(format!("elasticfilesystem:{action}"))
}

/// FIS and EventBridge Scheduler (REST): the first path segment names the resource, the
/// method and whether an id follows what is done to it.
fn by_resource(service: &str, op: &str) -> Option<String> {
    let (method, path) = op.split_once(' ')?;
    let path = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let one = parts.len() > 1;
    let action = match (service, method, parts.first().copied()?, one) {
        ("fis", "POST", "experimentTemplates", false) => "fis:CreateExperimentTemplate",
        ("fis", "GET", "experimentTemplates", false) => "fis:ListExperimentTemplates",
        ("fis", "GET", "experimentTemplates", true) => "fis:GetExperimentTemplate",
        ("fis", "DELETE", "experimentTemplates", true) => "fis:DeleteExperimentTemplate",
        ("fis", "GET", "experiments", false) => "fis:ListExperiments",
        ("fis", "GET", "experiments", true) => "fis:GetExperiment",
        ("scheduler", "POST", "schedule-groups", true) => "scheduler:CreateScheduleGroup",
        ("scheduler", "DELETE", "schedule-groups", true) => "scheduler:DeleteScheduleGroup",
        ("scheduler", "GET", "schedules", false) => "scheduler:ListSchedules",
        ("scheduler", "POST", "schedules", true) => "scheduler:CreateSchedule",
        ("scheduler", "GET", "schedules", true) => "scheduler:GetSchedule",
        ("scheduler", "DELETE", "schedules", true) => "scheduler:DeleteSchedule",
        _ => return None,
    };
    Some(action.to_string())
}

/// The IAM actions the counted requests need; `Err` lists requests this table cannot name.
pub fn actions(counts: &BTreeMap<String, u64>) -> Result<BTreeSet<String>, Vec<String>> {
    let mut out = BTreeSet::new();
    let mut unknown = Vec::new();
    for key in counts.keys() {
        let Some((service, op)) = key.split_once(':') else {
            continue;
        };
        if let Some(actions) = rest_action(service, op) {
            out.extend(actions.iter().map(|a| a.to_string()));
        } else if matches!(service, "fis" | "scheduler") {
            match by_resource(service, op) {
                Some(a) => {
                    out.insert(a);
                }
                None => unknown.push(key.clone()),
            }
        } else if service == "elasticfilesystem" {
            match efs_action(op) {
                Some(a) => {
                    out.insert(a);
                }
                None => unknown.push(key.clone()),
            }
        } else if service == "xray" {
            // X-Ray's REST paths are its operations: POST /CreateGroup, POST /Groups (GetGroups).
            let name = op.rsplit('/').next().unwrap_or_default();
            let name = match name {
                "Groups" => "GetGroups",
                "GetGroup" => "GetGroup",
                other => other,
            };
            out.insert(format!("xray:{name}"));
        } else if op.contains(' ') || op.is_empty() || op == "unknown" {
            unknown.push(key.clone());
        } else if service == "sts" && op == "GetCallerIdentity" {
            // Needs no permission.
        } else {
            out.insert(format!("{}:{op}", prefix(service)));
        }
    }
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(unknown)
    }
}

/// What a run's calls do not show but AWS checks: passing ftctl's roles to the services that
/// use them (Auto Scaling through the launch template's instance profile, EMR, ECS), launching
/// the instances a launch template describes, the service-linked roles services create on
/// first use, and the replica operations UpdateTable performs for a global table.
pub fn implied(actions: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if actions.contains("autoscaling:CreateAutoScalingGroup") {
        out.extend(["ec2:RunInstances".to_string(), "ec2:CreateTags".to_string()]);
    }
    // WAF also checks the caller may attach an ACL to the balancer (AWS WAF Developer Guide,
    // "Associating or disassociating a web ACL").
    if actions.contains("wafv2:AssociateWebACL") {
        out.insert("elasticloadbalancing:SetWebAcl".to_string());
    }
    // KMS runs its lockout check on CreateKey's policy against the caller's own right to
    // change it, and CreateKey with tags needs TagResource (KMS Developer Guide, "Key
    // policies", "Controlling access to tags"); the rest are updates a run may make.
    let when = |trigger: &str, implied: &[&str], out: &mut BTreeSet<String>| {
        if actions.contains(trigger) {
            out.extend(implied.iter().map(|a| a.to_string()));
        }
    };
    when(
        "kms:CreateKey",
        &[
            "kms:PutKeyPolicy",
            "kms:TagResource",
            "kms:EnableKeyRotation",
            "kms:DisableKeyRotation",
            "kms:UpdateKeyDescription",
            "kms:UpdateAlias",
        ],
        &mut out,
    );
    when("sns:CreateTopic", &["sns:SetTopicAttributes"], &mut out);
    // The shared reads (src/aws/reads.rs) fall back on each resource's own read for what they
    // do not show yet (the tagging index lags on AWS), so a policy that allows them needs those.
    when(
        "tag:GetResources",
        &["cloudwatch:ListTagsForResource"],
        &mut out,
    );
    when(
        "iam:GetAccountAuthorizationDetails",
        &["iam:ListInstanceProfileTags"],
        &mut out,
    );
    // "To be able to tag a queue on creation, you must have the sqs:CreateQueue and
    // sqs:TagQueue permissions" (SQS API Reference, CreateQueue).
    when("sqs:CreateQueue", &["sqs:TagQueue"], &mut out);
    // `ftctl backup --list` reads the vault's recovery points (not part of the recorded run).
    when(
        "backup:CreateBackupVault",
        &["backup:ListRecoveryPointsByBackupVault"],
        &mut out,
    );
    // Tags on a new template need TagResource (Service Authorization Reference, AWS FIS:
    // CreateExperimentTemplate's dependent actions).
    when(
        "fis:CreateExperimentTemplate",
        &["fis:TagResource"],
        &mut out,
    );
    when(
        "scheduler:CreateScheduleGroup",
        &["scheduler:TagResource"],
        &mut out,
    );
    // --collect reads each finished experiment (none has finished in the recorded run), and a
    // schedule left by a run that stopped half-way is replaced.
    when("fis:ListExperiments", &["fis:GetExperiment"], &mut out);
    when(
        "scheduler:CreateSchedule",
        &["scheduler:DeleteSchedule"],
        &mut out,
    );
    // A vault's storage and its key grants (AWS Backup Developer Guide, "Backup vault creation
    // and deletion": backup:* does not include them).
    when(
        "backup:CreateBackupVault",
        &[
            "backup-storage:MountCapsule",
            "kms:CreateGrant",
            "kms:GenerateDataKey",
            "kms:Decrypt",
            "kms:RetireGrant",
            "kms:DescribeKey",
            "backup:DescribeBackupVault",
            "backup:TagResource",
            "backup:UntagResource",
        ],
        &mut out,
    );
    when(
        "backup:CreateBackupPlan",
        &["backup:UpdateBackupPlan"],
        &mut out,
    );
    when("wafv2:CreateWebACL", &["wafv2:UpdateWebACL"], &mut out);
    // Tags given at creation need AddTagsToResource as well (RDS User Guide, "Granting
    // permission to tag Amazon RDS resources during creation"); a master password managed in
    // Secrets Manager is made with the caller's rights (RDS User Guide, "Password management
    // with Amazon RDS and AWS Secrets Manager", required permissions; the ACK RDS controller
    // needed the same, aws-controllers-k8s/rds-controller#251). The emulators check neither.
    for create in ["rds:CreateDBInstance", "rds:CreateDBCluster"] {
        when(
            create,
            &[
                "rds:AddTagsToResource",
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:RotateSecret",
                "secretsmanager:DeleteSecret",
            ],
            &mut out,
        );
    }
    // `ftctl backup` (not part of the recorded run) snapshots and lists every data store.
    when(
        "rds:CreateDBInstance",
        &[
            "rds:CreateDBSnapshot",
            "rds:DescribeDBSnapshots",
            "rds:DescribeDBClusterSnapshots",
        ],
        &mut out,
    );
    // DocumentDB's API is RDS's (its actions are rds: ones; DocumentDB Developer Guide,
    // "Identity-based policies"): `ftctl backup` snapshots and lists its clusters, and a
    // destroy without --skip-final-snapshot leaves a final snapshot (the recorded run skips it),
    // and `chaos docdb-failover` fails it over.
    when(
        "rds:CreateDBCluster",
        &[
            "rds:CreateDBClusterSnapshot",
            "rds:DescribeDBClusterSnapshots",
            "rds:FailoverDBCluster",
        ],
        &mut out,
    );
    // The distribution's own changes the recorded runs do not make: a changed origin access
    // control, the balancer's group narrowed to CloudFront's prefix list (off in the shipped
    // stage 3) and, with a public zone away from us-east-1, the distribution's certificate.
    when(
        "cloudfront:CreateDistribution",
        &[
            "cloudfront:UpdateOriginAccessControl",
            "ec2:DescribeManagedPrefixLists",
        ],
        &mut out,
    );
    if actions.contains("dynamodb:UpdateTable") {
        out.extend(
            ["dynamodb:CreateTableReplica", "dynamodb:DeleteTableReplica"]
                .iter()
                .map(|s| s.to_string()),
        );
    }
    out
}

/// The service-linked roles the services ftctl creates things with make on first use in an
/// account (each service's "Using service-linked roles" page).
fn linked_services(actions: &BTreeSet<String>) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (action, service) in [
        (
            "autoscaling:CreateAutoScalingGroup",
            "autoscaling.amazonaws.com",
        ),
        (
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing.amazonaws.com",
        ),
        ("rds:CreateDBInstance", "rds.amazonaws.com"),
        (
            "elasticache:CreateReplicationGroup",
            "elasticache.amazonaws.com",
        ),
        ("ecs:CreateService", "ecs.amazonaws.com"),
        (
            "elasticmapreduce:RunJobFlow",
            "elasticmapreduce.amazonaws.com",
        ),
        (
            "elasticfilesystem:CreateFileSystem",
            "elasticfilesystem.amazonaws.com",
        ),
        ("dynamodb:UpdateTable", "replication.dynamodb.amazonaws.com"),
    ] {
        if actions.contains(action) {
            out.push(service);
        }
    }
    if actions.contains("application-autoscaling:RegisterScalableTarget") {
        if actions.contains("elasticache:CreateReplicationGroup") {
            out.push("elasticache.application-autoscaling.amazonaws.com");
        }
        if actions.contains("ecs:CreateService") {
            out.push("ecs.application-autoscaling.amazonaws.com");
        }
    }
    out
}

/// The policy document: the actions on any resource (ftctl finds its resources by tag, and
/// most of these actions take no resource-level condition), passing only ftctl's own roles
/// (path /ftctl/), creating only the service-linked roles its services need.
pub fn policy(stage: &str, counted: &BTreeSet<String>) -> Value {
    let mut all = counted.clone();
    all.extend(implied(counted));
    let mut statements = vec![json!({
        "Sid": "FtctlCalls",
        "Effect": "Allow",
        "Action": all.iter().collect::<Vec<_>>(),
        "Resource": "*",
    })];
    if all.iter().any(|a| a.starts_with("iam:CreateRole")) {
        statements.push(json!({
            "Sid": "PassFtctlRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::*:role/ftctl/*",
        }));
    }
    // The game days' roles, passed to FIS with each template and to Scheduler with each
    // schedule (Service Authorization Reference: CreateExperimentTemplate, CreateSchedule).
    if all.contains("fis:CreateExperimentTemplate") {
        statements.push(json!({
            "Sid": "PassGameDayRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::*:role/ftctl-game-days/*",
            "Condition": { "StringEquals": {
                "iam:PassedToService": ["fis.amazonaws.com", "scheduler.amazonaws.com"]
            } },
        }));
    }
    statements.push(json!({
        "Sid": "ServiceLinkedRoles",
        "Effect": "Allow",
        "Action": "iam:CreateServiceLinkedRole",
        "Resource": "*",
        "Condition": { "StringEquals": { "iam:AWSServiceName": linked_services(&all) } },
    }));
    json!({
        "Version": "2012-10-17",
        "Id": format!("ftctl-{stage}"),
        "Statement": statements,
    })
}
