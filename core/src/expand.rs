//! Turns a validated stack into the concrete AWS resources it stands for, with references
//! between them. Pure: the availability zones are passed in, nothing is looked up.
//!
//! Knows component types (network, load balancer, tier, database, notifications), never stages:
//! a later stage is just a stack with more components.

use crate::deployment::{global_name, physical_name, trail_name};
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::{subnet_cidrs, AlarmPolicy, BillingMode, NatMode, Scheme, Stack, HTTPS_PORT};

const ALB_NAME_MAX: usize = 32;

/// Where Route 53 publishes its health-check metrics, and so where their alarms must live
/// (Route 53 Developer Guide, "Monitoring health checks using CloudWatch": the metrics are
/// "not available if you select any other region"). A CloudWatch alarm notifies only a topic
/// of its own region, so a deployment elsewhere gets a second topic there, with the same
/// subscriptions (SNS cannot subscribe one topic to another).
pub const ROUTE53_METRICS_REGION: &str = "us-east-1";
/// S3 bucket names are at most 63 characters and global: the provider appends the account id
/// (12) and the region (at most 14, ap-southeast-2), each after a hyphen.
pub const BUCKET_NAME_MAX: usize = 63 - 13 - 15;

/// The user data every tier's instances run: a tiny health-checked HTTP service using only what
/// Amazon Linux ships (no package downloads, so it works in private subnets without NAT).
fn user_data(env: &str, tier: &str, port: u16, health_path: &str) -> String {
    format!(
        r#"#!/bin/bash
# Written by ftctl: serves {health_path} and a page naming the tier and zone on port {port}, and
# publishes the requests it served each minute as a custom metric (ftctl/App Requests), the way an
# application publishes its own business metrics (visits, orders, transactions).
set -euo pipefail
mkdir -p /srv/ftctl{health_dir}
TOKEN=$(curl -sS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
AZ=$(curl -sS -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/placement/availability-zone)
ID=$(curl -sS -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id)
echo ok > /srv/ftctl{health_path}
echo "tier={tier} az=$AZ instance=$ID" > /srv/ftctl/index.html
cat > /etc/systemd/system/ftctl-{tier}.service <<UNIT
[Unit]
Description=ftctl {tier} tier health endpoint
After=network-online.target
[Service]
ExecStart=/usr/bin/python3 -m http.server {port} --directory /srv/ftctl
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
REGION=$(curl -sS -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/placement/region)
cat > /usr/local/bin/ftctl-{tier}-requests <<SCRIPT
#!/bin/bash
# Requests logged by the server in the last minute, as a CloudWatch metric (the instance role
# allows cloudwatch:PutMetricData and nothing else).
N=\$(journalctl -u ftctl-{tier}.service --since "-60s" --no-pager -q | grep -c '"GET ' || true)
aws cloudwatch put-metric-data --region $REGION --namespace ftctl/App --metric-name Requests \\
  --dimensions Deployment={env},Tier={tier} --unit Count --value "\$N"
SCRIPT
chmod 755 /usr/local/bin/ftctl-{tier}-requests
cat > /etc/systemd/system/ftctl-{tier}-requests.service <<UNIT
[Unit]
Description=ftctl {tier} tier request metric
[Service]
Type=oneshot
ExecStart=/usr/local/bin/ftctl-{tier}-requests
UNIT
cat > /etc/systemd/system/ftctl-{tier}-requests.timer <<UNIT
[Unit]
Description=Publish the {tier} tier's requests every minute
[Timer]
OnCalendar=minutely
[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable --now ftctl-{tier}.service
systemctl enable --now ftctl-{tier}-requests.timer
"#,
        health_dir = health_path
            .rsplit_once('/')
            .map(|(dir, _)| dir)
            .unwrap_or(""),
    )
}

/// A network ACL entry (see `aws::network_acl`).
fn acl_entry(
    rule: i64,
    egress: bool,
    protocol: &str,
    cidr: &str,
    ports: Option<(u16, u16)>,
) -> Val {
    let mut m = vec![
        ("rule", Val::Int(rule)),
        ("egress", Val::Bool(egress)),
        ("protocol", Val::str(protocol)),
        ("cidr", Val::str(cidr)),
        ("action", Val::str("allow")),
    ];
    if let Some((from, to)) = ports {
        m.push(("from_port", Val::Int(from.into())));
        m.push(("to_port", Val::Int(to.into())));
    }
    Val::map(m)
}

/// What every subnet admits, from rule `first` on: anything from inside the VPC, answers from
/// anywhere on ephemeral ports except 3389; and everything out.
fn acl_common(vpc_cidr: &str, first: i64) -> Vec<Val> {
    vec![
        acl_entry(first, false, "-1", vpc_cidr, None),
        acl_entry(first + 10, false, "6", "0.0.0.0/0", Some((1024, 3388))),
        acl_entry(first + 20, false, "6", "0.0.0.0/0", Some((3390, 65535))),
        acl_entry(100, true, "-1", "0.0.0.0/0", None),
    ]
}

fn tcp_rule_from_sg(port: u16, sg_id: &str) -> Val {
    Val::map([
        ("protocol", Val::str("tcp")),
        ("from_port", Val::Int(port.into())),
        ("to_port", Val::Int(port.into())),
        ("source", Val::reference(sg_id, "id")),
    ])
}

fn tcp_rule_from_cidr(port: u16, cidr: &str) -> Val {
    Val::map([
        ("protocol", Val::str("tcp")),
        ("from_port", Val::Int(port.into())),
        ("to_port", Val::Int(port.into())),
        ("source", Val::str(cidr)),
    ])
}

struct AlarmDef<'a> {
    id: String,
    name_suffix: String,
    description: String,
    namespace: &'a str,
    metric: &'a str,
    statistic: &'a str,
    dimensions: Vec<(&'a str, Val)>,
    comparison: &'a str,
    threshold: f64,
    policy: AlarmPolicy,
    missing: &'a str,
}

fn alarm(env: &str, topic: &str, def: AlarmDef<'_>) -> ResourceSpec {
    let actions = Val::list([Val::reference(topic, "arn")]);
    ResourceSpec::new(
        def.id,
        Kind::MetricAlarm,
        physical_name(env, &def.name_suffix, 255),
    )
    .with("description", Val::str(def.description))
    .with("namespace", Val::str(def.namespace))
    .with("metric_name", Val::str(def.metric))
    .with("statistic", Val::str(def.statistic))
    .with("dimensions", Val::map(def.dimensions))
    .with("comparison_operator", Val::str(def.comparison))
    .with("threshold", Val::Float(def.threshold))
    .with("period", Val::Int(def.policy.period_seconds.into()))
    .with(
        "evaluation_periods",
        Val::Int(def.policy.evaluation_periods.into()),
    )
    .with("treat_missing_data", Val::str(def.missing))
    .with("alarm_actions", actions.clone())
    .with("ok_actions", actions)
}

/// A valid stack that cannot be laid out over the zones at hand; names the field so the error
/// can point at the stack file's line.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Expands `stack` for deployment `env` over `zones` (at least `network.az_count` of them).
/// `region` is where the deployment lives: dashboards name it in every metric widget and
/// resources of global services (IAM, Route 53) carry it in their names.
pub fn expand(
    stack: &Stack,
    env: &str,
    region: &str,
    zones: &[String],
) -> Result<Vec<ResourceSpec>, Problem> {
    let net = &stack.network;
    let n = net.az_count as usize;
    if zones.len() < n {
        return Err(Problem {
            field: "network.az_count",
            message: format!(
                "the region offers {} availability zones ({}), the stack asks for {n}",
                zones.len(),
                zones.join(", ")
            ),
        });
    }
    let zones = &zones[..n];
    let (public_cidrs, private_cidrs) = subnet_cidrs(net).ok_or_else(|| Problem {
        field: "network.subnet_prefix",
        message: "the subnet plan does not fit the VPC block".into(),
    })?;
    let mut out = Vec::new();

    // Network.
    out.push(
        ResourceSpec::new("network.vpc", Kind::Vpc, physical_name(env, "vpc", 255))
            .with("cidr_block", Val::str(&net.cidr))
            .with("enable_dns_support", Val::Bool(true))
            .with("enable_dns_hostnames", Val::Bool(true))
            .with("default_security_group_closed", Val::Bool(true))
            .with("default_network_acl_closed", Val::Bool(true)),
    );
    // The subnets' own network ACLs. ACLs are stateless: answers to what the subnets ask of
    // the internet (through NAT, or from S3 over its gateway endpoint) come back to ephemeral
    // ports, admitted around 3389 so no rule opens RDP or SSH to the internet (EC2.21 fails any
    // allow rule whose range covers 22 or 3389). Inside the VPC the security groups decide.
    let mut public_entries: Vec<Val> = stack
        .internet_ingress()
        .iter()
        .enumerate()
        .map(|(k, (port, cidr))| {
            acl_entry(100 + 10 * k as i64, false, "6", cidr, Some((*port, *port)))
        })
        .collect();
    public_entries.extend(acl_common(&net.cidr, 1000));
    for (id, entries) in [
        ("network.acl.public", public_entries),
        ("network.acl.private", acl_common(&net.cidr, 100)),
    ] {
        let label = id.rsplit('.').next().unwrap_or(id);
        out.push(
            ResourceSpec::new(id, Kind::NetworkAcl, physical_name(env, label, 255))
                .with("vpc_id", Val::reference("network.vpc", "id"))
                .with("entries", Val::List(entries)),
        );
    }
    out.push(
        ResourceSpec::new(
            "network.igw",
            Kind::InternetGateway,
            physical_name(env, "igw", 255),
        )
        .with("vpc_id", Val::reference("network.vpc", "id")),
    );
    let public_ids: Vec<String> = (0..n).map(|i| format!("network.public.{i}")).collect();
    let private_ids: Vec<String> = (0..n).map(|i| format!("network.private.{i}")).collect();
    for i in 0..n {
        for (ids, cidrs, public) in [
            (&public_ids, &public_cidrs, true),
            (&private_ids, &private_cidrs, false),
        ] {
            let label = if public { "public" } else { "private" };
            out.push(
                ResourceSpec::new(
                    &ids[i],
                    Kind::Subnet,
                    physical_name(env, &format!("{label}-{}", zones[i]), 255),
                )
                .with("vpc_id", Val::reference("network.vpc", "id"))
                .with("cidr_block", Val::str(&cidrs[i]))
                .with("availability_zone", Val::str(&zones[i]))
                .with("map_public_ip_on_launch", Val::Bool(public))
                .with(
                    "network_acl_id",
                    Val::reference(format!("network.acl.{label}"), "id"),
                ),
            );
        }
    }
    out.push(
        ResourceSpec::new(
            "network.public.routes",
            Kind::RouteTable,
            physical_name(env, "public", 255),
        )
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with(
            "routes",
            Val::list([Val::map([
                ("destination", Val::str("0.0.0.0/0")),
                ("target", Val::reference("network.igw", "id")),
            ])]),
        )
        .with(
            "subnet_ids",
            Val::list(public_ids.iter().map(|id| Val::reference(id, "id"))),
        ),
    );
    let nat_count = match net.nat {
        NatMode::None => 0,
        NatMode::Single => 1,
        NatMode::PerAz => n,
    };
    for i in 0..nat_count {
        let eip = format!("network.nat.{i}.ip");
        out.push(
            ResourceSpec::new(
                &eip,
                Kind::ElasticIp,
                physical_name(env, &format!("nat-{}", zones[i]), 255),
            )
            .after("network.igw"),
        );
        out.push(
            ResourceSpec::new(
                format!("network.nat.{i}"),
                Kind::NatGateway,
                physical_name(env, &format!("nat-{}", zones[i]), 255),
            )
            .with("subnet_id", Val::reference(&public_ids[i], "id"))
            .with("allocation_id", Val::reference(&eip, "allocation_id"))
            .after("network.igw"),
        );
    }
    for (i, private_id) in private_ids.iter().enumerate() {
        let routes = if nat_count == 0 {
            Val::list([])
        } else {
            let nat = format!("network.nat.{}", i.min(nat_count - 1));
            Val::list([Val::map([
                ("destination", Val::str("0.0.0.0/0")),
                ("target", Val::reference(&nat, "id")),
            ])])
        };
        out.push(
            ResourceSpec::new(
                format!("network.private.{i}.routes"),
                Kind::RouteTable,
                physical_name(env, &format!("private-{}", zones[i]), 255),
            )
            .with("vpc_id", Val::reference("network.vpc", "id"))
            .with("routes", routes)
            .with("subnet_ids", Val::list([Val::reference(private_id, "id")])),
        );
    }

    // VPC endpoints. S3's gateway endpoint is free and always made: EMR must reach S3 from its
    // private subnet (EMR Management Guide, "private subnets"), and so do image layers pulled
    // from ECR. Interface endpoints (billed per zone-hour) only as the stack names them.
    let private_routes: Vec<String> = (0..n)
        .map(|i| format!("network.private.{i}.routes"))
        .collect();
    out.push(
        ResourceSpec::new(
            "network.endpoint.s3",
            Kind::VpcEndpoint,
            physical_name(env, "s3", 255),
        )
        .with("type", Val::str("Gateway"))
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with(
            "service_name",
            Val::str(format!("com.amazonaws.{region}.s3")),
        )
        .with(
            "route_table_ids",
            Val::list(private_routes.iter().map(|id| Val::reference(id, "id"))),
        ),
    );
    if !net.endpoints.is_empty() {
        out.push(
            ResourceSpec::new(
                "network.endpoints.sg",
                Kind::SecurityGroup,
                physical_name(env, "endpoints", 255),
            )
            .with("vpc_id", Val::reference("network.vpc", "id"))
            .with(
                "description",
                Val::str(format!(
                    "ftctl {env}: HTTPS to the VPC's interface endpoints"
                )),
            )
            .with("ingress", Val::list([tcp_rule_from_cidr(443, &net.cidr)])),
        );
    }
    for service in &net.endpoints {
        out.push(
            ResourceSpec::new(
                format!("network.endpoint.{service}"),
                Kind::VpcEndpoint,
                physical_name(env, service, 255),
            )
            .with("type", Val::str("Interface"))
            .with("vpc_id", Val::reference("network.vpc", "id"))
            .with(
                "service_name",
                Val::str(format!("com.amazonaws.{region}.{service}")),
            )
            .with(
                "subnet_ids",
                Val::list(private_ids.iter().map(|id| Val::reference(id, "id"))),
            )
            .with(
                "security_group_ids",
                Val::list([Val::reference("network.endpoints.sg", "id")]),
            )
            // The service's usual name resolves to the endpoint inside the VPC, so the SDKs
            // and the AWS CLI on the instances need no endpoint setting.
            .with("private_dns_enabled", Val::Bool(true)),
        );
    }

    // Notifications first: every alarm refers to the topic.
    let topic = "notifications.topic";
    let mut subscriptions = Vec::new();
    for (protocol, endpoints) in [
        ("email", &stack.notifications.emails),
        ("https", &stack.notifications.https_endpoints),
        ("sqs", &stack.notifications.sqs_queue_arns),
    ] {
        for endpoint in endpoints {
            subscriptions.push(Val::map([
                ("protocol", Val::str(protocol)),
                ("endpoint", Val::str(endpoint)),
            ]));
        }
    }
    let public_health_check = stack.dns.as_ref().is_some_and(|d| !d.private);
    if public_health_check && region != ROUTE53_METRICS_REGION {
        let name = physical_name(env, &format!("{region}-alerts"), KEY_ALIAS_MAX);
        out.push(
            notifications_key(ROUTE53_KEY, &name).with("region", Val::str(ROUTE53_METRICS_REGION)),
        );
        out.push(
            ResourceSpec::new(
                ROUTE53_TOPIC,
                Kind::SnsTopic,
                physical_name(env, &format!("{region}-alerts"), 256),
            )
            .with("region", Val::str(ROUTE53_METRICS_REGION))
            .with("subscriptions", Val::List(subscriptions.clone()))
            .with("kms_key_id", Val::reference(ROUTE53_KEY, "arn")),
        );
    }
    let key = "notifications.key";
    out.push(notifications_key(
        key,
        &physical_name(env, "alerts", KEY_ALIAS_MAX),
    ));
    out.push(
        ResourceSpec::new(topic, Kind::SnsTopic, physical_name(env, "alerts", 256))
            .with("subscriptions", Val::List(subscriptions))
            .with("kms_key_id", Val::reference(key, "arn")),
    );

    // Load balancers: security group, balancer, listener; their access logs in one bucket.
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

    // Tiers: security group, launch template, target group, group, alarms.
    for (name, tier) in &stack.tiers {
        let sg = format!("tier.{name}.sg");
        let lb_sg = format!("lb.{}.sg", tier.load_balancer);
        out.push(
            ResourceSpec::new(
                &sg,
                Kind::SecurityGroup,
                physical_name(env, &format!("{name}-tier"), 255),
            )
            .with("vpc_id", Val::reference("network.vpc", "id"))
            .with("description", Val::str(format!("ftctl {env}: tier {name}")))
            .with("ingress", Val::list([tcp_rule_from_sg(tier.port, &lb_sg)])),
        );
        // The instances' own role: publish their metrics (and traces, when traced), nothing more.
        let traced = stack.tracing.enabled && stack.tracing.tiers.contains(name);
        let role = format!("tier.{name}.role");
        let profile = format!("tier.{name}.profile");
        let mut statements = vec![statement(
            &["cloudwatch:PutMetricData"],
            vec![Val::str("*")],
        )];
        if traced {
            statements.push(statement(
                &[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                ],
                vec![Val::str("*")],
            ));
        }
        out.push(
            ResourceSpec::new(
                &role,
                Kind::IamRole,
                global_name(env, region, &format!("{name}-instance"), 64),
            )
            .with("trust_service", Val::str("ec2.amazonaws.com"))
            .with(
                "managed_policies",
                Val::List(if tier.ssm {
                    vec![Val::str(SSM_INSTANCE_POLICY)]
                } else {
                    Vec::new()
                }),
            )
            .with("statements", Val::List(statements)),
        );
        out.push(
            ResourceSpec::new(
                &profile,
                Kind::InstanceProfile,
                global_name(env, region, &format!("{name}-profile"), 128),
            )
            .with("role_name", Val::reference(&role, "name")),
        );
        let lt = format!("tier.{name}.lt");
        out.push(
            ResourceSpec::new(&lt, Kind::LaunchTemplate, physical_name(env, name, 128))
                .with("instance_profile", Val::reference(&profile, "name"))
                .with("image_id", Val::str(&tier.image))
                .with("instance_type", Val::str(&tier.instance_type))
                .with("security_group_ids", Val::list([Val::reference(&sg, "id")]))
                .with("http_tokens", Val::str("required"))
                .with("volume_size_gb", Val::Int(tier.volume_size_gb.into()))
                .with("volume_encrypted", Val::Bool(true))
                .with(
                    "user_data",
                    Val::str(user_data(env, name, tier.port, &tier.health_check_path)),
                ),
        );
        let tg = format!("tier.{name}.tg");
        out.push(
            ResourceSpec::new(
                &tg,
                Kind::TargetGroup,
                physical_name(env, name, ALB_NAME_MAX),
            )
            .with("vpc_id", Val::reference("network.vpc", "id"))
            .with("port", Val::Int(tier.port.into()))
            .with("protocol", Val::str("HTTP"))
            .with("target_type", Val::str("instance"))
            .with("health_check_path", Val::str(&tier.health_check_path))
            .with("health_check_interval_seconds", Val::Int(15))
            .with("health_check_timeout_seconds", Val::Int(5))
            .with("healthy_threshold", Val::Int(2))
            .with("unhealthy_threshold", Val::Int(2))
            .with("matcher", Val::str("200")),
        );
        let asg = format!("tier.{name}.asg");
        out.push(
            ResourceSpec::new(&asg, Kind::AutoScalingGroup, physical_name(env, name, 255))
                .with("launch_template_id", Val::reference(&lt, "id"))
                .with(
                    "mixed_instance_types",
                    Val::List(if tier.fallback_instance_types.is_empty() {
                        Vec::new()
                    } else {
                        std::iter::once(&tier.instance_type)
                            .chain(&tier.fallback_instance_types)
                            .map(Val::str)
                            .collect()
                    }),
                )
                .with("min_size", Val::Int(tier.min_size.into()))
                .with("max_size", Val::Int(tier.max_size.into()))
                // The group's target-tracking policy moves its desired capacity between min and
                // max: the stack owns that range, not a number, so a scaled-out group is not
                // drift and an apply never resets it. The stack's number is where it starts.
                .with(
                    "desired_capacity",
                    Val::map([
                        ("min", Val::Int(tier.min_size.into())),
                        ("max", Val::Int(tier.max_size.into())),
                    ]),
                )
                .with("initial_capacity", Val::Int(tier.desired_capacity.into()))
                .with(
                    "subnet_ids",
                    Val::list(private_ids.iter().map(|id| Val::reference(id, "id"))),
                )
                .with("target_group_arns", Val::list([Val::reference(&tg, "arn")]))
                // Instances registered in a target group no listener uses are never health
                // checked: start the group once its balancer forwards to the target group.
                .after(format!("lb.{}.listener", tier.load_balancer))
                .with("health_check_type", Val::str("ELB"))
                .with(
                    "health_check_grace_period",
                    Val::Int(tier.health_check_grace_seconds.into()),
                )
                .with("target_cpu_percent", Val::Float(tier.target_cpu_percent))
                .with("metrics_collection", Val::Bool(true)),
        );
        if traced {
            out.extend(tracing(env, name, &asg, &stack.tracing));
        }
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: format!("alarm.tier.{name}.capacity"),
                name_suffix: format!("{name}-in-service"),
                description: format!(
                    "Tier {name}: fewer in-service instances than its minimum of {}",
                    tier.min_size
                ),
                namespace: "AWS/AutoScaling",
                metric: "GroupInServiceInstances",
                statistic: "Minimum",
                dimensions: vec![("AutoScalingGroupName", Val::reference(&asg, "name"))],
                comparison: "LessThanThreshold",
                // The minimum, not the desired capacity: scaling in to the minimum is normal.
                threshold: tier.min_size as f64,
                policy: tier.capacity_alarm,
                missing: "missing",
            },
        ));
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: format!("alarm.tier.{name}.healthy-hosts"),
                name_suffix: format!("{name}-healthy-hosts"),
                description: format!(
                    "Tier {name}: fewer healthy targets behind {} than its minimum of {}",
                    tier.load_balancer, tier.min_size
                ),
                namespace: "AWS/ApplicationELB",
                metric: "HealthyHostCount",
                statistic: "Minimum",
                dimensions: vec![
                    (
                        "LoadBalancer",
                        Val::reference(format!("lb.{}", tier.load_balancer), "arn_suffix"),
                    ),
                    ("TargetGroup", Val::reference(&tg, "arn_suffix")),
                ],
                comparison: "LessThanThreshold",
                threshold: tier.min_size as f64,
                policy: tier.capacity_alarm,
                missing: "breaching",
            },
        ));
    }

    // Databases.
    // AWS Backup: one vault, one plan, one role for every database that asks for it.
    let backed_up: Vec<(&String, &crate::stack::Database)> = stack
        .databases
        .iter()
        .filter(|(_, db)| db.aws_backup)
        .collect();
    if !backed_up.is_empty() {
        let keep_days = backed_up
            .iter()
            .map(|(_, db)| db.backup_retention_days)
            .max()
            .unwrap_or_default();
        out.extend([
            ResourceSpec::new(
                BACKUP_VAULT,
                Kind::BackupVault,
                physical_name(env, "backups", BACKUP_NAME_MAX),
            ),
            ResourceSpec::new(
                BACKUP_ROLE,
                Kind::IamRole,
                global_name(env, region, "backup", 64),
            )
            .with("trust_service", Val::str("backup.amazonaws.com"))
            .with(
                "managed_policies",
                Val::list([Val::str(BACKUP_SERVICE_POLICY)]),
            )
            .with("statements", Val::List(Vec::new())),
            ResourceSpec::new(
                "backup.plan",
                Kind::BackupPlan,
                physical_name(env, "databases", BACKUP_NAME_MAX),
            )
            .with("vault_name", Val::reference(BACKUP_VAULT, "name"))
            // 05:00 UTC daily, as AWS Backup's own default plans.
            .with("schedule", Val::str("cron(0 5 ? * * *)"))
            .with("delete_after_days", Val::Int(keep_days.into()))
            .with("iam_role_arn", Val::reference(BACKUP_ROLE, "arn"))
            .with(
                "resources",
                Val::list(
                    backed_up
                        .iter()
                        .map(|(name, _)| Val::reference(format!("db.{name}"), "arn")),
                ),
            ),
        ]);
    }
    for (name, db) in &stack.databases {
        let sg = format!("db.{name}.sg");
        let port = db.engine.default_port();
        out.push(
            ResourceSpec::new(
                &sg,
                Kind::SecurityGroup,
                physical_name(env, &format!("{name}-db"), 255),
            )
            .with("vpc_id", Val::reference("network.vpc", "id"))
            .with(
                "description",
                Val::str(format!("ftctl {env}: database {name}")),
            )
            .with(
                "ingress",
                Val::List(
                    db.allow_from
                        .iter()
                        .map(|t| tcp_rule_from_sg(port, &format!("tier.{t}.sg")))
                        .collect(),
                ),
            ),
        );
        let subnet_group = format!("db.{name}.subnets");
        out.push(
            ResourceSpec::new(
                &subnet_group,
                Kind::DbSubnetGroup,
                physical_name(env, &format!("{name}-db"), 255),
            )
            .with(
                "description",
                Val::str(format!("ftctl {env}: private subnets of database {name}")),
            )
            .with(
                "subnet_ids",
                Val::list(private_ids.iter().map(|id| Val::reference(id, "id"))),
            ),
        );
        let version = db
            .engine_version
            .clone()
            .unwrap_or_else(|| db.engine.default_version().to_string());
        let family = db.engine.parameter_family(&version);
        let mut exports = db.log_exports();
        exports.sort();
        // TLS required of every client (Security Hub RDS.38/RDS.39), and the logs exported
        // actually written: MySQL writes its general and slow query logs only when asked to, to
        // a file for RDS to ship (RDS User Guide, "Publishing MySQL logs to CloudWatch Logs").
        let mut parameters: Vec<(&str, Val)> = Vec::new();
        match db.engine {
            crate::stack::Engine::Mysql => {
                parameters.push(("require_secure_transport", Val::str("1")));
                if exports.iter().any(|e| e == "slowquery") {
                    parameters.push(("slow_query_log", Val::str("1")));
                }
                if exports.iter().any(|e| e == "general") {
                    parameters.push(("general_log", Val::str("1")));
                }
                if exports.iter().any(|e| e == "slowquery" || e == "general") {
                    parameters.push(("log_output", Val::str("FILE")));
                }
            }
            crate::stack::Engine::Postgres => parameters.push(("rds.force_ssl", Val::str("1"))),
        }
        // The family is part of the id and the name: a major version upgrade needs a group of
        // the new family (RDS refuses to upgrade a database on a custom group of the old one),
        // so it makes a new group and the old one goes once the database has moved.
        // (names of parameter groups may not hold a period)
        let family_slug = family.replace('.', "-");
        let params = format!("db.{name}.params.{family_slug}");
        out.push(
            ResourceSpec::new(
                &params,
                Kind::DbParameterGroup,
                physical_name(env, &format!("{name}-{family_slug}"), 255),
            )
            .with("family", Val::str(&family))
            .with(
                "description",
                Val::str(format!("ftctl {env}: database {name} ({family})")),
            )
            .with("parameters", Val::map(parameters)),
        );
        let id = format!("db.{name}");
        out.push(
            ResourceSpec::new(&id, Kind::DbInstance, physical_name(env, name, 63))
                .with("engine", Val::str(db.engine.as_aws()))
                .with("engine_version", Val::str(&version))
                .with(
                    "engine_lifecycle_support",
                    Val::str(if db.extended_support {
                        "open-source-rds-extended-support"
                    } else {
                        "open-source-rds-extended-support-disabled"
                    }),
                )
                .with("instance_class", Val::str(&db.instance_class))
                .with(
                    "allocated_storage_gb",
                    Val::Int(db.allocated_storage_gb.into()),
                )
                .with("multi_az", Val::Bool(db.multi_az))
                .with("storage_encrypted", Val::Bool(true))
                .with("publicly_accessible", Val::Bool(false))
                .with(
                    "backup_retention_days",
                    Val::Int(db.backup_retention_days.into()),
                )
                .with("deletion_protection", Val::Bool(db.deletion_protection))
                .with("master_username", Val::str(&db.master_username))
                .with("manage_master_user_password", Val::Bool(true))
                .with("port", Val::Int(port.into()))
                .with(
                    "db_subnet_group_name",
                    Val::reference(&subnet_group, "name"),
                )
                .with("security_group_ids", Val::list([Val::reference(&sg, "id")]))
                .with("parameter_group_name", Val::reference(&params, "name"))
                .with("iam_auth", Val::Bool(db.iam_auth))
                .with("log_exports", Val::list(exports.iter().map(Val::str))),
        );
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: format!("alarm.db.{name}.cpu"),
                name_suffix: format!("{name}-db-cpu"),
                description: format!("Database {name}: CPU above {}%", db.cpu_alarm_percent),
                namespace: "AWS/RDS",
                metric: "CPUUtilization",
                statistic: "Average",
                dimensions: vec![("DBInstanceIdentifier", Val::reference(&id, "name"))],
                comparison: "GreaterThanThreshold",
                threshold: db.cpu_alarm_percent,
                policy: db.alarm,
                missing: "missing",
            },
        ));
        let free_bytes = db.allocated_storage_gb as f64
            * 1024.0
            * 1024.0
            * 1024.0
            * db.free_storage_alarm_percent
            / 100.0;
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: format!("alarm.db.{name}.free-storage"),
                name_suffix: format!("{name}-db-free-storage"),
                description: format!(
                    "Database {name}: less than {}% of its storage free",
                    db.free_storage_alarm_percent
                ),
                namespace: "AWS/RDS",
                metric: "FreeStorageSpace",
                statistic: "Minimum",
                dimensions: vec![("DBInstanceIdentifier", Val::reference(&id, "name"))],
                comparison: "LessThanThreshold",
                threshold: free_bytes.round(),
                policy: db.alarm,
                missing: "missing",
            },
        ));
    }
    for (name, cache) in &stack.caches {
        out.extend(expand_cache(env, topic, name, cache, zones, &private_ids));
    }
    for (name, table) in &stack.tables {
        out.extend(expand_table(env, topic, name, table));
    }
    for (name, fs) in &stack.file_systems {
        let users: Vec<&String> = stack
            .services
            .iter()
            .filter(|(_, s)| s.file_system.as_deref() == Some(name.as_str()))
            .map(|(n, _)| n)
            .collect();
        out.extend(expand_file_system(
            env,
            topic,
            name,
            fs,
            &users,
            &private_ids,
        ));
    }
    if !stack.services.is_empty() {
        out.push(
            ResourceSpec::new(
                "ecs.cluster",
                Kind::EcsCluster,
                physical_name(env, "cluster", 255),
            )
            .with("container_insights", Val::Bool(true)),
        );
    }
    let mut priority = 100;
    for (name, svc) in &stack.services {
        out.extend(expand_service(
            env,
            region,
            topic,
            name,
            svc,
            priority,
            &private_ids,
        ));
        priority += 10;
    }
    for (name, cluster) in &stack.clusters {
        out.extend(expand_emr(env, region, topic, name, cluster, &private_ids));
    }
    if let Some(dns) = &stack.dns {
        out.extend(expand_dns(env, region, topic, dns));
    }
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
    let dashboard = dashboard(env, region, &out);
    out.push(dashboard);
    Ok(out)
}

/// One metric line of a dashboard widget: namespace, metric, then dimension name/value pairs.
fn metric(namespace: &str, name: &str, dims: &[(&str, Val)]) -> Val {
    let mut items = vec![Val::str(namespace), Val::str(name)];
    for (k, v) in dims {
        items.push(Val::str(*k));
        items.push(v.clone());
    }
    Val::List(items)
}

/// A dashboard chart: its title, its metric lines, the statistic.
type Chart<'a> = (&'a str, Vec<Val>, &'a str);

/// The deployment's CloudWatch dashboard, generated from its resources: a row per component
/// (balancers, tiers, database, cache, table, service, file system, EMR cluster, DNS), then the
/// state of every alarm. It grows with the stage because it is derived from what the stage has.
///
/// Every metric widget names `region`: PutDashboard refuses a metric widget without it
/// ("Should have required property 'region'"; CloudWatch API reference, Dashboard Body Structure
/// and Syntax), although the emulators store any body.
fn dashboard(env: &str, region: &str, specs: &[ResourceSpec]) -> ResourceSpec {
    // (title, charts, the region their metrics are in)
    let mut rows: Vec<(String, Vec<Chart<'static>>, &str)> = Vec::new();
    for s in specs {
        let r = |attr: &str| Val::reference(&s.id, attr);
        let (title, widgets): (String, Vec<Chart<'static>>) = match s.kind {
            Kind::LoadBalancer => {
                let d = [("LoadBalancer", r("arn_suffix"))];
                (
                    format!("Load balancer {}", s.id.trim_start_matches("lb.")),
                    vec![
                        (
                            "Requests",
                            vec![metric("AWS/ApplicationELB", "RequestCount", &d)],
                            "Sum",
                        ),
                        (
                            "5xx from the balancer",
                            vec![metric("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", &d)],
                            "Sum",
                        ),
                        (
                            "Healthy hosts",
                            vec![metric("AWS/ApplicationELB", "HealthyHostCount", &d)],
                            "Minimum",
                        ),
                        (
                            "Latency",
                            vec![metric("AWS/ApplicationELB", "TargetResponseTime", &d)],
                            "p99",
                        ),
                    ],
                )
            }
            Kind::AutoScalingGroup => {
                let d = [("AutoScalingGroupName", r("name"))];
                (
                    format!(
                        "Tier {}",
                        s.id.trim_start_matches("tier.").trim_end_matches(".asg")
                    ),
                    vec![
                        (
                            "In service",
                            vec![metric("AWS/AutoScaling", "GroupInServiceInstances", &d)],
                            "Minimum",
                        ),
                        (
                            "CPU",
                            vec![metric("AWS/EC2", "CPUUtilization", &d)],
                            "Average",
                        ),
                        (
                            "Network in / out",
                            vec![
                                metric("AWS/EC2", "NetworkIn", &d),
                                metric("AWS/EC2", "NetworkOut", &d),
                            ],
                            "Sum",
                        ),
                        (
                            "Disk reads / writes",
                            vec![
                                metric("AWS/EC2", "EBSReadOps", &d),
                                metric("AWS/EC2", "EBSWriteOps", &d),
                            ],
                            "Sum",
                        ),
                        (
                            "Status check failures",
                            vec![metric("AWS/EC2", "StatusCheckFailed", &d)],
                            "Maximum",
                        ),
                    ],
                )
            }
            Kind::DbInstance => {
                let d = [("DBInstanceIdentifier", r("name"))];
                (
                    format!("Database {}", s.id.trim_start_matches("db.")),
                    vec![
                        (
                            "CPU",
                            vec![metric("AWS/RDS", "CPUUtilization", &d)],
                            "Average",
                        ),
                        (
                            "Free storage",
                            vec![metric("AWS/RDS", "FreeStorageSpace", &d)],
                            "Minimum",
                        ),
                        (
                            "Connections",
                            vec![metric("AWS/RDS", "DatabaseConnections", &d)],
                            "Maximum",
                        ),
                        (
                            "Read / write latency",
                            vec![
                                metric("AWS/RDS", "ReadLatency", &d),
                                metric("AWS/RDS", "WriteLatency", &d),
                            ],
                            "Average",
                        ),
                    ],
                )
            }
            Kind::CacheReplicationGroup => {
                let d = [("ReplicationGroupId", r("name"))];
                (
                    format!("Cache {}", s.id.trim_start_matches("cache.")),
                    vec![
                        (
                            "Engine CPU",
                            vec![metric("AWS/ElastiCache", "EngineCPUUtilization", &d)],
                            "Maximum",
                        ),
                        (
                            "Evictions",
                            vec![metric("AWS/ElastiCache", "Evictions", &d)],
                            "Sum",
                        ),
                        (
                            "Replication lag",
                            vec![metric("AWS/ElastiCache", "ReplicationLag", &d)],
                            "Maximum",
                        ),
                    ],
                )
            }
            Kind::DynamoTable => {
                let d = [("TableName", r("name"))];
                (
                    format!("Table {}", s.id.trim_start_matches("table.")),
                    vec![
                        (
                            "Consumed read / write",
                            vec![
                                metric("AWS/DynamoDB", "ConsumedReadCapacityUnits", &d),
                                metric("AWS/DynamoDB", "ConsumedWriteCapacityUnits", &d),
                            ],
                            "Sum",
                        ),
                        (
                            "Throttles",
                            vec![
                                metric("AWS/DynamoDB", "ReadThrottleEvents", &d),
                                metric("AWS/DynamoDB", "WriteThrottleEvents", &d),
                            ],
                            "Sum",
                        ),
                        (
                            "Replication latency",
                            vec![metric("AWS/DynamoDB", "ReplicationLatency", &d)],
                            "Average",
                        ),
                    ],
                )
            }
            Kind::EcsService => {
                let d = [
                    ("ClusterName", Val::reference("ecs.cluster", "name")),
                    ("ServiceName", r("name")),
                ];
                (
                    format!("Service {}", s.id.trim_start_matches("svc.")),
                    vec![
                        (
                            "Running tasks",
                            vec![metric("ECS/ContainerInsights", "RunningTaskCount", &d)],
                            "Minimum",
                        ),
                        (
                            "CPU / memory",
                            vec![
                                metric("AWS/ECS", "CPUUtilization", &d),
                                metric("AWS/ECS", "MemoryUtilization", &d),
                            ],
                            "Average",
                        ),
                    ],
                )
            }
            Kind::EfsFileSystem => {
                let d = [("FileSystemId", r("id"))];
                (
                    format!("File system {}", s.id.trim_start_matches("fs.")),
                    vec![
                        (
                            "I/O limit",
                            vec![metric("AWS/EFS", "PercentIOLimit", &d)],
                            "Average",
                        ),
                        (
                            "Clients",
                            vec![metric("AWS/EFS", "ClientConnections", &d)],
                            "Sum",
                        ),
                    ],
                )
            }
            Kind::EmrCluster => {
                let d = [("JobFlowId", r("id"))];
                (
                    format!("EMR cluster {}", s.id.trim_start_matches("emr.")),
                    vec![
                        (
                            "Unhealthy nodes",
                            vec![metric("AWS/ElasticMapReduce", "MRUnhealthyNodes", &d)],
                            "Maximum",
                        ),
                        (
                            "Idle",
                            vec![metric("AWS/ElasticMapReduce", "IsIdle", &d)],
                            "Minimum",
                        ),
                    ],
                )
            }
            Kind::HealthCheck => {
                let d = [("HealthCheckId", r("id"))];
                (
                    "DNS".to_string(),
                    vec![(
                        "Health check",
                        vec![metric("AWS/Route53", "HealthCheckStatus", &d)],
                        "Minimum",
                    )],
                )
            }
            _ => continue,
        };
        let metrics_region = if s.kind == Kind::HealthCheck {
            ROUTE53_METRICS_REGION
        } else {
            region
        };
        rows.push((title, widgets, metrics_region));
    }
    let mut widgets = Vec::new();
    let mut y = 0;
    for (title, row, metrics_region) in rows {
        widgets.push(Val::map([
            ("type", Val::str("text")),
            ("x", Val::Int(0)),
            ("y", Val::Int(y)),
            ("width", Val::Int(24)),
            ("height", Val::Int(1)),
            (
                "properties",
                Val::map([("markdown", Val::str(format!("## {title}")))]),
            ),
        ]));
        y += 1;
        let width = (24 / row.len().max(1)) as i64;
        for (i, (name, metrics, stat)) in row.into_iter().enumerate() {
            widgets.push(Val::map([
                ("type", Val::str("metric")),
                ("x", Val::Int(i as i64 * width)),
                ("y", Val::Int(y)),
                ("width", Val::Int(width)),
                ("height", Val::Int(6)),
                (
                    "properties",
                    Val::map([
                        ("title", Val::str(format!("{title}: {name}"))),
                        ("region", Val::str(metrics_region)),
                        ("metrics", Val::List(metrics)),
                        ("stat", Val::str(stat)),
                        ("period", Val::Int(60)),
                        ("view", Val::str("timeSeries")),
                    ]),
                ),
            ]));
        }
        y += 6;
    }
    // The alarm widget lists alarm ARNs of the dashboard's own region; the dashboard body
    // reference documents no region for them, so an alarm living elsewhere (the Route 53
    // health check's, in us-east-1) is shown by its metric row only.
    let alarms: Vec<Val> = specs
        .iter()
        .filter(|s| s.kind == Kind::MetricAlarm && !s.props.contains_key("region"))
        .map(|s| Val::reference(&s.id, "arn"))
        .collect();
    widgets.push(Val::map([
        ("type", Val::str("alarm")),
        ("x", Val::Int(0)),
        ("y", Val::Int(y)),
        ("width", Val::Int(24)),
        ("height", Val::Int(8)),
        (
            "properties",
            Val::map([("title", Val::str("Alarms")), ("alarms", Val::List(alarms))]),
        ),
    ]));
    ResourceSpec::new(
        "monitoring.dashboard",
        Kind::Dashboard,
        physical_name(env, "overview", 255),
    )
    .with("body", Val::map([("widgets", Val::List(widgets))]))
}

/// What an instance needs to be managed by Systems Manager (SSM User Guide, "Configure instance
/// permissions for Systems Manager").
pub const SSM_INSTANCE_POLICY: &str = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";

/// AWS's managed policy for the EMR service role. The v2 policy needs every subnet and
/// security group the cluster uses tagged `for-use-with-amazon-emr-managed-policies`; this one
/// does not.
const EMR_SERVICE_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceRole";

fn expand_emr(
    env: &str,
    region: &str,
    topic: &str,
    name: &str,
    c: &crate::stack::EmrCluster,
    private_ids: &[String],
) -> Vec<ResourceSpec> {
    let id = format!("emr.{name}");
    let logs = format!("emr.{name}.logs");
    let service_role = format!("emr.{name}.service-role");
    let node_role = format!("emr.{name}.node-role");
    let profile = format!("emr.{name}.profile");
    // EMR's managed security groups, made by ftctl so they are tagged and go with the
    // deployment (EMR would make untagged ones that outlive it and keep the VPC from being
    // deleted). EMR writes their rules, so the specs have none (see security_group).
    let master_sg = format!("emr.{name}.master-sg");
    let core_sg = format!("emr.{name}.core-sg");
    let service_sg = format!("emr.{name}.service-sg");
    let emr_group = |id: &str, suffix: &str, what: &str| {
        ResourceSpec::new(
            id,
            Kind::SecurityGroup,
            physical_name(env, &format!("{name}-emr-{suffix}"), 255),
        )
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with(
            "description",
            Val::str(format!(
                "ftctl {env}: EMR cluster {name}, {what} (rules kept by EMR)"
            )),
        )
    };
    let groups = [
        emr_group(&master_sg, "master", "primary node"),
        emr_group(&core_sg, "core", "core nodes"),
        emr_group(&service_sg, "service", "service access"),
    ];
    let mut cluster = ResourceSpec::new(&id, Kind::EmrCluster, physical_name(env, name, 255))
        .with("release_label", Val::str(&c.release_label))
        // Runs until destroyed: a cluster that ended itself when idle would be made again by
        // the next apply (an idle policy set outside ftctl is removed).
        .with("auto_termination", Val::Bool(false))
        .with(
            "applications",
            Val::list(c.applications.iter().map(Val::str)),
        )
        .with("master_instance_type", Val::str(&c.master_instance_type))
        .with("core_instance_type", Val::str(&c.core_instance_type))
        .with(
            "core_instance_count",
            Val::Int(c.core_instance_count.into()),
        )
        // One subnet: an EMR cluster lives in one zone; its data is rebuilt, not failed over.
        .with("subnet_id", Val::reference(&private_ids[0], "id"))
        .with("master_security_group", Val::reference(&master_sg, "id"))
        .with("core_security_group", Val::reference(&core_sg, "id"))
        .with("service_security_group", Val::reference(&service_sg, "id"))
        .with("service_role", Val::reference(&service_role, "name"))
        .with("instance_profile", Val::reference(&profile, "name"))
        .with("log_uri", Val::reference(&logs, "uri"));
    if let Some(m) = c.managed_scaling {
        cluster = cluster
            .with("managed_min", Val::Int(m.min_instances.into()))
            .with("managed_max", Val::Int(m.max_instances.into()));
    }
    let mut specs: Vec<ResourceSpec> = groups.into();
    specs.extend([
        ResourceSpec::new(
            &logs,
            Kind::S3Bucket,
            physical_name(env, &format!("{name}-emr-logs"), BUCKET_NAME_MAX),
        )
        .with("kms_encrypted", Val::Bool(true))
        .with("public_access_blocked", Val::Bool(true)),
        ResourceSpec::new(
            &service_role,
            Kind::IamRole,
            global_name(env, region, &format!("{name}-emr-service"), 64),
        )
        .with("trust_service", Val::str("elasticmapreduce.amazonaws.com"))
        .with(
            "managed_policies",
            Val::list([Val::str(EMR_SERVICE_POLICY)]),
        )
        .with("statements", Val::List(Vec::new())),
        // The nodes may write their logs to the cluster's bucket, nothing more.
        ResourceSpec::new(
            &node_role,
            Kind::IamRole,
            global_name(env, region, &format!("{name}-emr-node"), 64),
        )
        .with("trust_service", Val::str("ec2.amazonaws.com"))
        // Managed by Systems Manager like the tiers' instances (SSM.1).
        .with(
            "managed_policies",
            Val::list([Val::str(SSM_INSTANCE_POLICY)]),
        )
        .with(
            "statements",
            Val::list([
                statement(&["s3:ListBucket"], vec![Val::reference(&logs, "arn")]),
                statement(
                    &["s3:GetObject", "s3:PutObject"],
                    vec![Val::reference(&logs, "objects_arn")],
                ),
            ]),
        ),
        // Not the role's name: physical ids must differ for deletions to be ordered.
        ResourceSpec::new(
            &profile,
            Kind::InstanceProfile,
            global_name(env, region, &format!("{name}-emr-profile"), 128),
        )
        .with("role_name", Val::reference(&node_role, "name")),
        cluster,
        alarm(
            env,
            topic,
            AlarmDef {
                id: format!("alarm.emr.{name}.unhealthy-nodes"),
                name_suffix: format!("{name}-emr-unhealthy-nodes"),
                description: format!("EMR cluster {name}: a node is unhealthy"),
                namespace: "AWS/ElasticMapReduce",
                metric: "MRUnhealthyNodes",
                statistic: "Maximum",
                dimensions: vec![("JobFlowId", Val::reference(&id, "id"))],
                comparison: "GreaterThanThreshold",
                threshold: 0.0,
                policy: c.unhealthy_alarm,
                missing: "notBreaching",
            },
        ),
    ]);
    specs
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

const BACKUP_VAULT: &str = "backup.vault";
const BACKUP_ROLE: &str = "backup.role";
/// CreateBackupVault and CreateBackupPlan: names of at most 50 characters.
const BACKUP_NAME_MAX: usize = 50;
/// What AWS Backup needs to snapshot RDS (and the other services it backs up) for the plan.
const BACKUP_SERVICE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup";

/// The certificate of the balancer a public zone names.
const CERTIFICATE: &str = "dns.certificate";
/// TLS 1.3 and 1.2 with forward secrecy only: a policy Security Hub's ELB.17 accepts
/// (ELBSecurityPolicy-TLS13-1-2-2021-06, the console's default, no longer is).
const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06";

/// The topic the Route 53 health-check alarm notifies when it lives away from the deployment.
const ROUTE53_TOPIC: &str = "notifications.topic.us-east-1";
/// The key of that topic: KMS keys are regional.
const ROUTE53_KEY: &str = "notifications.key.us-east-1";
/// A KMS alias is at most 256 characters, `alias/` included.
const KEY_ALIAS_MAX: usize = 250;

/// The customer managed key an alarm topic is encrypted with (SNS.1). Not the AWS managed
/// `alias/aws/sns`: its policy cannot be changed to admit CloudWatch, so alarms published to a
/// topic encrypted with it are dropped without an error (SNS Developer Guide, "Enable
/// compatibility between event sources from AWS services and encrypted topics"). Rotated
/// yearly (KMS.4). Costs $1 a month per key plus $0.03 per 10,000 requests.
fn notifications_key(id: &str, name: &str) -> ResourceSpec {
    ResourceSpec::new(id, Kind::KmsKey, name)
        // Part of the key: a run stopped between CreateKey and CreateAlias leaves a key
        // without it, which the next run finds by its tags and names.
        .with("alias", Val::str(format!("alias/{name}")))
        .with(
            "description",
            Val::str("ftctl: encrypts the alarm notifications topic"),
        )
        .with("rotation", Val::Bool(true))
        .with(
            "services",
            Val::list([Val::str("cloudwatch.amazonaws.com")]),
        )
}

fn expand_dns(env: &str, region: &str, topic: &str, dns: &crate::stack::Dns) -> Vec<ResourceSpec> {
    let zone = dns.zone.trim_end_matches('.').to_lowercase();
    let lb = format!("lb.{}", dns.load_balancer);
    let mut zone_spec = ResourceSpec::new("dns.zone", Kind::HostedZone, &zone)
        .with("zone_name", Val::str(format!("{zone}.")))
        .with("private", Val::Bool(dns.private));
    if dns.private {
        zone_spec = zone_spec.with("vpc_id", Val::reference("network.vpc", "id"));
    }
    let record = format!("dns.record.{}", dns.record);
    let mut specs = vec![
        zone_spec,
        ResourceSpec::new(&record, Kind::DnsRecord, format!("{}.{zone}", dns.record))
            .with("zone_id", Val::reference("dns.zone", "id"))
            .with("record_name", Val::str(format!("{}.{zone}.", dns.record)))
            .with("alias_dns_name", Val::reference(&lb, "dns_name"))
            .with("alias_zone_id", Val::reference(&lb, "zone_id"))
            .with("evaluate_target_health", Val::Bool(true)),
    ];
    if dns.private {
        // Route 53's health checkers are on the internet and cannot reach addresses inside a
        // VPC, so a health check of a private zone's target would fail for ever (Route 53
        // Developer Guide, "Health checking resources in a private hosted zone"). ACM cannot
        // validate a certificate through a private zone either: the balancer stays HTTP.
        return specs;
    }
    specs.extend([
        // DNS-validated through the zone itself (ACM User Guide, "DNS validation").
        ResourceSpec::new(
            CERTIFICATE,
            Kind::Certificate,
            format!("{}.{zone}", dns.record),
        )
        .with("domain_name", Val::str(format!("{}.{zone}", dns.record)))
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
        .with("fqdn", Val::reference(&lb, "dns_name"))
        .with("path", Val::str(&dns.health_check_path))
        .with("port", Val::Int(HTTPS_PORT.into()))
        // The balancer answers HTTPS only once its listener is there.
        .after(format!("{lb}.listener"))
        .with("request_interval", Val::Int(30))
        .with("failure_threshold", Val::Int(3)),
        {
            let away = region != ROUTE53_METRICS_REGION;
            let (topic, name_suffix) = if away {
                (
                    ROUTE53_TOPIC,
                    format!("{region}-{}-health-check", dns.record),
                )
            } else {
                (topic, format!("{}-health-check", dns.record))
            };
            let spec = alarm(
                env,
                topic,
                AlarmDef {
                    id: "alarm.dns.health".into(),
                    name_suffix,
                    description: format!(
                        "{}.{zone}: Route 53 health checks of {} fail",
                        dns.record, dns.health_check_path
                    ),
                    // Route 53 publishes health check metrics in us-east-1 only.
                    namespace: "AWS/Route53",
                    metric: "HealthCheckStatus",
                    statistic: "Minimum",
                    dimensions: vec![("HealthCheckId", Val::reference("dns.health", "id"))],
                    comparison: "LessThanThreshold",
                    threshold: 1.0,
                    policy: dns.health_alarm,
                    missing: "breaching",
                },
            );
            if away {
                spec.with("region", Val::str(ROUTE53_METRICS_REGION))
            } else {
                spec
            }
        },
    ]);
    specs
}

/// An IAM policy statement as the providers write it: actions on resources (text or references).
/// X-Ray for a tier: a group of the traces its service reports (named `<env>-<tier>` by the
/// application's X-Ray SDK or agent) and a sampling rule for that service. Both hang off the
/// tier's Auto Scaling group, which carries the markers ftctl finds them by.
fn tracing(env: &str, tier: &str, asg: &str, conf: &crate::stack::Tracing) -> [ResourceSpec; 2] {
    let service = format!("{env}-{tier}");
    [
        ResourceSpec::new(
            format!("tier.{tier}.xray-group"),
            Kind::TracingGroup,
            physical_name(env, tier, 32),
        )
        .with("asg_name", Val::reference(asg, "name"))
        .with(
            "filter_expression",
            Val::str(format!("service(\"{service}\")")),
        )
        .with("insights", Val::Bool(true)),
        ResourceSpec::new(
            format!("tier.{tier}.xray-sampling"),
            Kind::SamplingRule,
            physical_name(env, tier, 32),
        )
        .with("asg_name", Val::reference(asg, "name"))
        .with("service_name", Val::str(service))
        .with("fixed_rate", Val::Float(conf.sample_percent / 100.0))
        .with("reservoir_size", Val::Int(conf.reservoir_per_second.into()))
        .with("priority", Val::Int(1000)),
    ]
}

fn statement(actions: &[&str], resources: Vec<Val>) -> Val {
    Val::map([
        ("actions", Val::list(actions.iter().map(|a| Val::str(*a)))),
        ("resources", Val::List(resources)),
    ])
}

fn expand_file_system(
    env: &str,
    topic: &str,
    name: &str,
    fs: &crate::stack::FileSystem,
    users: &[&String],
    private_ids: &[String],
) -> Vec<ResourceSpec> {
    let id = format!("fs.{name}");
    let sg = format!("fs.{name}.sg");
    let mut out = vec![
        ResourceSpec::new(
            &sg,
            Kind::SecurityGroup,
            physical_name(env, &format!("{name}-fs"), 255),
        )
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with(
            "description",
            Val::str(format!("ftctl {env}: file system {name}")),
        )
        .with(
            "ingress",
            Val::List(
                users
                    .iter()
                    .map(|s| tcp_rule_from_sg(2049, &format!("svc.{s}.sg")))
                    .collect(),
            ),
        ),
        ResourceSpec::new(&id, Kind::EfsFileSystem, physical_name(env, name, 64))
            .with("encrypted", Val::Bool(true))
            .with("performance_mode", Val::str("generalPurpose"))
            .with(
                "throughput_mode",
                Val::str(match fs.throughput_mode {
                    crate::stack::ThroughputMode::Elastic => "elastic",
                    crate::stack::ThroughputMode::Bursting => "bursting",
                }),
            )
            .with("backup", Val::Bool(fs.backup)),
        ResourceSpec::new(
            format!("fs.{name}.ap"),
            Kind::EfsAccessPoint,
            physical_name(env, &format!("{name}-ap"), 255),
        )
        .with("file_system_id", Val::reference(&id, "id"))
        .with("posix_uid", Val::Int(fs.posix_uid.into()))
        .with("posix_gid", Val::Int(fs.posix_gid.into()))
        .with("root_path", Val::str(&fs.root_path)),
    ];
    // A mount target in every zone: a task reaches the file system in its own zone.
    for (i, subnet) in private_ids.iter().enumerate() {
        out.push(
            ResourceSpec::new(
                format!("fs.{name}.mount.{i}"),
                Kind::EfsMountTarget,
                physical_name(env, &format!("{name}-mount-{i}"), 255),
            )
            .with("file_system_id", Val::reference(&id, "id"))
            .with("subnet_id", Val::reference(subnet, "id"))
            .with("security_group_ids", Val::list([Val::reference(&sg, "id")])),
        );
    }
    out.push(alarm(
        env,
        topic,
        AlarmDef {
            id: format!("alarm.fs.{name}.io-limit"),
            name_suffix: format!("{name}-fs-io-limit"),
            description: format!(
                "File system {name}: above {}% of its I/O limit",
                fs.io_limit_alarm_percent
            ),
            namespace: "AWS/EFS",
            metric: "PercentIOLimit",
            statistic: "Average",
            dimensions: vec![("FileSystemId", Val::reference(&id, "id"))],
            comparison: "GreaterThanThreshold",
            threshold: fs.io_limit_alarm_percent,
            policy: fs.alarm,
            missing: "missing",
        },
    ));
    out
}

fn expand_service(
    env: &str,
    region: &str,
    topic: &str,
    name: &str,
    svc: &crate::stack::Service,
    priority: i64,
    private_ids: &[String],
) -> Vec<ResourceSpec> {
    let id = format!("svc.{name}");
    let sg = format!("svc.{name}.sg");
    let tg = format!("svc.{name}.tg");
    let logs = format!("svc.{name}.logs");
    let exec_role = format!("svc.{name}.execution-role");
    let task_role = format!("svc.{name}.task-role");
    let task = format!("svc.{name}.task");
    let lb = &svc.load_balancer;
    let mut out = vec![
        ResourceSpec::new(
            &sg,
            Kind::SecurityGroup,
            physical_name(env, &format!("{name}-svc"), 255),
        )
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with(
            "description",
            Val::str(format!("ftctl {env}: service {name}")),
        )
        .with(
            "ingress",
            Val::list([tcp_rule_from_sg(svc.container_port, &format!("lb.{lb}.sg"))]),
        ),
        ResourceSpec::new(
            &tg,
            Kind::TargetGroup,
            physical_name(env, name, ALB_NAME_MAX),
        )
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with("port", Val::Int(svc.container_port.into()))
        .with("protocol", Val::str("HTTP"))
        // Fargate tasks get their own network interface: targets are IP addresses.
        .with("target_type", Val::str("ip"))
        .with("health_check_path", Val::str(&svc.health_check_path))
        .with("health_check_interval_seconds", Val::Int(15))
        .with("health_check_timeout_seconds", Val::Int(5))
        .with("healthy_threshold", Val::Int(2))
        .with("unhealthy_threshold", Val::Int(2))
        .with("matcher", Val::str("200")),
        ResourceSpec::new(
            format!("svc.{name}.rule"),
            Kind::ListenerRule,
            physical_name(env, &format!("{name}-rule"), 255),
        )
        .with(
            "listener_arn",
            Val::reference(format!("lb.{lb}.listener"), "arn"),
        )
        .with("priority", Val::Int(priority))
        .with(
            "path_patterns",
            Val::list(svc.path_patterns.iter().map(Val::str)),
        )
        .with("forward_to", Val::reference(&tg, "arn")),
        ResourceSpec::new(&logs, Kind::LogGroup, format!("/ftctl/{env}/{name}"))
            .with("retention_days", Val::Int(svc.log_retention_days.into())),
        // Least privilege: the agent may pull images and write to this service's log group only.
        ResourceSpec::new(
            &exec_role,
            Kind::IamRole,
            global_name(env, region, &format!("{name}-exec"), 64),
        )
        .with("trust_service", Val::str("ecs-tasks.amazonaws.com"))
        .with("managed_policies", Val::List(Vec::new()))
        .with(
            "statements",
            Val::list([
                statement(&["ecr:GetAuthorizationToken"], vec![Val::str("*")]),
                statement(
                    &[
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                    vec![Val::str("*")],
                ),
                statement(
                    &["logs:CreateLogStream", "logs:PutLogEvents"],
                    vec![Val::reference(&logs, "streams_arn")],
                ),
            ]),
        ),
    ];
    // The application itself may only mount and write its file system.
    let task_statements = match &svc.file_system {
        Some(fs) => vec![statement(
            &[
                "elasticfilesystem:ClientMount",
                "elasticfilesystem:ClientWrite",
            ],
            vec![Val::reference(format!("fs.{fs}"), "arn")],
        )],
        None => Vec::new(),
    };
    out.push(
        ResourceSpec::new(
            &task_role,
            Kind::IamRole,
            global_name(env, region, &format!("{name}-task"), 64),
        )
        .with("trust_service", Val::str("ecs-tasks.amazonaws.com"))
        .with("managed_policies", Val::List(Vec::new()))
        .with("statements", Val::List(task_statements)),
    );
    let mut task_spec =
        ResourceSpec::new(&task, Kind::TaskDefinition, physical_name(env, name, 255))
            .with("cpu", Val::Int(svc.cpu.into()))
            .with("memory", Val::Int(svc.memory.into()))
            .with("image", Val::str(&svc.image))
            .with("container_port", Val::Int(svc.container_port.into()))
            .with("execution_role_arn", Val::reference(&exec_role, "arn"))
            .with("task_role_arn", Val::reference(&task_role, "arn"))
            .with("log_group", Val::reference(&logs, "name"));
    if let Some(fs) = &svc.file_system {
        task_spec = task_spec
            .with("file_system_id", Val::reference(format!("fs.{fs}"), "id"))
            .with(
                "access_point_id",
                Val::reference(format!("fs.{fs}.ap"), "id"),
            )
            .with("mount_path", Val::str(&svc.mount_path));
        // Tasks cannot mount before a mount target exists in their zone.
        for i in 0..private_ids.len() {
            task_spec = task_spec.after(format!("fs.{fs}.mount.{i}"));
        }
    }
    out.push(task_spec);
    let desired = if svc.autoscaling.enabled {
        Val::map([
            ("min", Val::Int(svc.autoscaling.min_tasks.into())),
            ("max", Val::Int(svc.autoscaling.max_tasks.into())),
        ])
    } else {
        Val::Int(svc.desired_count.into())
    };
    out.push(
        ResourceSpec::new(&id, Kind::EcsService, physical_name(env, name, 255))
            .with("cluster_arn", Val::reference("ecs.cluster", "arn"))
            .with("task_definition_arn", Val::reference(&task, "arn"))
            .with("desired_count", desired)
            .with("initial_count", Val::Int(svc.desired_count.into()))
            .with(
                "subnet_ids",
                Val::list(private_ids.iter().map(|s| Val::reference(s, "id"))),
            )
            .with("security_group_ids", Val::list([Val::reference(&sg, "id")]))
            .with("target_group_arn", Val::reference(&tg, "arn"))
            .with("container_name", Val::str("app"))
            .with("container_port", Val::Int(svc.container_port.into()))
            .with("circuit_breaker_rollback", Val::Bool(true))
            // ECS refuses a target group that no listener forwards to.
            .after(format!("svc.{name}.rule")),
    );
    if svc.autoscaling.enabled {
        out.push(
            ResourceSpec::new(
                format!("svc.{name}.scaling"),
                Kind::ServiceScaling,
                physical_name(env, &format!("{name}-tasks"), 255),
            )
            .with("resource_id", Val::reference(&id, "resource_id"))
            .with("parent_arn", Val::reference(&id, "arn"))
            .with("min_capacity", Val::Int(svc.autoscaling.min_tasks.into()))
            .with("max_capacity", Val::Int(svc.autoscaling.max_tasks.into()))
            .with(
                "target_cpu_percent",
                Val::Float(svc.autoscaling.target_cpu_percent),
            ),
        );
    }
    let cluster_name = physical_name(env, "cluster", 255);
    let service_name = physical_name(env, name, 255);
    let dims = || {
        vec![
            ("ClusterName", Val::str(&cluster_name)),
            ("ServiceName", Val::str(&service_name)),
        ]
    };
    out.push(alarm(
        env,
        topic,
        AlarmDef {
            id: format!("alarm.svc.{name}.running"),
            name_suffix: format!("{name}-svc-running"),
            description: format!(
                "Service {name}: fewer running tasks than the {} it should run",
                svc.desired_count
            ),
            namespace: "ECS/ContainerInsights",
            metric: "RunningTaskCount",
            statistic: "Minimum",
            dimensions: dims(),
            comparison: "LessThanThreshold",
            threshold: svc.desired_count as f64,
            policy: svc.running_alarm,
            missing: "breaching",
        },
    ));
    for (what, metric, threshold) in [
        ("cpu", "CPUUtilization", svc.cpu_alarm_percent),
        ("memory", "MemoryUtilization", svc.memory_alarm_percent),
    ] {
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: format!("alarm.svc.{name}.{what}"),
                name_suffix: format!("{name}-svc-{what}"),
                description: format!("Service {name}: {what} above {threshold}%"),
                namespace: "AWS/ECS",
                metric,
                statistic: "Average",
                dimensions: dims(),
                comparison: "GreaterThanThreshold",
                threshold,
                policy: crate::stack::AlarmPolicy {
                    period_seconds: 60,
                    evaluation_periods: 5,
                },
                missing: "missing",
            },
        ));
    }
    out
}

/// The node ids ElastiCache gives a replication group's members: `<group>-0001-002` in cluster
/// mode (shard, node), `<group>-002` without.
pub fn cache_member_suffixes(cluster_mode: bool, shards: u32, replicas: u32) -> Vec<String> {
    let mut out = Vec::new();
    for shard in 1..=shards {
        for node in 1..=replicas + 1 {
            out.push(if cluster_mode {
                format!("{shard:04}-{node:03}")
            } else {
                format!("{node:03}")
            });
        }
    }
    out
}

/// The zones a shard's nodes go to: its primary in zone `shard mod n`, replicas in the zones
/// after it, so every primary has a replica in another zone.
pub fn cache_node_zones(zones: &[String], shard: usize, replicas: usize) -> Vec<String> {
    (0..=replicas)
        .map(|k| zones[(shard + k) % zones.len()].clone())
        .collect()
}

fn expand_cache(
    env: &str,
    topic: &str,
    name: &str,
    cache: &crate::stack::Cache,
    zones: &[String],
    private_ids: &[String],
) -> Vec<ResourceSpec> {
    let mut out = Vec::new();
    let sg = format!("cache.{name}.sg");
    out.push(
        ResourceSpec::new(
            &sg,
            Kind::SecurityGroup,
            physical_name(env, &format!("{name}-cache"), 255),
        )
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with(
            "description",
            Val::str(format!("ftctl {env}: cache {name}")),
        )
        .with(
            "ingress",
            Val::List(
                cache
                    .allow_from
                    .iter()
                    .map(|t| tcp_rule_from_sg(cache.port, &format!("tier.{t}.sg")))
                    .collect(),
            ),
        ),
    );
    let subnet_group = format!("cache.{name}.subnets");
    out.push(
        ResourceSpec::new(
            &subnet_group,
            Kind::CacheSubnetGroup,
            physical_name(env, &format!("{name}-cache"), 255),
        )
        .with(
            "description",
            Val::str(format!("ftctl {env}: private subnets of cache {name}")),
        )
        .with(
            "subnet_ids",
            Val::list(private_ids.iter().map(|id| Val::reference(id, "id"))),
        ),
    );
    let id = format!("cache.{name}");
    // Replication group ids: at most 40 characters.
    let group_name = physical_name(env, name, 40);
    let mut placed: Vec<String> = (0..cache.shards as usize)
        .flat_map(|s| cache_node_zones(zones, s, cache.replicas_per_shard as usize))
        .collect();
    placed.sort();
    placed.dedup();
    let replicas = if cache.autoscaling.enabled {
        Val::map([
            ("min", Val::Int(cache.autoscaling.min_replicas.into())),
            ("max", Val::Int(cache.autoscaling.max_replicas.into())),
        ])
    } else {
        Val::Int(cache.replicas_per_shard.into())
    };
    out.push(
        ResourceSpec::new(&id, Kind::CacheReplicationGroup, &group_name)
            .with(
                "description",
                Val::str(format!("ftctl {env}: Redis cache {name}")),
            )
            .with("engine", Val::str("redis"))
            .with("engine_version", Val::str(&cache.engine_version))
            .with("node_type", Val::str(&cache.node_type))
            .with("cluster_mode", Val::Bool(cache.cluster_mode))
            .with("shards", Val::Int(cache.shards.into()))
            .with("replicas_per_shard", replicas)
            .with(
                "initial_replicas",
                Val::Int(cache.replicas_per_shard.into()),
            )
            .with("automatic_failover", Val::Bool(cache.automatic_failover))
            .with("multi_az", Val::Bool(cache.multi_az))
            .with("at_rest_encryption", Val::Bool(true))
            .with("transit_encryption", Val::Bool(true))
            .with(
                "snapshot_retention_days",
                Val::Int(cache.snapshot_retention_days.into()),
            )
            .with("port", Val::Int(cache.port.into()))
            .with("zones", Val::list(placed.into_iter().map(Val::Str)))
            .with(
                "cache_subnet_group_name",
                Val::reference(&subnet_group, "name"),
            )
            .with("security_group_ids", Val::list([Val::reference(&sg, "id")])),
    );
    if cache.autoscaling.enabled {
        out.push(
            ResourceSpec::new(
                format!("cache.{name}.scaling"),
                Kind::CacheScaling,
                physical_name(env, &format!("{name}-cache-replicas"), 255),
            )
            .with("resource_id", Val::reference(&id, "resource_id"))
            .with("parent_arn", Val::reference(&id, "arn"))
            .with(
                "min_capacity",
                Val::Int(cache.autoscaling.min_replicas.into()),
            )
            .with(
                "max_capacity",
                Val::Int(cache.autoscaling.max_replicas.into()),
            )
            .with(
                "target_cpu_percent",
                Val::Float(cache.autoscaling.target_cpu_percent),
            ),
        );
    }
    // CloudWatch reports ElastiCache per node: one set of alarms per node the stack asks for.
    for member in cache_member_suffixes(cache.cluster_mode, cache.shards, cache.replicas_per_shard)
    {
        let node = format!("{group_name}-{member}");
        let dims = || vec![("CacheClusterId", Val::str(&node))];
        let alarm_id = |what: &str| format!("alarm.cache.{name}.{member}.{what}");
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: alarm_id("cpu"),
                name_suffix: format!("{name}-cache-{member}-cpu"),
                description: format!(
                    "Cache {name} node {node}: Redis engine CPU above {}%",
                    cache.cpu_alarm_percent
                ),
                namespace: "AWS/ElastiCache",
                metric: "EngineCPUUtilization",
                statistic: "Average",
                dimensions: dims(),
                comparison: "GreaterThanThreshold",
                threshold: cache.cpu_alarm_percent,
                policy: cache.alarm,
                missing: "missing",
            },
        ));
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: alarm_id("evictions"),
                name_suffix: format!("{name}-cache-{member}-evictions"),
                description: format!(
                    "Cache {name} node {node}: more than {} keys evicted per period (memory full)",
                    cache.evictions_alarm_threshold
                ),
                namespace: "AWS/ElastiCache",
                metric: "Evictions",
                statistic: "Sum",
                dimensions: dims(),
                comparison: "GreaterThanThreshold",
                threshold: cache.evictions_alarm_threshold as f64,
                policy: cache.alarm,
                missing: "notBreaching",
            },
        ));
        out.push(alarm(
            env,
            topic,
            AlarmDef {
                id: alarm_id("replication-lag"),
                name_suffix: format!("{name}-cache-{member}-replication-lag"),
                description: format!(
                    "Cache {name} node {node}: replica more than {} s behind its primary",
                    cache.replication_lag_alarm_seconds
                ),
                namespace: "AWS/ElastiCache",
                metric: "ReplicationLag",
                statistic: "Maximum",
                dimensions: dims(),
                comparison: "GreaterThanThreshold",
                threshold: cache.replication_lag_alarm_seconds,
                policy: cache.alarm,
                // Only replicas report lag; a node that is primary reports nothing.
                missing: "notBreaching",
            },
        ));
    }
    out
}

fn expand_table(
    env: &str,
    topic: &str,
    name: &str,
    table: &crate::stack::Table,
) -> Vec<ResourceSpec> {
    let mut out = Vec::new();
    let id = format!("table.{name}");
    let key = |k: &crate::stack::KeyAttribute| {
        Val::map([
            ("name", Val::str(&k.name)),
            ("type", Val::str(k.key_type.as_aws())),
        ])
    };
    let mut spec = ResourceSpec::new(&id, Kind::DynamoTable, physical_name(env, name, 255))
        .with("partition_key", key(&table.partition_key))
        .with(
            "sort_key",
            table
                .sort_key
                .as_ref()
                .map(key)
                .unwrap_or(Val::map(Vec::<(String, Val)>::new())),
        )
        .with(
            "point_in_time_recovery",
            Val::Bool(table.point_in_time_recovery),
        )
        .with("deletion_protection", Val::Bool(table.deletion_protection))
        .with("sse", Val::str("KMS"))
        // Streams carry changes to the replicas; a global table needs them.
        .with("stream_view_type", Val::str("NEW_AND_OLD_IMAGES"));
    spec = match table.billing_mode {
        BillingMode::OnDemand => spec.with("billing_mode", Val::str("PAY_PER_REQUEST")),
        BillingMode::Provisioned => spec
            .with("billing_mode", Val::str("PROVISIONED"))
            .with(
                "read_capacity",
                Val::Int(table.read_capacity.unwrap_or(1).into()),
            )
            .with(
                "write_capacity",
                Val::Int(table.write_capacity.unwrap_or(1).into()),
            ),
    };
    out.push(spec);
    let throttle = |what: &str, metric: &'static str| {
        alarm(
            env,
            topic,
            AlarmDef {
                id: format!("alarm.table.{name}.{what}"),
                name_suffix: format!("{name}-table-{what}"),
                description: format!(
                    "Table {name}: more than {} {metric} per period",
                    table.throttle_alarm_threshold
                ),
                namespace: "AWS/DynamoDB",
                metric,
                statistic: "Sum",
                dimensions: vec![("TableName", Val::reference(&id, "name"))],
                comparison: "GreaterThanThreshold",
                threshold: table.throttle_alarm_threshold as f64,
                policy: table.alarm,
                missing: "notBreaching",
            },
        )
    };
    out.push(throttle("read-throttles", "ReadThrottleEvents"));
    out.push(throttle("write-throttles", "WriteThrottleEvents"));
    for region in &table.replica_regions {
        out.push(
            ResourceSpec::new(
                format!("table.{name}.replica.{region}"),
                Kind::TableReplica,
                physical_name(env, name, 255),
            )
            .with("table_name", Val::reference(&id, "name"))
            .with("region", Val::str(region))
            .with(
                "point_in_time_recovery",
                Val::Bool(table.point_in_time_recovery),
            ),
        );
        out.push(
            alarm(
                env,
                topic,
                AlarmDef {
                    id: format!("alarm.table.{name}.replication-latency.{region}"),
                    name_suffix: format!("{name}-table-replication-latency-{region}"),
                    description: format!(
                        "Table {name}: writes take more than {} ms to reach {region}",
                        table.replication_latency_alarm_ms
                    ),
                    namespace: "AWS/DynamoDB",
                    metric: "ReplicationLatency",
                    statistic: "Average",
                    dimensions: vec![
                        ("TableName", Val::reference(&id, "name")),
                        ("ReceivingRegion", Val::str(region)),
                    ],
                    comparison: "GreaterThanThreshold",
                    threshold: table.replication_latency_alarm_ms,
                    policy: table.alarm,
                    missing: "missing",
                },
            )
            // The metric exists only once the replica does.
            .after(format!("table.{name}.replica.{region}")),
        );
    }
    out
}

#[cfg(test)]
mod tests;
