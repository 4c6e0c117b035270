//! The dns of a stack (the Route 53 zone and its records): their settings in the stack file, what
//! is checked of them beyond what the types say, the resources they expand into and, where they
//! have metrics worth watching, their rows on the dashboard.

use super::monitoring::{metric, Row};
use super::{us_east_1_alarm, AlarmDef, Component, Cx, ROUTE53_METRICS_REGION};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

/// A Route 53 hosted zone with an alias record to a load balancer and a health check on it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// The zone's domain, e.g. `shop.example.com`.
    pub zone: String,
    /// A private zone answers only inside the VPC.
    #[serde(default)]
    pub private: bool,
    /// The record's label: `www` makes `www.<zone>`.
    pub record: String,
    pub load_balancer: String,
    /// What the health check requests from the balancer.
    #[serde(default = "default_health_path")]
    pub health_check_path: String,
    /// Failed health checks this long page someone.
    #[serde(default = "three_minute_alarm")]
    pub health_alarm: AlarmPolicy,
}

/// The hosted zone, its record for the balancer, and for a public zone the certificate and health check.
pub(crate) struct DnsComponent;

impl Component for DnsComponent {
    /// Reports each problem of the stack's dns as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        if let Some(dns) = &stack.dns {
            let label = |s: &str| {
                !s.is_empty()
                    && s.len() <= 63
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !s.starts_with('-')
                    && !s.ends_with('-')
            };
            let zone = dns.zone.trim_end_matches('.');
            if zone.split('.').count() < 2 || !zone.split('.').all(label) {
                bad(
                    "dns.zone".into(),
                    format!(
                        "`{}` is not a domain name such as shop.mycompany.com",
                        dns.zone
                    ),
                );
            } else if let Some(reserved) = reserved_domain(zone) {
                bad(
                    "dns.zone".into(),
                    format!(
                        "`{}` is under {reserved}, which is reserved for documentation and testing \
                         (RFC 2606, RFC 6761) and refused by Route 53: use a domain you own, or a \
                         private zone such as shop.internal",
                        dns.zone
                    ),
                );
            }
            if !label(&dns.record) {
                bad(
                    "dns.record".into(),
                    format!("`{}` is not a DNS label such as www", dns.record),
                );
            }
            match stack.load_balancers.get(&dns.load_balancer) {
                None => bad(
                    "dns.load_balancer".into(),
                    format!("no load balancer named `{}`", dns.load_balancer),
                ),
                Some(lb) if lb.scheme == Scheme::Internal && !dns.private => bad(
                    "dns.private".into(),
                    "a public zone pointing at an internal balancer would publish a private address"
                        .into(),
                ),
                Some(lb) if !dns.private && lb.port == HTTPS_PORT => bad(
                    format!("load_balancers.{}.port", dns.load_balancer),
                    format!(
                        "the balancer a public zone names serves HTTPS on {0} and redirects its own \
                         port there: its port cannot also be {0} (use 80)",
                        HTTPS_PORT
                    ),
                ),
                Some(_) => {}
            }
            if !dns.health_check_path.starts_with('/') {
                bad("dns.health_check_path".into(), "must start with /".into());
            }
            check_policy(bad, "dns.health_alarm", dns.health_alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack, env, region, ..
        } = *cx;
        if let Some(dns) = &stack.dns {
            let edge_fronts = super::edge::fronted_by_edge(stack, &dns.load_balancer);
            out.extend(expand_dns(env, region, dns, edge_fronts));
        }
    }

    /// The health check's row, of us-east-1, where Route 53 publishes its metrics.
    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        if cx.stack.dns.as_ref().is_none_or(|d| d.private) {
            return Vec::new();
        }
        let d = [("HealthCheckId", Val::reference("dns.health", "id"))];
        vec![Row {
            title: "DNS".into(),
            charts: vec![(
                "Health check",
                vec![metric("AWS/Route53", "HealthCheckStatus", &d)],
                "Minimum",
            )],
            region: ROUTE53_METRICS_REGION.into(),
        }]
    }
}

/// The certificate of the balancer a public zone names.
pub(crate) const CERTIFICATE: &str = "dns.certificate";

fn expand_dns(
    env: &str,
    region: &str,
    dns: &crate::stack::Dns,
    edge_fronts: bool,
) -> Vec<ResourceSpec> {
    let zone = dns.zone.trim_end_matches('.').to_lowercase();
    let lb = format!("lb.{}", dns.load_balancer);
    let mut zone_spec = ResourceSpec::new("dns.zone", Kind::HostedZone, &zone)
        .with("zone_name", Val::str(format!("{zone}.")))
        .with("private", Val::Bool(dns.private));
    if dns.private {
        zone_spec = zone_spec.with("vpc_id", Val::reference("network.vpc", "id"));
    }
    let record = format!("dns.record.{}", dns.record);
    let fqdn = format!("{}.{zone}", dns.record);
    let record_spec = |id: &str, record_type: &str| {
        ResourceSpec::new(id, Kind::DnsRecord, &fqdn)
            .with("zone_id", Val::reference("dns.zone", "id"))
            .with("record_name", Val::str(format!("{fqdn}.")))
            .with("record_type", Val::str(record_type))
    };
    // A public record of a balancer CloudFront fronts names the distribution, for IPv6 too
    // (CloudFront answers both). Route 53 cannot evaluate a distribution's health (API
    // reference, AliasTarget: EvaluateTargetHealth cannot be true for CloudFront), nor alias
    // one from a private zone, whose record keeps naming the balancer.
    let edge = !dns.private && edge_fronts;
    let mut specs = vec![zone_spec];
    if edge {
        for (id, record_type) in [(record.clone(), "A"), (format!("{record}.ipv6"), "AAAA")] {
            specs.push(
                record_spec(&id, record_type)
                    .with(
                        "alias_dns_name",
                        Val::reference(super::edge::DISTRIBUTION, "domain_name"),
                    )
                    .with("alias_zone_id", Val::str(super::edge::CLOUDFRONT_ZONE_ID))
                    .with("evaluate_target_health", Val::Bool(false)),
            );
        }
    } else {
        specs.push(
            record_spec(&record, "A")
                .with("alias_dns_name", Val::reference(&lb, "dns_name"))
                .with("alias_zone_id", Val::reference(&lb, "zone_id"))
                .with("evaluate_target_health", Val::Bool(true)),
        );
    }
    if dns.private {
        // Route 53's health checkers are on the internet and cannot reach addresses inside a
        // VPC, so a health check of a private zone's target would fail for ever (Route 53
        // Developer Guide, "Health checking resources in a private hosted zone"). ACM cannot
        // validate a certificate through a private zone either: the balancer stays HTTP.
        return specs;
    }
    specs.extend([
        // DNS-validated through the zone itself (ACM User Guide, "DNS validation").
        ResourceSpec::new(CERTIFICATE, Kind::Certificate, &fqdn)
            .with("domain_name", Val::str(&fqdn))
            .with("zone_id", Val::reference("dns.zone", "id"))
            .with("issued", Val::Bool(true)),
        // HTTPS, as clients reach it (plain HTTP only redirects). Route 53 does not check the
        // certificate, so checking the balancer's own name is fine (Route 53 Developer Guide,
        // "Values that you specify when you create or update health checks").
        ResourceSpec::new(
            "dns.health",
            Kind::HealthCheck,
            physical_name(env, &format!("{}-health", dns.record), 255),
        )
        .with("type", Val::str("HTTPS"))
        // Behind CloudFront, what users reach: the balancer may admit only CloudFront, and
        // the name is what its certificate and the distribution's alias are for.
        .with(
            "fqdn",
            if edge {
                Val::str(&fqdn)
            } else {
                Val::reference(&lb, "dns_name")
            },
        )
        .with("path", Val::str(&dns.health_check_path))
        .with("port", Val::Int(HTTPS_PORT.into()))
        // The balancer answers HTTPS only once its listener is there; behind CloudFront, the
        // name reaches the distribution only once the record names it.
        .after(format!("{lb}.listener"))
        .after(&record)
        .with("request_interval", Val::Int(30))
        .with("failure_threshold", Val::Int(3)),
        us_east_1_alarm(
            env,
            region,
            AlarmDef {
                id: "alarm.dns.health".into(),
                name_suffix: format!("{}-health-check", dns.record),
                description: format!(
                    "{}.{zone}: Route 53 health checks of {} fail",
                    dns.record, dns.health_check_path
                ),
                namespace: "AWS/Route53",
                metric: "HealthCheckStatus",
                statistic: "Minimum",
                dimensions: vec![("HealthCheckId", Val::reference("dns.health", "id"))],
                comparison: "LessThanThreshold",
                threshold: 1.0,
                policy: dns.health_alarm,
                missing: "breaching",
            },
        ),
    ]);
    specs
}
