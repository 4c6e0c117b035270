//! The tiers of a stack (EC2 tiers in Auto Scaling groups behind a balancer): their settings in the
//! stack file, what is checked of them beyond what the types say, the resources they expand into
//! and, where they have metrics worth watching, their rows on the dashboard.

use super::monitoring::{metric, Row};
use super::{alarm, statement, tcp_rule_from_sg, AlarmDef, Component, Cx, ALB_NAME_MAX, TOPIC};
use crate::deployment::{global_name, physical_name};
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The load balancer whose target group this tier serves.
    pub load_balancer: String,
    /// The instance type the tier prefers.
    pub instance_type: String,
    /// Types the group may launch when `instance_type` has no capacity in a zone, in order of
    /// preference (Security Hub AutoScaling.6): with any, the group uses a mixed instances
    /// policy, all On-Demand. Pick types with the same vCPUs and memory (t3.micro, t3a.micro).
    #[serde(default)]
    pub fallback_instance_types: Vec<String>,
    /// Systems Manager reaches the instances (SSM.1): Session Manager instead of SSH, Run
    /// Command, and the gray-failure experiments of `ftctl chaos`. Needs the `ssm` and
    /// `ssmmessages` endpoints (or NAT).
    #[serde(default = "yes")]
    pub ssm: bool,
    /// AMI id, or `resolve:ssm:<parameter>` (resolved by EC2 at launch).
    #[serde(default = "default_image")]
    pub image: String,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    #[serde(default = "default_http_port")]
    pub port: u16,
    #[serde(default = "default_health_path")]
    pub health_check_path: String,
    /// Seconds after launch before ELB health checks may mark an instance unhealthy.
    #[serde(default = "default_grace")]
    pub health_check_grace_seconds: u32,
    /// Average CPU the target-tracking policy holds the group at.
    #[serde(default = "default_target_cpu")]
    pub target_cpu_percent: f64,
    #[serde(default = "default_volume")]
    pub volume_size_gb: u32,
    /// Alarm on in-service instances below desired; its window is the tier's recovery budget.
    #[serde(default = "default_capacity_policy")]
    pub capacity_alarm: AlarmPolicy,
}

fn default_image() -> String {
    "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64".into()
}
fn default_grace() -> u32 {
    120
}
fn default_volume() -> u32 {
    8
}
fn default_capacity_policy() -> AlarmPolicy {
    AlarmPolicy {
        period_seconds: 60,
        evaluation_periods: 5,
    }
}

/// The tiers: each an Auto Scaling group behind its balancer, with its role and alarms.
pub(crate) struct Tiers;

impl Component for Tiers {
    /// Reports each problem of the stack's tiers as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (name, tier) in &stack.tiers {
            let at = format!("tiers.{name}");
            if !valid_component_name(name) {
                bad(
                    at.clone(),
                    "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
                );
            }
            if !stack.load_balancers.contains_key(&tier.load_balancer) {
                bad(
                    format!("{at}.load_balancer"),
                    format!("no load balancer named `{}`", tier.load_balancer),
                );
            }
            for (i, t) in tier.fallback_instance_types.iter().enumerate() {
                let earlier = &tier.fallback_instance_types[..i];
                if t.trim().is_empty() || t == &tier.instance_type || earlier.contains(t) {
                    bad(
                        format!("{at}.fallback_instance_types.{i}"),
                        "must be an instance type other than instance_type and the others listed"
                            .into(),
                    );
                }
            }
            if tier.instance_type.trim().is_empty() {
                bad(format!("{at}.instance_type"), "must not be empty".into());
            }
            if tier.image.trim().is_empty() {
                bad(format!("{at}.image"), "must not be empty".into());
            }
            if tier.min_size > tier.max_size {
                bad(
                    format!("{at}.min_size"),
                    format!(
                        "min_size ({}) is greater than max_size ({})",
                        tier.min_size, tier.max_size
                    ),
                );
            } else if tier.desired_capacity < tier.min_size || tier.desired_capacity > tier.max_size
            {
                bad(
                    format!("{at}.desired_capacity"),
                    format!(
                        "desired_capacity ({}) must lie between min_size ({}) and max_size ({})",
                        tier.desired_capacity, tier.min_size, tier.max_size
                    ),
                );
            }
            if tier.max_size == 0 {
                bad(format!("{at}.max_size"), "must be at least 1".into());
            }
            if !tier.health_check_path.starts_with('/') {
                bad(
                    format!("{at}.health_check_path"),
                    "must start with /".into(),
                );
            }
            if !(1.0..=100.0).contains(&tier.target_cpu_percent) {
                bad(
                    format!("{at}.target_cpu_percent"),
                    "must be between 1 and 100".into(),
                );
            }
            if tier.port == 0 {
                bad(format!("{at}.port"), "must be a port number".into());
            }
            if tier.volume_size_gb == 0 {
                bad(format!("{at}.volume_size_gb"), "must be at least 1".into());
            }
            check_policy(bad, &format!("{at}.capacity_alarm"), tier.capacity_alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack, env, region, ..
        } = *cx;
        let (private_ids, topic) = (&cx.private_subnets, TOPIC);
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
            statements.extend(super::queue::tier_statements(stack, name));
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
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .tiers
            .keys()
            .map(|name| {
                let d = [(
                    "AutoScalingGroupName",
                    Val::reference(format!("tier.{name}.asg"), "name"),
                )];
                let ec2 = |metric_name| metric("AWS/EC2", metric_name, &d);
                Row::new(
                    cx,
                    format!("Tier {name}"),
                    vec![
                        (
                            "In service",
                            vec![metric("AWS/AutoScaling", "GroupInServiceInstances", &d)],
                            "Minimum",
                        ),
                        ("CPU", vec![ec2("CPUUtilization")], "Average"),
                        (
                            "Network in / out",
                            vec![ec2("NetworkIn"), ec2("NetworkOut")],
                            "Sum",
                        ),
                        (
                            "Disk reads / writes",
                            vec![ec2("EBSReadOps"), ec2("EBSWriteOps")],
                            "Sum",
                        ),
                        (
                            "Status check failures",
                            vec![ec2("StatusCheckFailed")],
                            "Maximum",
                        ),
                    ],
                )
            })
            .collect()
    }
}

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

/// What an instance needs to be managed by Systems Manager (SSM User Guide, "Configure instance
/// permissions for Systems Manager").
pub const SSM_INSTANCE_POLICY: &str = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";
