//! CloudFront in front of the public balancer (`[edge]`): its settings in the stack file, what is
//! checked of them beyond what the types say, the resources they expand into (the distribution,
//! the bucket holding the maintenance page with the origin access control CloudFront reads it
//! through and the bucket policy admitting it, the 5xx-rate alarm in us-east-1) and the
//! distribution's row on the dashboard. The balancer's security group and the DNS record change
//! with it: `load_balancer.rs` and `dns.rs` ask `fronted_by_edge` and `restricted_to_edge`.
//!
//! The maintenance page is served through custom error responses, not an origin group: a
//! cache behaviour whose target is an origin group may not allow POST, PUT, PATCH or DELETE, and
//! fails over only GET, HEAD and OPTIONS (CloudFront Developer Guide, "Optimize high availability
//! with CloudFront origin failover"), while an application behind a balancer takes POSTs. An
//! error response answers every method, also when the balancer does not answer at all (CloudFront
//! then returns 504 itself).

use super::dns::CERTIFICATE;
use super::monitoring::{metric, Row};
use super::{us_east_1_alarm, AlarmDef, Component, Cx, BUCKET_NAME_MAX, ROUTE53_METRICS_REGION};
use crate::deployment::{global_name, physical_name};
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The internet-facing balancer the distribution sends requests to.
    pub load_balancer: String,
    /// The balancer's security group admits only CloudFront's origin-facing addresses (AWS's
    /// managed prefix list) instead of `allow_cidrs`.
    #[serde(default = "yes")]
    pub restrict_balancer: bool,
    /// Which edge locations serve (and what they cost): CloudFront's price classes.
    #[serde(default)]
    pub price_class: PriceClass,
    /// The balancer's answers (and CloudFront's own when the balancer does not answer) that
    /// are replaced by the maintenance page, with the same status code.
    #[serde(default = "default_maintenance_codes")]
    pub maintenance_on: Vec<u16>,
    /// How long edge locations serve the maintenance page before asking the balancer again.
    #[serde(default = "default_error_caching")]
    pub maintenance_cache_seconds: u32,
    /// The share of requests answered with 5xx, in percent, above which it alarms.
    #[serde(default = "default_error_rate")]
    pub error_rate_alarm_percent: f64,
    #[serde(default = "five_minute_alarm")]
    pub alarm: AlarmPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum PriceClass {
    /// North America, Europe and Israel.
    #[default]
    #[serde(rename = "PriceClass_100")]
    Class100,
    /// PriceClass_100 plus Asia, the Middle East and Africa.
    #[serde(rename = "PriceClass_200")]
    Class200,
    /// Every edge location.
    #[serde(rename = "PriceClass_All")]
    All,
}

impl PriceClass {
    pub fn as_aws(self) -> &'static str {
        match self {
            PriceClass::Class100 => "PriceClass_100",
            PriceClass::Class200 => "PriceClass_200",
            PriceClass::All => "PriceClass_All",
        }
    }
}

/// 502 (the balancer cannot reach its targets, or CloudFront the balancer), 503 (no healthy
/// target) and 504 (timed out). Not 500: that is the application's own error, which the
/// maintenance page would hide.
fn default_maintenance_codes() -> Vec<u16> {
    vec![502, 503, 504]
}
/// CloudFront's own default for error responses (CustomErrorResponse, ErrorCachingMinTTL).
fn default_error_caching() -> u32 {
    10
}
fn default_error_rate() -> f64 {
    5.0
}

/// The 5xx codes CloudFront can replace with a custom error page (CustomErrorResponse,
/// ErrorCode: 400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504).
const REPLACEABLE_5XX: [u16; 5] = [500, 501, 502, 503, 504];

/// AWS's managed prefix list of CloudFront's origin-facing addresses (CloudFront Developer
/// Guide, "Use the CloudFront managed prefix list"). Its id differs by region: the security
/// group provider looks it up by this name.
pub const CLOUDFRONT_PREFIX_LIST: &str = "com.amazonaws.global.cloudfront.origin-facing";
/// What the list counts for against a security group's rules: its weight (VPC User Guide,
/// "AWS-managed prefix list weights").
pub const PREFIX_LIST_WEIGHT: usize = 55;
/// Inbound rules per security group, the default quota (Amazon VPC quotas).
const RULES_PER_GROUP: usize = 60;

/// The hosted zone of every CloudFront alias target (Route 53 API reference, AliasTarget).
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// Where the page is in its bucket, and the path CloudFront serves it under.
pub const MAINTENANCE_KEY: &str = "maintenance/index.html";
pub const MAINTENANCE_PATHS: &str = "maintenance/*";

pub(crate) const DISTRIBUTION: &str = "edge.distribution";
const BUCKET: &str = "edge.maintenance";
const OAC: &str = "edge.oac";
/// The certificate of the distribution's alias when the deployment is not in us-east-1: a
/// distribution takes only a certificate ACM holds there (CloudFront Developer Guide,
/// "Requirements for using SSL/TLS certificates with CloudFront").
const EDGE_CERTIFICATE: &str = "edge.certificate";

/// Whether the distribution fronts balancer `name`.
pub(crate) fn fronted_by_edge(stack: &Stack, name: &str) -> bool {
    stack.edge.as_ref().is_some_and(|e| e.load_balancer == name)
}

/// Whether balancer `name` admits only CloudFront.
pub(crate) fn restricted_to_edge(stack: &Stack, name: &str) -> bool {
    stack
        .edge
        .as_ref()
        .is_some_and(|e| e.load_balancer == name && e.restrict_balancer)
}

/// The port CloudFront reaches the balancer on: HTTPS where the balancer has a certificate
/// (the public zone's), else the balancer's own HTTP port.
pub(crate) fn origin_port(stack: &Stack, name: &str) -> u16 {
    if stack.serves_https(name) {
        HTTPS_PORT
    } else {
        stack.load_balancers.get(name).map_or(80, |lb| lb.port)
    }
}

/// The alias the distribution answers for: the public record naming its balancer.
fn alias(stack: &Stack) -> Option<String> {
    let edge = stack.edge.as_ref()?;
    let dns = stack.dns.as_ref().filter(|d| !d.private)?;
    (dns.load_balancer == edge.load_balancer).then(|| {
        format!(
            "{}.{}",
            dns.record,
            dns.zone.trim_end_matches('.').to_lowercase()
        )
    })
}

/// The page edge locations show while the balancer fails. Plain, no script, nothing fetched.
fn maintenance_page(stack: &Stack) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Back soon</title></head>\n<body><h1>Back soon</h1>\n<p>{} is not available \
         right now. It is being looked at; please try again in a few minutes.</p></body></html>\n",
        html_escape(&stack.stack.name)
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The distribution, the maintenance page's bucket and access, the alarm.
pub(crate) struct EdgeComponent;

impl Component for EdgeComponent {
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        let Some(edge) = &stack.edge else {
            return;
        };
        match stack.load_balancers.get(&edge.load_balancer) {
            None => bad(
                "edge.load_balancer".into(),
                format!("no load balancer named `{}`", edge.load_balancer),
            ),
            Some(lb) if lb.scheme != Scheme::InternetFacing => bad(
                "edge.load_balancer".into(),
                format!(
                    "`{}` is internal: CloudFront reaches only internet-facing balancers (or \
                     VPC origins, which ftctl does not make)",
                    edge.load_balancer
                ),
            ),
            Some(lb) => {
                // The subnets' network ACL cannot name a prefix list: it must let every
                // address in for CloudFront's to arrive, and the security group narrows.
                if !lb.allow_cidrs.iter().any(|c| c == "0.0.0.0/0") {
                    bad(
                        format!("load_balancers.{}.allow_cidrs", edge.load_balancer),
                        "CloudFront reaches the balancer from its own addresses, which only a \
                         prefix list names and a network ACL cannot: allow 0.0.0.0/0 here and \
                         let edge.restrict_balancer narrow the balancer's security group"
                            .into(),
                    );
                }
                if edge.restrict_balancer {
                    // Each tier is admitted on every listener port.
                    let ports = stack.listener_ports(&edge.load_balancer, lb).len();
                    let others = lb.allow_from.len() * ports;
                    if PREFIX_LIST_WEIGHT + others > RULES_PER_GROUP {
                        bad(
                            format!("load_balancers.{}.allow_from", edge.load_balancer),
                            format!(
                                "CloudFront's prefix list counts as {PREFIX_LIST_WEIGHT} rules of \
                                 the {RULES_PER_GROUP} a security group holds, and each tier takes \
                                 a rule per listener port ({ports}): at most {} tiers fit beside it",
                                (RULES_PER_GROUP - PREFIX_LIST_WEIGHT) / ports
                            ),
                        );
                    }
                }
            }
        }
        if let Some(dns) = &stack.dns {
            if dns.private && dns.load_balancer == edge.load_balancer && edge.restrict_balancer {
                bad(
                    "edge.restrict_balancer".into(),
                    "the private zone's record names the balancer itself (Route 53 cannot alias \
                     a CloudFront distribution in a private zone), and a balancer restricted to \
                     CloudFront would refuse what the VPC sends it: set restrict_balancer = false \
                     or make the zone public"
                        .into(),
                );
            }
        }
        if edge.maintenance_on.is_empty() {
            bad(
                "edge.maintenance_on".into(),
                "name the codes the maintenance page replaces, such as [502, 503, 504]".into(),
            );
        }
        for (i, code) in edge.maintenance_on.iter().enumerate() {
            if !REPLACEABLE_5XX.contains(code) {
                bad(
                    format!("edge.maintenance_on.{i}"),
                    format!(
                        "{code} is not a server error CloudFront can replace: one of {}",
                        REPLACEABLE_5XX.map(|c| c.to_string()).join(", ")
                    ),
                );
            } else if edge.maintenance_on[..i].contains(code) {
                bad(
                    format!("edge.maintenance_on.{i}"),
                    format!("{code} is listed twice"),
                );
            }
        }
        // CustomErrorResponse, ErrorCachingMinTTL: seconds, up to a year.
        if edge.maintenance_cache_seconds > 31_536_000 {
            bad(
                "edge.maintenance_cache_seconds".into(),
                "at most 31536000 (a year)".into(),
            );
        }
        if !(edge.error_rate_alarm_percent > 0.0 && edge.error_rate_alarm_percent <= 100.0) {
            bad(
                "edge.error_rate_alarm_percent".into(),
                "a percentage above 0, at most 100".into(),
            );
        }
        check_policy(bad, "edge.alarm", edge.alarm);
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack, env, region, ..
        } = *cx;
        let Some(edge) = &stack.edge else {
            return;
        };
        let lb = format!("lb.{}", edge.load_balancer);
        let https = stack.serves_https(&edge.load_balancer);
        out.push(
            ResourceSpec::new(
                BUCKET,
                Kind::S3Bucket,
                physical_name(env, "maintenance", BUCKET_NAME_MAX),
            )
            // S3-managed keys: CloudFront reads through its origin access control without a
            // KMS key policy naming it (with SSE-KMS the key's policy must admit CloudFront).
            .with("kms_encrypted", Val::Bool(false))
            .with("public_access_blocked", Val::Bool(true))
            .with("page_key", Val::str(MAINTENANCE_KEY))
            .with("page", Val::str(maintenance_page(stack))),
        );
        out.push(
            // Names of origin access controls are unique in the account, which CloudFront's
            // being global makes every region's: the region is part of it.
            ResourceSpec::new(
                OAC,
                Kind::OriginAccessControl,
                global_name(env, region, "edge", 64),
            )
            .with(
                "description",
                Val::str(format!("ftctl {env}: reads the maintenance page")),
            ),
        );
        let mut distribution = ResourceSpec::new(
            DISTRIBUTION,
            Kind::Distribution,
            global_name(env, region, "edge", 128),
        )
        .with("origin_domain", Val::reference(&lb, "dns_name"))
        // An HTTPS origin must show a certificate for the name CloudFront asks for: the
        // balancer's certificate is for the public record, which the forwarded Host
        // header names, never for its own *.elb.amazonaws.com name (CloudFront
        // Developer Guide, "Require HTTPS for communication between CloudFront and your
        // custom origin").
        .with(
            "origin_protocol",
            Val::str(if https { "https-only" } else { "http-only" }),
        )
        .with(
            "origin_port",
            Val::Int(origin_port(stack, &edge.load_balancer).into()),
        )
        .with(
            "maintenance_domain",
            Val::reference(BUCKET, "regional_domain"),
        )
        .with("maintenance_access", Val::reference(OAC, "id"))
        .with("maintenance_page", Val::str(format!("/{MAINTENANCE_KEY}")))
        .with(
            "maintenance_paths",
            Val::str(format!("/{MAINTENANCE_PATHS}")),
        )
        .with(
            "maintenance_on",
            Val::list(edge.maintenance_on.iter().map(|c| Val::Int((*c).into()))),
        )
        .with(
            "maintenance_cache_seconds",
            Val::Int(edge.maintenance_cache_seconds.into()),
        )
        .with("price_class", Val::str(edge.price_class.as_aws()))
        .with("viewer_protocol", Val::str("redirect-to-https"))
        .with("enabled", Val::Bool(true))
        // The balancer serves once its listener is there.
        .after(format!("{lb}.listener"));
        if let Some(name) = alias(stack) {
            let certificate = if region == ROUTE53_METRICS_REGION {
                CERTIFICATE
            } else {
                out.push(
                    ResourceSpec::new(EDGE_CERTIFICATE, Kind::Certificate, &name)
                        .with("domain_name", Val::str(&name))
                        .with("zone_id", Val::reference("dns.zone", "id"))
                        .with("issued", Val::Bool(true))
                        .with("region", Val::str(ROUTE53_METRICS_REGION)),
                );
                EDGE_CERTIFICATE
            };
            distribution = distribution
                .with("aliases", Val::list([Val::str(&name)]))
                .with("certificate_arn", Val::reference(certificate, "arn"));
        }
        out.push(distribution);
        out.push(
            ResourceSpec::new(
                "edge.maintenance.policy",
                Kind::BucketPolicy,
                physical_name(env, "maintenance-policy", 255),
            )
            .with("bucket", Val::reference(BUCKET, "name"))
            .with("paths", Val::str(MAINTENANCE_PATHS))
            .with("reader_distribution", Val::reference(DISTRIBUTION, "arn")),
        );
        // CloudFront's metrics are published in us-east-1 only (CloudFront Developer Guide,
        // "Monitor CloudFront metrics with Amazon CloudWatch"); an alarm notifies only a topic
        // of its own region.
        out.push(us_east_1_alarm(
            env,
            region,
            AlarmDef {
                id: "alarm.edge.5xx".into(),
                name_suffix: "edge-5xx".into(),
                description: format!(
                    "CloudFront answers more than {}% of requests with 5xx (the maintenance page \
                     included): the balancer {} fails",
                    edge.error_rate_alarm_percent, edge.load_balancer
                ),
                namespace: "AWS/CloudFront",
                metric: "5xxErrorRate",
                statistic: "Average",
                dimensions: vec![
                    ("DistributionId", Val::reference(DISTRIBUTION, "id")),
                    ("Region", Val::str("Global")),
                ],
                comparison: "GreaterThanThreshold",
                threshold: edge.error_rate_alarm_percent,
                policy: edge.alarm,
                // No requests, no data point: not an outage.
                missing: "notBreaching",
            },
        ));
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        if cx.stack.edge.is_none() {
            return Vec::new();
        }
        let d = [
            ("DistributionId", Val::reference(DISTRIBUTION, "id")),
            ("Region", Val::str("Global")),
        ];
        let m = |name| metric("AWS/CloudFront", name, &d);
        vec![Row {
            title: "CloudFront".into(),
            charts: vec![
                ("Requests", vec![m("Requests")], "Sum"),
                (
                    "Error rates (%)",
                    vec![m("5xxErrorRate"), m("4xxErrorRate")],
                    "Average",
                ),
            ],
            region: ROUTE53_METRICS_REGION.into(),
        }]
    }
}
