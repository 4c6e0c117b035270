//! The services of a stack (ECS Fargate services behind a balancer): their settings in the stack
//! file, what is checked of them beyond what the types say, the resources they expand into and,
//! where they have metrics worth watching, their rows on the dashboard.

use super::monitoring::{metric, Row};
use super::{alarm, statement, tcp_rule_from_sg, AlarmDef, Component, Cx, ALB_NAME_MAX, TOPIC};
use crate::deployment::{global_name, physical_name};
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

/// An ECS Fargate service behind a load balancer's listener rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub load_balancer: String,
    /// Requests whose path matches go to this service (its own listener rule).
    pub path_patterns: Vec<String>,
    pub image: String,
    #[serde(default = "default_http_port")]
    pub container_port: u16,
    /// Task CPU units (256 = a quarter vCPU) and memory in MiB: a valid Fargate pair.
    pub cpu: u32,
    pub memory: u32,
    pub desired_count: u32,
    #[serde(default = "default_health_path")]
    pub health_check_path: String,
    /// An EFS file system (from `file_systems`) mounted into every task.
    #[serde(default)]
    pub file_system: Option<String>,
    #[serde(default = "default_mount_path")]
    pub mount_path: String,
    #[serde(default)]
    pub autoscaling: ServiceAutoscaling,
    #[serde(default = "default_log_days")]
    pub log_retention_days: u32,
    #[serde(default = "default_service_cpu_alarm")]
    pub cpu_alarm_percent: f64,
    #[serde(default = "default_service_memory_alarm")]
    pub memory_alarm_percent: f64,
    /// Running tasks below desired this long pages someone; it is kill-task's budget.
    #[serde(default = "three_minute_alarm")]
    pub running_alarm: AlarmPolicy,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAutoscaling {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "two")]
    pub min_tasks: u32,
    #[serde(default = "default_max_tasks")]
    pub max_tasks: u32,
    #[serde(default = "default_target_cpu")]
    pub target_cpu_percent: f64,
}

impl Default for ServiceAutoscaling {
    fn default() -> Self {
        ServiceAutoscaling {
            enabled: false,
            min_tasks: two(),
            max_tasks: default_max_tasks(),
            target_cpu_percent: default_target_cpu(),
        }
    }
}

fn two() -> u32 {
    2
}
fn default_max_tasks() -> u32 {
    6
}
fn default_mount_path() -> String {
    "/data".into()
}
fn default_log_days() -> u32 {
    30
}
fn default_service_cpu_alarm() -> f64 {
    85.0
}
fn default_service_memory_alarm() -> f64 {
    85.0
}

/// The ECS Fargate services and the cluster they run in.
pub(crate) struct Services;

impl Component for Services {
    /// Reports each problem of the stack's services as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (name, svc) in &stack.services {
            let at = format!("services.{name}");
            if !valid_component_name(name) {
                bad(
                    at.clone(),
                    "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
                );
            }
            if stack.tiers.contains_key(name) {
                bad(
                    at.clone(),
                    format!(
                        "a tier is already named `{name}`: services and tiers share names in AWS"
                    ),
                );
            }
            if !stack.load_balancers.contains_key(&svc.load_balancer) {
                bad(
                    format!("{at}.load_balancer"),
                    format!("no load balancer named `{}`", svc.load_balancer),
                );
            }
            if svc.path_patterns.is_empty() || svc.path_patterns.len() > 5 {
                bad(
                    format!("{at}.path_patterns"),
                    "1 to 5 path patterns (one listener rule condition)".into(),
                );
            }
            for (i, pattern) in svc.path_patterns.iter().enumerate() {
                if !pattern.starts_with('/') || pattern.len() > 128 {
                    bad(
                        format!("{at}.path_patterns.{i}"),
                        format!("`{pattern}` must start with / (at most 128 characters)"),
                    );
                }
            }
            if svc.image.trim().is_empty() {
                bad(format!("{at}.image"), "must not be empty".into());
            }
            if !fargate_size_ok(svc.cpu, svc.memory) {
                bad(
                    format!("{at}.memory"),
                    format!(
                        "cpu {} with memory {} MiB is not a Fargate size (e.g. 256 with 512-2048, 512 with 1024-4096, 1024 with 2048-8192)",
                        svc.cpu, svc.memory
                    ),
                );
            }
            if svc.container_port == 0 {
                bad(
                    format!("{at}.container_port"),
                    "must be a port number".into(),
                );
            }
            if !svc.health_check_path.starts_with('/') {
                bad(
                    format!("{at}.health_check_path"),
                    "must start with /".into(),
                );
            }
            if svc.desired_count == 0 {
                bad(
                    format!("{at}.desired_count"),
                    "must be at least 1 (2 or more to survive losing a task or a zone)".into(),
                );
            }
            if svc.autoscaling.enabled {
                let s = &svc.autoscaling;
                if s.min_tasks == 0 || s.min_tasks > s.max_tasks {
                    bad(
                        format!("{at}.autoscaling.min_tasks"),
                        "1 <= min_tasks <= max_tasks".into(),
                    );
                } else if svc.desired_count < s.min_tasks || svc.desired_count > s.max_tasks {
                    bad(
                        format!("{at}.desired_count"),
                        format!(
                            "{} lies outside autoscaling's {}..{}",
                            svc.desired_count, s.min_tasks, s.max_tasks
                        ),
                    );
                }
                if !(1.0..=100.0).contains(&s.target_cpu_percent) {
                    bad(
                        format!("{at}.autoscaling.target_cpu_percent"),
                        "must be between 1 and 100".into(),
                    );
                }
            }
            if let Some(fs) = &svc.file_system {
                if !stack.file_systems.contains_key(fs) {
                    bad(
                        format!("{at}.file_system"),
                        format!("no file system named `{fs}`"),
                    );
                }
            }
            if !svc.mount_path.starts_with('/') {
                bad(
                    format!("{at}.mount_path"),
                    "must be an absolute path".into(),
                );
            }
            const RETENTION: [u32; 22] = [
                1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                2557, 2922, 3288, 3653,
            ];
            if !RETENTION.contains(&svc.log_retention_days) {
                bad(
                    format!("{at}.log_retention_days"),
                    "one of CloudWatch Logs' periods: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ... days".into(),
                );
            }
            for (field, value) in [
                ("cpu_alarm_percent", svc.cpu_alarm_percent),
                ("memory_alarm_percent", svc.memory_alarm_percent),
            ] {
                if !(1.0..=100.0).contains(&value) {
                    bad(format!("{at}.{field}"), "must be between 1 and 100".into());
                }
            }
            check_policy(bad, &format!("{at}.running_alarm"), svc.running_alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack, env, region, ..
        } = *cx;
        let (private_ids, topic) = (&cx.private_subnets, TOPIC);
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
                private_ids,
            ));
            priority += 10;
        }
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .services
            .keys()
            .map(|name| {
                let d = [
                    ("ClusterName", Val::reference("ecs.cluster", "name")),
                    ("ServiceName", Val::reference(format!("svc.{name}"), "name")),
                ];
                let ecs = |metric_name| metric("AWS/ECS", metric_name, &d);
                Row::new(
                    cx,
                    format!("Service {name}"),
                    vec![
                        (
                            "Running tasks",
                            vec![metric("ECS/ContainerInsights", "RunningTaskCount", &d)],
                            "Minimum",
                        ),
                        (
                            "CPU / memory",
                            vec![ecs("CPUUtilization"), ecs("MemoryUtilization")],
                            "Average",
                        ),
                    ],
                )
            })
            .collect()
    }
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
