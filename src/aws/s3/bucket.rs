//! S3 buckets for logs, and the one holding CloudFront's maintenance page (the page is written
//! with it, marked by a tag): KMS-encrypted by default, every kind of public access blocked,
//! their objects aged by the stack's `[retention]` (`lifecycle.rs`). Bucket names are global, so the
//! account id is appended to the ftctl name.

use crate::aws::clients::caller_account;
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, b, changed, error_code, s, updated_in_place};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};

/// Every attribute of an s3 bucket: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::S3Bucket,
    &[
        Attr::new("kms_encrypted"),
        Attr::new("lifecycle"),
        Attr::new("page"),
        Attr::new("page_key").replaces(),
        Attr::new("public_access_blocked"),
        Attr::new("writer_service"),
        Attr::new("writer_trail"),
    ],
);

pub struct S3BucketProvider;

/// Marks a bucket kept when its deployment was destroyed (the deployment's name as value).
pub const RETAINED_FROM: &str = "ftctl:retained-from";

/// The tag marking a bucket that holds a page ftctl wrote, with the page's key as value.
const TAG_PAGE: &str = "ftctl:page";

fn observed_bucket(spec_id: &str, name: &str, region: &str) -> Observed {
    Observed::new(spec_id, Kind::S3Bucket, name)
        .output("name", name)
        // The regional name CloudFront reaches a bucket origin by (CloudFront Developer
        // Guide, "Use an Amazon S3 bucket" as origin: BUCKET.s3.REGION.amazonaws.com).
        .output(
            "regional_domain",
            format!("{name}.s3.{region}.amazonaws.com"),
        )
        .output("arn", format!("arn:aws:s3:::{name}"))
        .output("objects_arn", format!("arn:aws:s3:::{name}/*"))
        .output("uri", format!("s3://{name}/"))
}

async fn kms_encrypted(ctx: &Ctx<'_>, name: &str) -> Result<bool> {
    match ctx
        .clients
        .s3
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .server_side_encryption_configuration()
            .map(|c| c.rules())
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.apply_server_side_encryption_by_default())
            .any(|d| d.sse_algorithm() == &ServerSideEncryption::AwsKms)),
        Err(e)
            if error_code(&e).as_deref()
                == Some("ServerSideEncryptionConfigurationNotFoundError") =>
        {
            Ok(false)
        }
        Err(e) => Err(aws_error(
            &format!("reading encryption of bucket {name}"),
            e,
        )),
    }
}

async fn public_access_blocked(ctx: &Ctx<'_>, name: &str) -> Result<bool> {
    match ctx
        .clients
        .s3
        .get_public_access_block()
        .bucket(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        })),
        Err(e) if error_code(&e).as_deref() == Some("NoSuchPublicAccessBlockConfiguration") => {
            Ok(false)
        }
        Err(e) => Err(aws_error(
            &format!("reading public access of bucket {name}"),
            e,
        )),
    }
}

/// The bucket policy letting `service` (CloudTrail) check the bucket and write under
/// `AWSLogs/<account>/`, and nothing else, for the one `source_arn` (the trail) of `account`:
/// the conditions CloudTrail's documented bucket policy carries against confused deputies
/// (CloudTrail User Guide, "Amazon S3 bucket policy for CloudTrail").
fn service_write_policy(service: &str, name: &str, source_arn: &str, account: &str) -> String {
    let source = serde_json::json!({
        "aws:SourceArn": source_arn,
        "aws:SourceAccount": account,
    });
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ServiceChecksBucket",
                "Effect": "Allow",
                "Principal": { "Service": service },
                "Action": "s3:GetBucketAcl",
                "Resource": format!("arn:aws:s3:::{name}"),
                "Condition": { "StringEquals": source }
            },
            {
                "Sid": "ServiceWritesLogs",
                "Effect": "Allow",
                "Principal": { "Service": service },
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{name}/AWSLogs/{account}/*"),
                "Condition": { "StringEquals": {
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "aws:SourceArn": source_arn,
                    "aws:SourceAccount": account,
                } }
            }
        ]
    })
    .to_string()
}

/// Elastic Load Balancing's own account in the regions that opened before August 2022: there
/// the bucket policy must name it; regions opened since accept only the log-delivery service
/// principal (ELB User Guide, "Access logs for your Application Load Balancer", step 2; the
/// same table terraform-provider-aws's aws_elb_service_account data source holds).
fn elb_account(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-east-1" => "127311923021",
        "us-east-2" => "033677994240",
        "us-west-1" => "027434742980",
        "us-west-2" => "797873946194",
        "af-south-1" => "098369216593",
        "ap-east-1" => "754344448648",
        "ap-south-1" => "718504428378",
        "ap-northeast-1" => "582318560864",
        "ap-northeast-2" => "600734575887",
        "ap-northeast-3" => "383597477331",
        "ap-southeast-1" => "114774131450",
        "ap-southeast-2" => "783225319266",
        "ap-southeast-3" => "589379963580",
        "ca-central-1" => "985666609251",
        "eu-central-1" => "054676820928",
        "eu-west-1" => "156460612806",
        "eu-west-2" => "652711504416",
        "eu-west-3" => "009996457667",
        "eu-south-1" => "635631232127",
        "eu-north-1" => "897822967062",
        "me-south-1" => "076674570225",
        "sa-east-1" => "507241528517",
        _ => return None,
    })
}

/// The bucket policy letting Elastic Load Balancing write access logs under
/// `<prefix>/AWSLogs/<account>/`: the log-delivery service principal (first, which is how
/// `observe` reads the writer back) and, where the region has one, ELB's own account.
fn elb_write_policy(name: &str, account: &str, region: &str) -> String {
    let resource = format!("arn:aws:s3:::{name}/*/AWSLogs/{account}/*");
    let mut statements = vec![serde_json::json!({
        "Sid": "ServiceWritesLogs",
        "Effect": "Allow",
        "Principal": { "Service": crate::expand::ELB_LOG_DELIVERY },
        "Action": "s3:PutObject",
        "Resource": resource,
    })];
    if let Some(elb) = elb_account(region) {
        statements.push(serde_json::json!({
            "Sid": "RegionalElbWritesLogs",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{elb}:root") },
            "Action": "s3:PutObject",
            "Resource": resource,
        }));
    }
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

/// Blocks (or allows) every kind of public access to bucket `name`; `owner` is the account the
/// request expects to own it.
pub(crate) async fn block_public_access(
    s3: &aws_sdk_s3::Client,
    name: &str,
    owner: Option<&str>,
    block: bool,
) -> Result<()> {
    s3.put_public_access_block()
        .bucket(name)
        .set_expected_bucket_owner(owner.map(str::to_string))
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(block)
                .ignore_public_acls(block)
                .block_public_policy(block)
                .restrict_public_buckets(block)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error(&format!("blocking public access to bucket {name}"), e))?;
    Ok(())
}

/// Default encryption of bucket `name` with `algorithm`, with a bucket key (fewer KMS calls).
pub(crate) async fn encrypt(
    s3: &aws_sdk_s3::Client,
    name: &str,
    owner: Option<&str>,
    algorithm: ServerSideEncryption,
) -> Result<()> {
    s3.put_bucket_encryption()
        .bucket(name)
        .set_expected_bucket_owner(owner.map(str::to_string))
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(algorithm)
                                .build()?,
                        )
                        .bucket_key_enabled(true)
                        .build(),
                )
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws_error(&format!("encrypting bucket {name}"), e))?;
    Ok(())
}

/// Writes the bucket's policy (when a service writes into it), public access block and
/// encryption; `account` is the bucket's account, which the policy names.
/// `lifecycle_changed`: whether the rules differ from the bucket's (always, at creation); they
/// are written, and waited for, only then.
async fn configure(
    ctx: &Ctx<'_>,
    spec: &ResourceSpec,
    name: &str,
    account: &str,
    lifecycle_changed: bool,
) -> Result<()> {
    let s3 = &ctx.clients.s3;
    if let Some(service) = spec.props.get("writer_service").and_then(Val::as_str) {
        let region = &ctx.clients.region;
        let policy = if service == crate::expand::ELB_LOG_DELIVERY {
            elb_write_policy(name, account, region)
        } else {
            let trail = s(spec, "writer_trail")?;
            let source_arn = format!("arn:aws:cloudtrail:{region}:{account}:trail/{trail}");
            service_write_policy(service, name, &source_arn, account)
        };
        s3.put_bucket_policy()
            .bucket(name)
            .policy(policy)
            .send()
            .await
            .map_err(|e| aws_error(&format!("writing the policy of bucket {name}"), e))?;
    }
    block_public_access(s3, name, None, b(spec, "public_access_blocked")?).await?;
    let algorithm = if b(spec, "kms_encrypted")? {
        ServerSideEncryption::AwsKms
    } else {
        ServerSideEncryption::Aes256
    };
    encrypt(s3, name, None, algorithm).await?;
    if let (Some(key), Some(page)) = (
        spec.props.get("page_key").and_then(Val::as_str),
        spec.props.get("page").and_then(Val::as_str),
    ) {
        s3.put_object()
            .bucket(name)
            .key(key)
            .content_type("text/html; charset=utf-8")
            // Edge locations keep it a minute: a changed page shows soon after the apply.
            .cache_control("max-age=60")
            .body(page.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| aws_error(&format!("writing {key} into bucket {name}"), e))?;
    }
    if let Some(lifecycle) = spec.props.get("lifecycle").filter(|_| lifecycle_changed) {
        super::lifecycle::apply(s3, name, None, lifecycle, super::lifecycle::LOGS).await?;
    }
    Ok(())
}

/// The page at `key` as the bucket holds it; empty when it is gone.
async fn read_page(s3: &aws_sdk_s3::Client, name: &str, key: &str) -> Result<Val> {
    match s3.get_object().bucket(name).key(key).send().await {
        Ok(out) => {
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("reading {key} of bucket {name}: {e}"))?;
            Ok(Val::str(String::from_utf8_lossy(&bytes.into_bytes())))
        }
        Err(e) if error_code(&e).as_deref() == Some("NoSuchKey") => Ok(Val::str("")),
        Err(e) => Err(aws_error(&format!("reading {key} of bucket {name}"), e)),
    }
}

#[async_trait]
impl Provider for S3BucketProvider {
    fn kind(&self) -> Kind {
        Kind::S3Bucket
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let s3 = &ctx.clients.s3;
        let listed = s3
            .list_buckets()
            .send()
            .await
            .map_err(|e| aws_error("listing buckets", e))?;
        let prefix = ctx.name_prefix();
        let mut found = Vec::new();
        for bucket in listed.buckets() {
            let Some(name) = bucket.name().filter(|n| n.starts_with(&prefix)) else {
                continue;
            };
            // Buckets are listed from every region; the deployment's are in its own.
            if bucket
                .bucket_region()
                .is_some_and(|r| r != ctx.clients.region)
            {
                continue;
            }
            let tags = match s3.get_bucket_tagging().bucket(name).send().await {
                Ok(t) => t.tag_set().to_vec(),
                Err(e) if error_code(&e).as_deref() == Some("NoSuchTagSet") => continue,
                // In another region (when the listing does not say where a bucket is).
                Err(e)
                    if matches!(
                        error_code(&e).as_deref(),
                        Some("PermanentRedirect" | "AuthorizationHeaderMalformed")
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(aws_error(&format!("reading tags of bucket {name}"), e)),
            };
            let Some((id, stack)) = ctx.owner(tags.iter().map(|t| (t.key(), t.value()))) else {
                continue;
            };
            // (the service that may write, the trail named by the policy's aws:SourceArn)
            let policy = match s3.get_bucket_policy().bucket(name).send().await {
                Ok(p) => p.policy().map(str::to_string),
                Err(e) if error_code(&e).as_deref() == Some("NoSuchBucketPolicy") => None,
                Err(e) => {
                    return Err(aws_error(
                        &format!("reading the policy of bucket {name}"),
                        e,
                    ))
                }
            };
            let writer = policy
                .as_deref()
                .and_then(|doc| serde_json::from_str::<serde_json::Value>(doc).ok())
                .and_then(|doc| {
                    // The statements of a policy resource of its own (a distribution's
                    // read access) are not a writer's.
                    let first = doc["Statement"]
                        .as_array()?
                        .iter()
                        .find(|st| !super::policy::is_reader_statement(st))?;
                    let service = first["Principal"]["Service"].as_str()?.to_string();
                    let trail = first["Condition"]["StringEquals"]["aws:SourceArn"]
                        .as_str()
                        .and_then(|arn| arn.rsplit_once(":trail/"))
                        .map(|(_, t)| t.to_string());
                    Some((service, trail))
                });
            let mut o = observed_bucket(&id, name, &ctx.clients.region)
                .prop("kms_encrypted", Val::Bool(kms_encrypted(ctx, name).await?))
                .prop(
                    "public_access_blocked",
                    Val::Bool(public_access_blocked(ctx, name).await?),
                )
                .prop("lifecycle", super::lifecycle::read(s3, name, None).await?);
            if let Some(key) = tags.iter().find(|t| t.key() == TAG_PAGE).map(|t| t.value()) {
                o = o
                    .prop("page_key", Val::str(key))
                    .prop("page", read_page(s3, name, key).await?);
            }
            if let Some(policy) = policy {
                o = o.output(super::policy::POLICY_OUTPUT, policy);
            }
            if let Some((service, trail)) = writer {
                o = o.prop("writer_service", Val::Str(service));
                if let Some(trail) = trail {
                    o = o.prop("writer_trail", Val::Str(trail));
                }
            }
            o.name = name.to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let account = caller_account(ctx).await?.1;
        // Bucket names are global: the account and the region make the same deployment name
        // in two regions (or two accounts) two buckets, never one bucket shared.
        let name = format!("{}-{account}-{}", spec.name, ctx.clients.region);
        let s3 = &ctx.clients.s3;
        let mut req = s3.create_bucket().bucket(&name);
        // us-east-1 is the default location and must not be named.
        if ctx.clients.region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(
                        ctx.clients.region.as_str(),
                    ))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if error_code(&e).as_deref() == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) => return Err(aws_error(&format!("creating bucket {name}"), e)),
        }
        let mut tags = ctx.tags(spec);
        if let Some(key) = spec.props.get("page_key").and_then(Val::as_str) {
            tags.push((TAG_PAGE.to_string(), key.to_string()));
        }
        let tags: Vec<Tag> = tags
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<_, _>>()?;
        s3.put_bucket_tagging()
            .bucket(&name)
            .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("tagging bucket {name}"), e))?;
        configure(ctx, spec, &name, &account, true).await?;
        let mut o = observed_bucket(&spec.id, &name, &ctx.clients.region);
        o.props = spec.props.clone();
        o.name = name;
        Ok(o)
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let account = caller_account(ctx).await?.1;
        let lifecycle_changed = changed(spec, current, "lifecycle");
        configure(ctx, spec, &current.physical_id, &account, lifecycle_changed).await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let s3 = &ctx.clients.s3;
        let name = current.physical_id.as_str();
        // An audit record outlives what it audits, as final snapshots do: unless asked to skip
        // final backups, the bucket a service writes its logs into is kept and handed over
        // (the deployment's tags replaced by `ftctl:retained-from`), not deleted.
        if current.props.contains_key("writer_service") && !ctx.delete.skip_final_snapshot {
            let tags = vec![
                Tag::builder().key("Name").value(name).build()?,
                Tag::builder().key(RETAINED_FROM).value(ctx.env()).build()?,
            ];
            s3.put_bucket_tagging()
                .bucket(name)
                .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
                .send()
                .await
                .map_err(|e| aws_error(&format!("handing over bucket {name}"), e))?;
            tracing::info!("bucket {name} kept with its logs (tagged {RETAINED_FROM})");
            return Ok(());
        }
        // A bucket must be empty to go: its logs go with the deployment.
        loop {
            let page = match s3.list_objects_v2().bucket(name).send().await {
                Ok(p) => p,
                Err(e) if error_code(&e).as_deref() == Some("NoSuchBucket") => return Ok(()),
                Err(e) => return Err(aws_error(&format!("listing bucket {name}"), e)),
            };
            let keys: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<_, _>>()?;
            if keys.is_empty() {
                break;
            }
            s3.delete_objects()
                .bucket(name)
                .delete(Delete::builder().set_objects(Some(keys)).build()?)
                .send()
                .await
                .map_err(|e| aws_error(&format!("emptying bucket {name}"), e))?;
        }
        match s3.delete_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("NoSuchBucket") => Ok(()),
            Err(e) => Err(aws_error(&format!("deleting bucket {name}"), e)),
        }
    }
}
