//! The services of a stack (ECS Fargate services behind a balancer): what is checked beyond what the types say.

use crate::stack::*;

/// Reports each problem of the stack's services as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
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
                format!("a tier is already named `{name}`: services and tiers share names in AWS"),
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
            1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
            2922, 3288, 3653,
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
