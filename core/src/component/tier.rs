//! The tiers of a stack (EC2 tiers in Auto Scaling groups behind a balancer): what is checked beyond what the types say.

use crate::stack::*;

/// Reports each problem of the stack's tiers as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
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
        } else if tier.desired_capacity < tier.min_size || tier.desired_capacity > tier.max_size {
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
