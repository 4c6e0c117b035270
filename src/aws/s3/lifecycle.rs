//! S3 lifecycle rules from the stack's `[retention]`: written whole (PutBucketLifecycleConfiguration
//! replaces the bucket's configuration), read back into the `lifecycle` attribute, and waited
//! for, since S3 takes a while to show a new configuration (S3 User Guide, "Setting an S3
//! Lifecycle configuration on a bucket": "expect a delay of a few minutes"; terraform-provider-aws
//! waits the same way, hashicorp/terraform-provider-aws#41363). Shared by the log buckets and
//! the evidence bucket.

use crate::aws::sdk::{aws_error, error_code};
use crate::resource::Val;
use crate::stack::Retention;
use anyhow::Result;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    Transition, TransitionDefaultMinimumObjectSize, TransitionStorageClass,
};
use std::time::{Duration, Instant};

/// The rule ftctl owns; read back by this id.
const RULE_ID: &str = "ftctl-age";
/// The evidence bucket's second rule: old versions and lone delete markers.
const VERSIONS_RULE_ID: &str = "ftctl-versions";
/// How long a new configuration may take to read back before ftctl goes on without it.
const SHOW_LIMIT: Duration = Duration::from_secs(120);

/// Which objects the rule covers, and whether the bucket keeps versions.
#[derive(Clone, Copy)]
pub struct Scope {
    /// Key prefix the transitions and expiry apply to ("" for every object).
    pub prefix: &'static str,
    /// A versioned bucket: expiry only hides the current version behind a delete marker, so old
    /// versions and lone markers get their own rule.
    pub versioned: bool,
}

/// A log bucket: every object, one version each.
pub const LOGS: Scope = Scope {
    prefix: "",
    versioned: false,
};

fn days(v: &Val, key: &str) -> i32 {
    v.as_map()
        .and_then(|m| m.get(key))
        .and_then(Val::as_i64)
        .unwrap_or(0)
        .try_into()
        .unwrap_or(0)
}

fn rules(lifecycle: &Val, scope: Scope) -> Result<Vec<LifecycleRule>> {
    let (ia, glacier, expire) = (
        days(lifecycle, "infrequent_access_days"),
        days(lifecycle, "glacier_days"),
        days(lifecycle, "expire_days"),
    );
    let abort = AbortIncompleteMultipartUpload::builder()
        .days_after_initiation(Retention::ABORT_UPLOADS_DAYS as i32)
        .build();
    let mut age = LifecycleRule::builder()
        .id(RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(scope.prefix).build());
    for (after, class) in [
        (ia, TransitionStorageClass::StandardIa),
        (glacier, TransitionStorageClass::Glacier),
    ] {
        if after > 0 {
            age = age.transitions(
                Transition::builder()
                    .days(after)
                    .storage_class(class)
                    .build(),
            );
        }
    }
    if expire > 0 {
        age = age.expiration(LifecycleExpiration::builder().days(expire).build());
    }
    // S3 refuses a rule without an action: the age rule goes only when it has one.
    let ages = ia > 0 || glacier > 0 || expire > 0;
    let mut out = Vec::new();
    if scope.versioned {
        if ages {
            out.push(age.build()?);
        }
        out.push(
            LifecycleRule::builder()
                .id(VERSIONS_RULE_ID)
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(Retention::NONCURRENT_DAYS as i32)
                        .build(),
                )
                // (not with Days in one Expiration: S3 refuses the pair)
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .abort_incomplete_multipart_upload(abort)
                .build()?,
        );
    } else {
        out.push(age.abort_incomplete_multipart_upload(abort).build()?);
    }
    Ok(out)
}

/// Writes the rules `lifecycle` stands for on bucket `name`, then waits until S3 reads them back.
/// `owner` is the account the request expects to own the bucket.
pub async fn put(
    s3: &aws_sdk_s3::Client,
    name: &str,
    owner: Option<&str>,
    lifecycle: &Val,
    scope: Scope,
) -> Result<()> {
    s3.put_bucket_lifecycle_configuration()
        .bucket(name)
        .set_expected_bucket_owner(owner.map(str::to_string))
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules(lifecycle, scope)?))
                .build()?,
        )
        // Said, not left to the default: configurations from before September 2024 read back
        // `varies_by_storage_class` (hashicorp/terraform-provider-aws#41073). Objects under
        // 128 KB (most log files, every evidence record) then stay where they are until they
        // expire, which is also what is cheapest for them: a transition costs a request and
        // Glacier adds 40 KB of overhead per object (S3 User Guide, lifecycle transition
        // constraints, "Cost considerations").
        .transition_default_minimum_object_size(
            TransitionDefaultMinimumObjectSize::AllStorageClasses128K,
        )
        .send()
        .await
        .map_err(|e| aws_error(&format!("writing the lifecycle rules of bucket {name}"), e))?;
    let started = Instant::now();
    loop {
        if read(s3, name, owner).await? == *lifecycle {
            return Ok(());
        }
        if started.elapsed() > SHOW_LIMIT {
            tracing::warn!(
                "bucket {name}: S3 does not show the new lifecycle rules yet; the next plan may \
                 list them again"
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The `lifecycle` attribute of bucket `name` as S3 holds it: ftctl's rule read back, zeros
/// where it has none.
pub async fn read(s3: &aws_sdk_s3::Client, name: &str, owner: Option<&str>) -> Result<Val> {
    let mut r = Retention {
        infrequent_access_after_days: 0,
        glacier_after_days: 0,
        expire_after_days: 0,
    };
    match s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .set_expected_bucket_owner(owner.map(str::to_string))
        .send()
        .await
    {
        Ok(out) => {
            if let Some(rule) = out.rules().iter().find(|r| r.id() == Some(RULE_ID)) {
                for t in rule.transitions() {
                    let days = t.days().unwrap_or(0).max(0) as u32;
                    match t.storage_class() {
                        Some(TransitionStorageClass::StandardIa) => {
                            r.infrequent_access_after_days = days
                        }
                        Some(TransitionStorageClass::Glacier) => r.glacier_after_days = days,
                        _ => {}
                    }
                }
                r.expire_after_days =
                    rule.expiration().and_then(|e| e.days()).unwrap_or(0).max(0) as u32;
            }
        }
        // (S3 API reference, GetBucketLifecycleConfiguration: 404 when the bucket has none)
        Err(e) if error_code(&e).as_deref() == Some("NoSuchLifecycleConfiguration") => {}
        Err(e) => {
            return Err(aws_error(
                &format!("reading the lifecycle rules of bucket {name}"),
                e,
            ))
        }
    }
    Ok(r.rules())
}

/// Removes every lifecycle rule of bucket `name` (a `[retention]` of zeros).
pub async fn remove(s3: &aws_sdk_s3::Client, name: &str, owner: Option<&str>) -> Result<()> {
    s3.delete_bucket_lifecycle()
        .bucket(name)
        .set_expected_bucket_owner(owner.map(str::to_string))
        .send()
        .await
        .map_err(|e| aws_error(&format!("removing the lifecycle rules of bucket {name}"), e))?;
    Ok(())
}

/// Whether `lifecycle` asks for anything at all.
pub fn is_empty(lifecycle: &Val) -> bool {
    ["infrequent_access_days", "glacier_days", "expire_days"]
        .iter()
        .all(|k| days(lifecycle, k) == 0)
}

/// Puts `lifecycle` on bucket `name`, or removes the rules when it asks for nothing.
pub async fn apply(
    s3: &aws_sdk_s3::Client,
    name: &str,
    owner: Option<&str>,
    lifecycle: &Val,
    scope: Scope,
) -> Result<()> {
    if is_empty(lifecycle) {
        remove(s3, name, owner).await
    } else {
        put(s3, name, owner, lifecycle, scope).await
    }
}
