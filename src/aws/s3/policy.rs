//! The bucket policy letting one CloudFront distribution read part of a bucket (the maintenance
//! page): a resource of its own, because it names the distribution, which names the bucket as
//! its origin. It admits the CloudFront service principal to `s3:GetObject` under `paths`, only
//! on behalf of that distribution (`AWS:SourceArn`), as origin access control requires
//! (CloudFront Developer Guide, "Restrict access to an Amazon S3 origin"), and refuses plain
//! HTTP. Read from the policy the bucket provider hands over: no request of its own.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, error_code, observed_from_spec, s};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;

static SCHEMA: Schema = Schema::new(
    Kind::BucketPolicy,
    &[
        Attr::new("bucket").replaces(),
        Attr::new("paths"),
        Attr::new("reader_distribution"),
    ],
);

pub struct BucketPolicyProvider;

/// The output under which the bucket provider hands over the bucket's policy as it read it.
pub const POLICY_OUTPUT: &str = "policy";

const READER_SID: &str = "CloudFrontReads";
const TLS_SID: &str = "DenyInsecureTransport";

/// Whether a statement of a bucket's policy is one this provider writes.
pub fn is_reader_statement(statement: &serde_json::Value) -> bool {
    matches!(statement["Sid"].as_str(), Some(READER_SID | TLS_SID))
}

/// A policy's physical id: its bucket's name, marked (no two resources may share one).
fn policy_id(bucket: &str) -> String {
    format!("{bucket}#policy")
}

fn document(bucket: &str, paths: &str, distribution: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": READER_SID,
                "Effect": "Allow",
                "Principal": { "Service": "cloudfront.amazonaws.com" },
                "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::{bucket}/{paths}"),
                "Condition": { "StringEquals": { "AWS:SourceArn": distribution } },
            },
            {
                "Sid": TLS_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [
                    format!("arn:aws:s3:::{bucket}"),
                    format!("arn:aws:s3:::{bucket}/*"),
                ],
                "Condition": { "Bool": { "aws:SecureTransport": "false" } },
            },
        ],
    })
    .to_string()
}

/// The policy as the bucket holds it, in the spec's terms; none when ftctl did not write it.
fn observed(bucket: &Observed, policy: &str) -> Option<Observed> {
    let doc: serde_json::Value = serde_json::from_str(policy).ok()?;
    let reader = doc["Statement"]
        .as_array()?
        .iter()
        .find(|st| st["Sid"] == READER_SID)?;
    let name = &bucket.physical_id;
    let paths = reader["Resource"]
        .as_str()?
        .strip_prefix(&format!("arn:aws:s3:::{name}/"))?;
    let distribution = reader["Condition"]["StringEquals"]["AWS:SourceArn"].as_str()?;
    let mut o = Observed::new(
        &format!("{}.policy", bucket.id),
        Kind::BucketPolicy,
        &policy_id(name),
    )
    .prop("bucket", Val::str(name))
    .prop("paths", Val::str(paths))
    .prop("reader_distribution", Val::str(distribution));
    o.name = bucket.name.clone();
    o.stack = bucket.stack.clone();
    Some(o)
}

#[async_trait]
impl Provider for BucketPolicyProvider {
    fn kind(&self) -> Kind {
        Kind::BucketPolicy
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn observe_after(&self) -> &'static [Kind] {
        &[Kind::S3Bucket]
    }

    async fn observe(&self, _: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>> {
        Ok(found
            .iter()
            .filter(|b| b.kind == Kind::S3Bucket)
            .filter_map(|b| observed(b, b.outputs.get(POLICY_OUTPUT)?))
            .collect())
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let bucket = s(spec, "bucket")?;
        let policy = document(bucket, s(spec, "paths")?, s(spec, "reader_distribution")?);
        ctx.clients
            .s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map_err(|e| aws_error(&format!("writing the policy of bucket {bucket}"), e))?;
        Ok(observed_from_spec(spec, &policy_id(bucket)))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        _current: &Observed,
    ) -> Result<Observed> {
        self.create(ctx, spec).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let bucket = current
            .physical_id
            .strip_suffix("#policy")
            .unwrap_or(&current.physical_id);
        match ctx
            .clients
            .s3
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("NoSuchBucket") => Ok(()),
            Err(e) => Err(aws_error(
                &format!("removing the policy of bucket {bucket}"),
                e,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_reads_back_as_written_and_is_no_writer() {
        let arn = "arn:aws:cloudfront::123456789012:distribution/E2ABC";
        let doc = document("dev-maintenance-1-us-east-1", "maintenance/*", arn);
        let bucket = Observed::new(
            "edge.maintenance",
            Kind::S3Bucket,
            "dev-maintenance-1-us-east-1",
        );
        let seen = observed(&bucket, &doc).unwrap();
        assert_eq!(seen.id, "edge.maintenance.policy");
        assert_eq!(seen.physical_id, "dev-maintenance-1-us-east-1#policy");
        assert_eq!(seen.props["paths"], Val::str("maintenance/*"));
        assert_eq!(seen.props["reader_distribution"], Val::str(arn));
        let parsed: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert!(parsed["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .all(is_reader_statement));
        // CloudTrail's policy is not taken for this one.
        let trail = r#"{"Statement":[{"Sid":"AWSCloudTrailAclCheck","Effect":"Allow"}]}"#;
        assert!(observed(&bucket, trail).is_none());
    }
}
