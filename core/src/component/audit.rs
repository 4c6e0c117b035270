//! The audit trail of a stack: a multi-region CloudTrail trail into a bucket only it may write.
//! Nothing to check beyond what the types say. Its settings in the stack file are declared here
//! too.

use super::{Component, Cx, BUCKET_NAME_MAX};
use crate::deployment::{physical_name, trail_name};
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::Stack;
use serde::{Deserialize, Serialize};

/// The deployment's audit trail.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// A multi-region CloudTrail trail of the deployment's own, with log-file validation into an
    /// encrypted bucket. Off by default: a trail records the whole account's calls, CloudTrail
    /// allows five per region, and every trail after the account's first is billed ($2.00 per
    /// 100,000 management events; AWS CloudTrail pricing and quotas). Most accounts already
    /// have one (an organization trail): `ftctl check --live` says which covers the region.
    #[serde(default)]
    pub trail: bool,
}

/// The CloudTrail trail and its bucket.
pub(crate) struct AuditComponent;

impl Component for AuditComponent {
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        let _ = (stack, bad);
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack, env, region, ..
        } = *cx;
        if stack.audit.trail {
            // SSE-S3, not KMS: CloudTrail cannot write into a bucket whose default key is the AWS
            // managed aws/s3 key (a customer managed key with a policy for CloudTrail would do).
            out.push(
                ResourceSpec::new(
                    "audit.logs",
                    Kind::S3Bucket,
                    physical_name(env, "audit-logs", BUCKET_NAME_MAX),
                )
                .with("kms_encrypted", Val::Bool(false))
                .with("public_access_blocked", Val::Bool(true))
                .with("lifecycle", stack.retention.rules())
                .with("writer_service", Val::str("cloudtrail.amazonaws.com"))
                // The bucket policy lets only this trail write (aws:SourceArn).
                .with("writer_trail", Val::str(trail_name(env, region))),
            );
            out.push(
                ResourceSpec::new("audit.trail", Kind::Trail, trail_name(env, region))
                    .with("bucket", Val::reference("audit.logs", "name"))
                    .with("multi_region", Val::Bool(true))
                    .with("log_file_validation", Val::Bool(true))
                    .with("global_service_events", Val::Bool(true))
                    .with("logging", Val::Bool(true)),
            );
        }
    }
}
