//! The deployment's evidence bucket: what the last apply applied (`applied.json`) and one
//! object per experiment run (`evidence/<experiment>/<target>/<time>.json`). It is not one of
//! the stack's resources — it records the configuration rather than being part of it — so it
//! carries `ftctl:evidence-of` instead of the deployment's ownership tags (plan never counts it,
//! destroy keeps it unless asked), and is found by its name, which holds the account and the
//! region like the deployment's other buckets, and its tag. Encrypted with the account's S3 key,
//! versioned (an overwritten or deleted record stays recoverable), every kind of public access
//! blocked, plain HTTP refused by its policy, and its records aged by the stack's `[retention]`.

use crate::aws::clients::{account_of, Clients};
use crate::aws::s3::bucket::{block_public_access, encrypt};
use crate::aws::s3::lifecycle;
use crate::aws::sdk::{aws_error, error_code};
use crate::deployment::TAG_HOME_REGION;
use crate::evidence::{Applied, Evidence};
use anyhow::{bail, Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, ObjectStorageClass, ServerSideEncryption, Tag, Tagging,
    VersioningConfiguration,
};
use std::collections::BTreeMap;

/// Marks a deployment's evidence bucket (the deployment's name as value).
pub const TAG_EVIDENCE_OF: &str = "ftctl:evidence-of";

const APPLIED_KEY: &str = "applied.json";
const EVIDENCE_PREFIX: &str = "evidence/";

/// What is found under the evidence bucket's name.
#[derive(Debug, PartialEq, Eq)]
enum BucketState {
    Missing,
    /// Tagged as this deployment's evidence bucket: made whole.
    Marked,
    /// Made by an `ensure` that stopped before its last step (the tag).
    Unmarked,
}

/// One deployment's evidence bucket.
pub struct Store<'a> {
    clients: &'a Clients,
    env: String,
    pub bucket: String,
    account: String,
}

/// `<env>-evidence-<account>-<region>`: at most 16 + 9 + 13 + 15 = 53 of the 63 characters a
/// bucket name may have (S3 User Guide, "General purpose bucket naming rules").
pub fn bucket_name(env: &str, account: &str, region: &str) -> String {
    format!("{env}-evidence-{account}-{region}")
}

/// The object key of a run: by failure mode, then start time, so the newest of a mode is the
/// last key under its prefix. Keys keep to letters, digits and `-._/` (the "safe characters"
/// of the S3 User Guide's object key naming guidelines).
fn evidence_key(e: &Evidence, suffix: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mode: Vec<String> = e.failure_mode.split(' ').map(safe).collect();
    let stamp: String = e.at.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{EVIDENCE_PREFIX}{}/{stamp}{suffix}.json", mode.join("/"))
}

impl<'a> Store<'a> {
    pub async fn of(clients: &'a Clients, env: &str) -> Result<Store<'a>> {
        let account = account_of(clients).await?.1;
        Ok(Store {
            bucket: bucket_name(env, &account, &clients.region),
            clients,
            env: env.to_string(),
            account,
        })
    }

    pub fn uri(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    /// Whether the bucket exists, and whether it is marked as this deployment's evidence
    /// bucket; a bucket of that name that carries other tags is refused rather than written
    /// into.
    async fn state(&self) -> Result<BucketState> {
        let s3 = &self.clients.s3;
        match s3
            .head_bucket()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return Ok(BucketState::Missing)
            }
            Err(e) => return Err(aws_error(&format!("looking for bucket {}", self.bucket), e)),
        }
        let tags = match s3
            .get_bucket_tagging()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .send()
            .await
        {
            Ok(t) => t.tag_set().to_vec(),
            Err(e) if error_code(&e).as_deref() == Some("NoSuchTagSet") => Vec::new(),
            Err(e) => {
                return Err(aws_error(
                    &format!("reading tags of bucket {}", self.bucket),
                    e,
                ))
            }
        };
        if tags
            .iter()
            .any(|t| t.key() == TAG_EVIDENCE_OF && t.value() == self.env)
        {
            return Ok(BucketState::Marked);
        }
        // Untagged, in this account (ExpectedBucketOwner), with the name only this deployment
        // gives (it holds the account and the region): what a run stopped between CreateBucket
        // and the tagging that ends `ensure` leaves behind.
        if tags.is_empty() {
            return Ok(BucketState::Unmarked);
        }
        bail!(
            "bucket {} exists but is not tagged {TAG_EVIDENCE_OF}={}: refusing to keep deployment {}'s evidence in it",
            self.bucket,
            self.env,
            self.env
        );
    }

    /// Whether the bucket exists (marked, or left unmarked by an interrupted `ensure`).
    async fn exists(&self) -> Result<bool> {
        Ok(self.state().await? != BucketState::Missing)
    }

    /// Makes the bucket when it does not exist yet, with its protections in place before the
    /// first record goes in. The tag that marks it as the deployment's evidence bucket comes
    /// last, so a marked bucket has all its protections: a run stopped before that leaves an
    /// unmarked bucket, which the next run finishes.
    async fn ensure(&self) -> Result<()> {
        let state = self.state().await?;
        if state == BucketState::Marked {
            return Ok(());
        }
        let s3 = &self.clients.s3;
        let region = self.clients.region.as_str();
        let name = self.bucket.as_str();
        if state == BucketState::Missing {
            let mut req = s3.create_bucket().bucket(name);
            // us-east-1 is the default location and must not be named (CreateBucket).
            if region != "us-east-1" {
                req = req.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region))
                        .build(),
                );
            }
            match req.send().await {
                Ok(_) => {}
                Err(e) if error_code(&e).as_deref() == Some("BucketAlreadyOwnedByYou") => {}
                Err(e) => return Err(aws_error(&format!("creating bucket {name}"), e)),
            }
        } else {
            tracing::info!("finishing evidence bucket {name}, which an interrupted run made");
        }
        let owner = Some(self.account.as_str());
        block_public_access(s3, name, owner, true).await?;
        encrypt(s3, name, owner, ServerSideEncryption::AwsKms).await?;
        s3.put_bucket_versioning()
            .bucket(name)
            .expected_bucket_owner(&self.account)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("turning on versioning of bucket {name}"), e))?;
        // Records go over TLS only (Security Hub S3.5, "S3 general purpose buckets should
        // require requests to use SSL").
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
                "Condition": { "Bool": { "aws:SecureTransport": "false" } }
            }]
        });
        s3.put_bucket_policy()
            .bucket(name)
            .expected_bucket_owner(&self.account)
            .policy(policy.to_string())
            .send()
            .await
            .map_err(|e| aws_error(&format!("writing the policy of bucket {name}"), e))?;
        let tags = vec![
            Tag::builder().key("Name").value(name).build()?,
            Tag::builder()
                .key(TAG_EVIDENCE_OF)
                .value(&self.env)
                .build()?,
            Tag::builder().key(TAG_HOME_REGION).value(region).build()?,
        ];
        s3.put_bucket_tagging()
            .bucket(name)
            .expected_bucket_owner(&self.account)
            .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("tagging bucket {name}"), e))?;
        tracing::info!("made evidence bucket {name}");
        Ok(())
    }

    async fn put_json(&self, key: &str, body: &impl serde::Serialize) -> Result<()> {
        let text = serde_json::to_vec_pretty(body)?;
        self.clients
            .s3
            .put_object()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(text))
            .send()
            .await
            .map_err(|e| aws_error(&format!("writing s3://{}/{key}", self.bucket), e))?;
        Ok(())
    }

    /// An object's JSON, or none when the object (or the bucket) does not exist.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let out = match self
            .clients
            .s3
            .get_object()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error().is_some_and(|e| e.is_no_such_key())
                    || error_code(&e).as_deref() == Some("NoSuchBucket") =>
            {
                return Ok(None)
            }
            Err(e) => return Err(aws_error(&format!("reading s3://{}/{key}", self.bucket), e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .with_context(|| format!("reading s3://{}/{key}", self.bucket))?
            .into_bytes();
        let value = serde_json::from_slice(&bytes)
            .with_context(|| format!("s3://{}/{key} is not an ftctl record", self.bucket))?;
        Ok(Some(value))
    }

    /// What the last apply recorded.
    pub async fn applied(&self) -> Result<Option<Applied>> {
        self.get_json(APPLIED_KEY).await
    }

    /// Writes the record; once the apply is complete, also brings the bucket's lifecycle in
    /// line with the stack's `[retention]` (one read when it already is).
    pub async fn record_applied(&self, applied: &Applied) -> Result<()> {
        self.ensure().await?;
        self.put_json(APPLIED_KEY, applied).await?;
        if let (true, Some(retention)) = (applied.complete, applied.retention) {
            self.age(&retention.evidence_rules()).await?;
        }
        Ok(())
    }

    /// The records under `evidence/` age as `retention` says (never into Glacier: see
    /// `Retention::evidence_rules`); replaced versions go after 30 days.
    async fn age(&self, retention: &crate::stack::Retention) -> Result<()> {
        let s3 = &self.clients.s3;
        let owner = Some(self.account.as_str());
        let want = retention.rules();
        if lifecycle::read(s3, &self.bucket, owner).await? == want {
            return Ok(());
        }
        let scope = lifecycle::Scope {
            prefix: EVIDENCE_PREFIX,
            versioned: true,
        };
        lifecycle::put(s3, &self.bucket, owner, &want, scope).await
    }

    /// Writes one run's evidence; gives where it went.
    pub async fn record(&self, evidence: &Evidence) -> Result<String> {
        self.ensure().await?;
        let key = evidence_key(evidence, "");
        self.put_json(&key, evidence).await?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }

    /// Writes the evidence of an FIS experiment unless an earlier collect did: gives where it
    /// went when it is new.
    pub async fn record_fis(
        &self,
        evidence: &Evidence,
        experiment: &str,
    ) -> Result<Option<String>> {
        self.ensure().await?;
        let key = evidence_key(evidence, &format!("-fis-{experiment}"));
        let head = self
            .clients
            .s3
            .head_object()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .key(&key)
            .send()
            .await;
        match head {
            Ok(_) => return Ok(None),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {}
            Err(e) => return Err(aws_error(&format!("reading s3://{}/{key}", self.bucket), e)),
        }
        self.put_json(&key, evidence).await?;
        Ok(Some(format!("s3://{}/{key}", self.bucket)))
    }

    /// The newest evidence of each failure mode: one listing, then one read per mode.
    pub async fn latest(&self) -> Result<Vec<Evidence>> {
        let mut newest: BTreeMap<String, String> = BTreeMap::new();
        let mut pages = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .prefix(EVIDENCE_PREFIX)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) if error_code(&e).as_deref() == Some("NoSuchBucket") => return Ok(vec![]),
                Err(e) => return Err(aws_error(&format!("listing bucket {}", self.bucket), e)),
            };
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let Some((mode, _)) = key.rsplit_once('/') else {
                    continue;
                };
                // ftctl's own rules never archive evidence, but a rule added by hand may: such a
                // record reads only after a restore (GetObject: InvalidObjectState).
                if object.storage_class().is_some_and(|c| {
                    matches!(
                        c,
                        ObjectStorageClass::Glacier | ObjectStorageClass::DeepArchive
                    )
                }) {
                    tracing::warn!(
                        "s3://{}/{key} is archived ({}): restore it for it to count",
                        self.bucket,
                        object
                            .storage_class()
                            .map(|c| c.as_str())
                            .unwrap_or_default()
                    );
                    continue;
                }
                let later = newest.get(mode).is_none_or(|seen| key > seen.as_str());
                if later {
                    newest.insert(mode.to_string(), key.to_string());
                }
            }
        }
        let mut out = Vec::new();
        for key in newest.values() {
            if let Some(e) = self.get_json::<Evidence>(key).await? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// After a destroy: the applied configuration is gone; with `delete_evidence` the bucket
    /// goes too, every version of every record with it. Gives what it did, for the operator.
    pub async fn forget(&self, delete_evidence: bool) -> Result<Option<String>> {
        if !self.exists().await? {
            return Ok(None);
        }
        let s3 = &self.clients.s3;
        if !delete_evidence {
            s3.delete_object()
                .bucket(&self.bucket)
                .expected_bucket_owner(&self.account)
                .key(APPLIED_KEY)
                .send()
                .await
                .map_err(|e| {
                    aws_error(&format!("deleting s3://{}/{APPLIED_KEY}", self.bucket), e)
                })?;
            return Ok(Some(format!(
                "The evidence of deployment {} stays in {} (destroy --delete-evidence removes it).",
                self.env,
                self.uri()
            )));
        }
        // A versioned bucket must lose every version and delete marker before it can go
        // (S3 User Guide, "Deleting a general purpose bucket").
        loop {
            let page = s3
                .list_object_versions()
                .bucket(&self.bucket)
                .expected_bucket_owner(&self.account)
                .send()
                .await
                .map_err(|e| aws_error(&format!("listing versions in {}", self.bucket), e))?;
            let mut ids = Vec::new();
            for v in page.versions() {
                if let Some(key) = v.key() {
                    ids.push(
                        ObjectIdentifier::builder()
                            .key(key)
                            .set_version_id(v.version_id().map(str::to_string))
                            .build()?,
                    );
                }
            }
            for m in page.delete_markers() {
                if let Some(key) = m.key() {
                    ids.push(
                        ObjectIdentifier::builder()
                            .key(key)
                            .set_version_id(m.version_id().map(str::to_string))
                            .build()?,
                    );
                }
            }
            if ids.is_empty() {
                break;
            }
            s3.delete_objects()
                .bucket(&self.bucket)
                .expected_bucket_owner(&self.account)
                .delete(Delete::builder().set_objects(Some(ids)).build()?)
                .send()
                .await
                .map_err(|e| aws_error(&format!("emptying bucket {}", self.bucket), e))?;
        }
        s3.delete_bucket()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .send()
            .await
            .map_err(|e| aws_error(&format!("deleting bucket {}", self.bucket), e))?;
        Ok(Some(format!(
            "Deleted the evidence bucket {} with every record in it.",
            self.uri()
        )))
    }
}
