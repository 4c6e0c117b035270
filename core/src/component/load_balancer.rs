//! The load balancers of a stack (application load balancers: scheme, listeners, who may reach them): what is checked beyond what the types say.

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
