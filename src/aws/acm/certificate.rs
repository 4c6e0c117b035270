//! ACM certificates for the balancer a public DNS zone names, validated through that zone: ACM
//! gives a CNAME record to publish, ftctl writes it into the zone and waits until ACM issues
//! the certificate. The record stays while the certificate does (ACM renews through it). Found
//! by their tags; the zone holding the record is remembered in a tag of its own.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, changed, coded, delete_waiting, error_code, observed_from_spec, read_each, s,
    updated_in_place, wait_for, waiter_error,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_acm::client::Waiters;
use aws_sdk_acm::types::{CertificateStatus, ResourceRecord, Tag, ValidationMethod};
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType};
use std::time::Duration;

/// Every attribute of an acm certificate: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::Certificate,
    &[
        Attr::new("domain_name").replaces(),
        Attr::new("issued"),
        // us-east-1 for a CloudFront distribution's certificate (`cloud::REMOTE_KINDS`).
        Attr::new("region").replaces(),
        Attr::new("zone_id").replaces(),
    ],
);

pub struct CertificateProvider;

/// The tag naming the hosted zone that holds the validation record.
const TAG_ZONE: &str = "ftctl:validation-zone";

/// ACM returns the validation record a few seconds after RequestCertificate; until then
/// DomainValidationOptions has no ResourceRecord (ACM API reference, DescribeCertificate;
/// terraform-provider-aws retries the same way, PR #9598).
const RECORD_WAIT: Duration = Duration::from_secs(120);

/// How long to wait for ACM to see the record and issue the certificate. Minutes when the zone
/// is delegated; never when it is not, hence a limit and a message saying what to do.
const ISSUE_WAIT: Duration = Duration::from_secs(1800);

const RECORD_TTL: i64 = 300;

async fn describe(ctx: &Ctx<'_>, arn: &str) -> Result<aws_sdk_acm::types::CertificateDetail> {
    ctx.clients
        .acm
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error(&format!("describing certificate {arn}"), e))?
        .certificate
        .ok_or_else(|| anyhow!("DescribeCertificate returned nothing for {arn}"))
}

/// The CNAME ACM wants published, once it says which.
async fn validation_record(ctx: &Ctx<'_>, arn: &str) -> Result<ResourceRecord> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        let cert = describe(ctx, arn).await?;
        if let Some(record) = cert
            .domain_validation_options()
            .iter()
            .find_map(|o| o.resource_record().cloned())
        {
            return Ok(record);
        }
        if start.elapsed() + pause > RECORD_WAIT {
            anyhow::bail!(
                "ACM gave no validation record for {arn} within {}s",
                RECORD_WAIT.as_secs()
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

async fn change_record(
    ctx: &Ctx<'_>,
    zone_id: &str,
    action: ChangeAction,
    record: &ResourceRecord,
) -> Result<(), (Option<String>, anyhow::Error)> {
    let set = ResourceRecordSet::builder()
        .name(record.name())
        .r#type(RrType::Cname)
        .ttl(RECORD_TTL)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value(record.value())
                .build()
                .map_err(|e| (None, e.into()))?,
        )
        .build()
        .map_err(|e| (None, e.into()))?;
    let batch = ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(action.clone())
                .resource_record_set(set)
                .build()
                .map_err(|e| (None, e.into()))?,
        )
        .build()
        .map_err(|e| (None, e.into()))?;
    ctx.clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map(drop)
        .map_err(|e| {
            coded(
                &format!(
                    "{} validation record {}",
                    action.as_str().to_lowercase(),
                    record.name()
                ),
                e,
            )
        })
}

/// States ACM never issues from (ACM API reference, CertificateDetail.Status).
fn never_issued(status: &CertificateStatus) -> bool {
    matches!(
        status,
        CertificateStatus::Failed
            | CertificateStatus::ValidationTimedOut
            | CertificateStatus::Revoked
            | CertificateStatus::Expired
            | CertificateStatus::Inactive
    )
}

/// Publishes the validation record and waits for ACM to issue the certificate.
async fn validate(ctx: &Ctx<'_>, spec: &ResourceSpec, arn: &str) -> Result<()> {
    let zone_id = s(spec, "zone_id")?;
    let cert = describe(ctx, arn).await?;
    if let Some(status) = cert.status().filter(|s| never_issued(s)) {
        let reason = cert
            .failure_reason()
            .map(|r| format!(" ({})", r.as_str()))
            .unwrap_or_default();
        anyhow::bail!(
            "certificate {arn} is {}{reason}: ACM will not issue it. Delete it (aws acm \
             delete-certificate, after removing it from the balancer's HTTPS listener) and run \
             apply again to request a new one",
            status.as_str()
        );
    }
    let record = validation_record(ctx, arn).await?;
    change_record(ctx, zone_id, ChangeAction::Upsert, &record)
        .await
        .map_err(|(_, e)| e)?;
    let domain = s(spec, "domain_name")?;
    use aws_smithy_runtime_api::client::waiters::error::WaiterError;
    match ctx
        .clients
        .acm
        .wait_until_certificate_validated()
        .certificate_arn(arn)
        .wait(ISSUE_WAIT)
        .await
    {
        Ok(_) => {}
        Err(WaiterError::ExceededMaxWait(_)) => anyhow::bail!(
            "the certificate for {domain} was not issued within {} minutes: ACM validates it \
             by resolving {} through public DNS, which reaches zone {zone_id} only once the \
             domain's parent delegates to the zone's name servers. Delegate the zone, then run \
             apply again; it goes on waiting",
            ISSUE_WAIT.as_secs() / 60,
            record.name()
        ),
        Err(e) => {
            return Err(waiter_error(
                &format!("waiting for ACM to validate the certificate for {domain}"),
                e,
            ))
        }
    }
    // The waiter's success is every domain validated; the certificate itself may take a moment
    // longer to be ISSUED, and a balancer refuses it until then (UnsupportedCertificate).
    wait_for(
        &format!("ACM issuing the certificate for {domain}"),
        RECORD_WAIT,
        || async { Ok(describe(ctx, arn).await?.status() == Some(&CertificateStatus::Issued)) },
    )
    .await
}

/// Whether `current` is a certificate made away from the deployment's region (a CloudFront
/// distribution's, in us-east-1) for a name a certificate at home also has. ACM validates the
/// same name in one account through the same CNAME record (ACM User Guide, "DNS validation";
/// dflook/cloudformation-dns-certificate#7), so the record stays for the one at home, which
/// renews through it; the one at home deletes it when it goes.
async fn validated_at_home_too(ctx: &Ctx<'_>, current: &Observed) -> Result<bool> {
    if ctx.clients.region == ctx.home_region {
        return Ok(false);
    }
    let Some(domain) = current.props.get("domain_name").and_then(Val::as_str) else {
        return Ok(false);
    };
    let home = ctx.clients.in_region(ctx.home_region);
    let listed: Vec<_> = home
        .acm
        .list_certificates()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("listing certificates at home", e))?;
    Ok(listed.iter().any(|c| c.domain_name() == Some(domain)))
}

#[async_trait]
impl Provider for CertificateProvider {
    fn kind(&self) -> Kind {
        Kind::Certificate
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let acm = &ctx.clients.acm;
        // Every status, named: a certificate still pending validation (a run stopped while
        // waiting) must be found too, and the API reference does not say what an unfiltered
        // list holds. The default key-type filter (RSA_2048 among others) covers what
        // RequestCertificate makes without KeyAlgorithm.
        let certs: Vec<_> = acm
            .list_certificates()
            .set_certificate_statuses(Some(
                CertificateStatus::values()
                    .iter()
                    .map(|v| CertificateStatus::from(*v))
                    .collect(),
            ))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing ACM certificates", e))?;
        read_each(certs, |c| async move {
            let Some(arn) = c.certificate_arn() else {
                return Ok(None);
            };
            // The listing is the account's: a certificate someone deletes meanwhile is gone
            // by the time its tags are read, and was not this deployment's to find.
            let tags = match ctx
                .clients
                .acm
                .list_tags_for_certificate()
                .certificate_arn(arn)
                .send()
                .await
            {
                Ok(tags) => tags,
                Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => {
                    return Ok(None)
                }
                Err(e) => return Err(aws_error(&format!("reading tags of certificate {arn}"), e)),
            };
            let pairs: Vec<(&str, &str)> = tags
                .tags()
                .iter()
                .map(|t| (t.key(), t.value().unwrap_or_default()))
                .collect();
            let Some((id, stack)) = ctx.owner(pairs.iter().copied()) else {
                return Ok(None);
            };
            let zone = pairs
                .iter()
                .find(|(k, _)| *k == TAG_ZONE)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default();
            let status = c.status().map(|s| s.as_str()).unwrap_or_default();
            let domain = c.domain_name().unwrap_or_default();
            let mut o = Observed::new(&id, Kind::Certificate, arn)
                .prop("domain_name", Val::str(domain))
                .prop("zone_id", Val::str(zone))
                .prop(
                    "issued",
                    Val::Bool(c.status() == Some(&CertificateStatus::Issued)),
                )
                .output("arn", arn)
                .output("status", status);
            o.name = domain.to_string();
            o.stack = stack;
            Ok(Some(o))
        })
        .await
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let mut tags: Vec<Tag> = ctx
            .tags(spec)
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        tags.extend(
            Tag::builder()
                .key(TAG_ZONE)
                .value(s(spec, "zone_id")?)
                .build()
                .ok(),
        );
        let domain = s(spec, "domain_name")?;
        let arn = ctx
            .clients
            .acm
            .request_certificate()
            .domain_name(domain)
            .validation_method(ValidationMethod::Dns)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(&format!("requesting a certificate for {domain}"), e))?
            .certificate_arn
            .ok_or_else(|| anyhow!("RequestCertificate returned no ARN"))?;
        validate(ctx, spec, &arn).await?;
        Ok(observed_from_spec(spec, &arn).output("arn", &arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let arn = current.physical_id.as_str();
        // Not issued yet: the record may be missing (a run stopped before writing it) or the
        // zone was delegated since; both end here.
        if changed(spec, current, "issued") {
            validate(ctx, spec, arn).await?;
        }
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let arn = current.physical_id.as_str();
        // The record first: once the certificate is gone nothing finds the record again, and
        // a zone that still holds it cannot be deleted (HostedZoneNotEmpty).
        let record = match ctx
            .clients
            .acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
        {
            Ok(out) => out.certificate.and_then(|c| {
                c.domain_validation_options()
                    .iter()
                    .find_map(|o| o.resource_record().cloned())
            }),
            Err(e) if error_code(&e).as_deref() == Some("ResourceNotFoundException") => None,
            Err(e) => return Err(aws_error(&format!("describing certificate {arn}"), e)),
        };
        let zone_id = current
            .props
            .get("zone_id")
            .and_then(Val::as_str)
            .unwrap_or_default();
        if let (Some(record), false, false) = (
            &record,
            zone_id.is_empty(),
            validated_at_home_too(ctx, current).await?,
        ) {
            match change_record(ctx, zone_id, ChangeAction::Delete, record).await {
                // The zone or the record is already gone: what was wanted.
                Err((Some(code), _))
                    if code == "NoSuchHostedZone" || code == "InvalidChangeBatch" => {}
                Err((_, e)) => return Err(e),
                Ok(()) => {}
            }
        }
        // A balancer releases its certificate a little after its listener is deleted:
        // ResourceInUseException until then (terraform-provider-aws #3866 retries for minutes).
        delete_waiting(
            &["ResourceInUseException"],
            "ResourceNotFoundException",
            || async {
                ctx.clients
                    .acm
                    .delete_certificate()
                    .certificate_arn(arn)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| coded(&format!("deleting certificate {arn}"), e))
            },
        )
        .await
    }
}
