//! The load balancers of a stack (application load balancers: scheme, listeners, who may reach
//! them): what is checked of them beyond what the types say, the resources they expand into and,
//! where they have metrics worth watching, their rows on the dashboard.

use super::dns::CERTIFICATE;
use super::monitoring::{metric, Row};
use super::{
    alarm, tcp_rule_from_cidr, tcp_rule_from_sg, AlarmDef, Component, Cx, ALB_NAME_MAX,
    BUCKET_NAME_MAX, TOPIC,
};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;

/// Reports each problem of the stack's load balancers as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
    for (name, lb) in &stack.load_balancers {
        let at = format!("load_balancers.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        for (i, cidr) in lb.allow_cidrs.iter().enumerate() {
            if cidr.parse::<ipnet::Ipv4Net>().is_err() {
                bad(
                    format!("{at}.allow_cidrs.{i}"),
                    format!("`{cidr}` is not an IPv4 CIDR block"),
                );
            }
        }
        if lb.scheme == Scheme::Internal && lb.allow_cidrs.iter().any(|c| c == "0.0.0.0/0") {
            bad(
                format!("{at}.allow_cidrs"),
                "an internal balancer must not be open to 0.0.0.0/0".into(),
            );
        }
        for (i, tier) in lb.allow_from.iter().enumerate() {
            if !stack.tiers.contains_key(tier) {
                bad(
                    format!("{at}.allow_from.{i}"),
                    format!("no tier named `{tier}`"),
                );
            }
        }
        if lb.port == 0 {
            bad(format!("{at}.port"), "must be a port number".into());
        }
        check_policy(bad, &format!("{at}.alarms.elb_5xx"), lb.alarms.elb_5xx);
    }
}

/// The balancers: their security groups, listeners, web ACLs, access logs and alarms.
pub(crate) struct LoadBalancers;

impl Component for LoadBalancers {
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        validate(stack, bad)
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx { stack, env, .. } = *cx;
        let (public_ids, private_ids, topic) = (&cx.public_subnets, &cx.private_subnets, TOPIC);
        if stack.load_balancers.values().any(|lb| lb.access_logs) {
            out.push(
                ResourceSpec::new(
                    LB_LOGS,
                    Kind::S3Bucket,
                    physical_name(env, "lb-logs", BUCKET_NAME_MAX),
                )
                // Elastic Load Balancing writes access logs only into buckets encrypted with
                // S3-managed keys (ELB User Guide, "Access logs for your Application Load Balancer").
                .with("kms_encrypted", Val::Bool(false))
                .with("public_access_blocked", Val::Bool(true))
                .with("writer_service", Val::str(ELB_LOG_DELIVERY)),
            );
        }
        for (name, lb) in &stack.load_balancers {
            let sg = format!("lb.{name}.sg");
            let https = stack.serves_https(name);
            let mut rules: Vec<Val> = Vec::new();
            for port in stack.listener_ports(name, lb) {
                rules.extend(lb.allow_cidrs.iter().map(|c| tcp_rule_from_cidr(port, c)));
                rules.extend(
                    lb.allow_from
                        .iter()
                        .map(|t| tcp_rule_from_sg(port, &format!("tier.{t}.sg"))),
                );
            }
            out.push(
                ResourceSpec::new(
                    &sg,
                    Kind::SecurityGroup,
                    physical_name(env, &format!("{name}-lb"), 255),
                )
                .with("vpc_id", Val::reference("network.vpc", "id"))
                .with(
                    "description",
                    Val::str(format!("ftctl {env}: load balancer {name}")),
                )
                .with("ingress", Val::List(rules)),
            );
            let subnets = match lb.scheme {
                Scheme::InternetFacing => &public_ids,
                Scheme::Internal => &private_ids,
            };
            let mut balancer = ResourceSpec::new(
                format!("lb.{name}"),
                Kind::LoadBalancer,
                physical_name(env, name, ALB_NAME_MAX),
            );
            if lb.scheme == Scheme::InternetFacing {
                // AWS refuses an internet-facing balancer in a VPC without an internet gateway,
                // and it cannot serve before its subnets route to it.
                balancer = balancer.after("network.igw").after("network.public.routes");
            }
            if lb.access_logs {
                balancer = balancer
                    .with("access_logs_bucket", Val::reference(LB_LOGS, "name"))
                    .with("access_logs_prefix", Val::str(format!("lb/{name}")));
            }
            out.push(
                balancer
                    .with("type", Val::str("application"))
                    .with("scheme", Val::str(lb.scheme.as_aws()))
                    .with(
                        "subnet_ids",
                        Val::list(subnets.iter().map(|id| Val::reference(id, "id"))),
                    )
                    .with("security_group_ids", Val::list([Val::reference(&sg, "id")]))
                    .with("drop_invalid_header_fields", Val::Bool(true))
                    .with("deletion_protection", Val::Bool(lb.deletion_protection)),
            );
            if lb.waf() {
                out.push(
                    ResourceSpec::new(
                        format!("lb.{name}.waf"),
                        Kind::WebAcl,
                        physical_name(env, &format!("{name}-lb"), WEB_ACL_NAME_MAX),
                    )
                    .with(
                        "description",
                        Val::str(format!("ftctl {env}: load balancer {name}")),
                    )
                    .with(
                        "managed_rule_groups",
                        Val::list(WAF_RULE_GROUPS.iter().map(|g| Val::str(*g))),
                    )
                    .with("resource_arn", Val::reference(format!("lb.{name}"), "arn")),
                );
            }
            let served_by = stack
                .tiers
                .iter()
                .find(|(_, t)| &t.load_balancer == name)
                .map(|(tier, _)| Val::reference(format!("tier.{tier}.tg"), "arn"));
            // `lb.<name>.listener` is the one that serves (tiers and services attach to it): HTTPS
            // when the balancer serves it, with its own port redirecting there (ELB.1).
            let serving_port = if https { HTTPS_PORT } else { lb.port };
            let mut listener = ResourceSpec::new(
                format!("lb.{name}.listener"),
                Kind::Listener,
                physical_name(env, &format!("{name}-{serving_port}"), 255),
            )
            .with(
                "load_balancer_arn",
                Val::reference(format!("lb.{name}"), "arn"),
            )
            .with("port", Val::Int(serving_port.into()));
            listener = if https {
                listener
                    .with("protocol", Val::str("HTTPS"))
                    .with("certificate_arn", Val::reference(CERTIFICATE, "arn"))
                    .with("ssl_policy", Val::str(TLS_POLICY))
            } else {
                listener.with("protocol", Val::str("HTTP"))
            };
            listener = match served_by {
                Some(tg) => listener.with("forward_to", tg),
                None => listener.with("fixed_response_status", Val::Int(404)),
            };
            out.push(listener);
            if https {
                // After the serving listener: a deployment that served HTTP on this port frees it
                // (the listener moves to HTTPS) before the redirect takes it.
                out.push(
                    ResourceSpec::new(
                        format!("lb.{name}.redirect"),
                        Kind::Listener,
                        physical_name(env, &format!("{name}-{}-redirect", lb.port), 255),
                    )
                    .with(
                        "load_balancer_arn",
                        Val::reference(format!("lb.{name}"), "arn"),
                    )
                    .with("port", Val::Int(lb.port.into()))
                    .with("protocol", Val::str("HTTP"))
                    .with("redirect_https_port", Val::Int(HTTPS_PORT.into()))
                    .after(format!("lb.{name}.listener")),
                );
            }
            out.push(alarm(
                env,
                topic,
                AlarmDef {
                    id: format!("alarm.lb.{name}.elb-5xx"),
                    name_suffix: format!("{name}-lb-5xx"),
                    description: format!(
                        "Load balancer {name} answers 5xx itself (no healthy target, or overload)"
                    ),
                    namespace: "AWS/ApplicationELB",
                    metric: "HTTPCode_ELB_5XX_Count",
                    statistic: "Sum",
                    dimensions: vec![(
                        "LoadBalancer",
                        Val::reference(format!("lb.{name}"), "arn_suffix"),
                    )],
                    comparison: "GreaterThanThreshold",
                    threshold: lb.alarms.elb_5xx_threshold as f64,
                    policy: lb.alarms.elb_5xx,
                    missing: "notBreaching",
                },
            ));
        }
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .load_balancers
            .keys()
            .map(|name| {
                let d = [(
                    "LoadBalancer",
                    Val::reference(format!("lb.{name}"), "arn_suffix"),
                )];
                let m = |metric_name| metric("AWS/ApplicationELB", metric_name, &d);
                Row::new(
                    cx,
                    format!("Load balancer {name}"),
                    vec![
                        ("Requests", vec![m("RequestCount")], "Sum"),
                        (
                            "5xx from the balancer",
                            vec![m("HTTPCode_ELB_5XX_Count")],
                            "Sum",
                        ),
                        ("Healthy hosts", vec![m("HealthyHostCount")], "Minimum"),
                        ("Latency", vec![m("TargetResponseTime")], "p99"),
                    ],
                )
            })
            .collect()
    }
}

/// The bucket of the load balancers' access logs, and the service that writes them.
const LB_LOGS: &str = "logs.balancers";
pub const ELB_LOG_DELIVERY: &str = "logdelivery.elasticloadbalancing.amazonaws.com";

/// AWS's baseline managed rule groups, in priority order: OWASP-style common exploits (700
/// WCU; it blocks request bodies over 8 KB) and request patterns known to be malicious (AWS
/// WAF Developer Guide, "Baseline rule groups"; the second group's WCU was not read there). No
/// subscription fee beyond the $1 a month each rule costs (third-party price lists).
const WAF_RULE_GROUPS: [&str; 2] = [
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
];
/// CreateWebACL: a name of at most 128 characters.
const WEB_ACL_NAME_MAX: usize = 128;

/// TLS 1.3 and 1.2 with forward secrecy only: a policy Security Hub's ELB.17 accepts
/// (ELBSecurityPolicy-TLS13-1-2-2021-06, the console's default, no longer is).
const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06";
