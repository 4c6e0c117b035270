//! The dns of a stack (the Route 53 zone and its records): what is checked beyond what the types say.

use crate::stack::*;

/// Reports each problem of the stack's dns as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
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
