//! The emr clusters of a stack (EMR clusters): what is checked beyond what the types say.

use crate::stack::*;

/// Reports each problem of the stack's emr clusters as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
    for (name, c) in &stack.clusters {
        let at = format!("clusters.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        if !c.release_label.starts_with("emr-") {
            bad(
                format!("{at}.release_label"),
                format!(
                    "`{}` is not an EMR release such as emr-7.1.0",
                    c.release_label
                ),
            );
        }
        for (field, value) in [
            ("master_instance_type", &c.master_instance_type),
            ("core_instance_type", &c.core_instance_type),
        ] {
            if !value.contains('.') {
                bad(
                    format!("{at}.{field}"),
                    format!("`{value}` is not an instance type such as m5.xlarge"),
                );
            }
        }
        if c.core_instance_count == 0 {
            bad(
                format!("{at}.core_instance_count"),
                "at least 1 core node (HDFS lives there)".into(),
            );
        }
        if c.idle_timeout_seconds.is_some() {
            bad(
                format!("{at}.idle_timeout_seconds"),
                "ftctl keeps EMR clusters running until destroy: a cluster that ended itself \
                 when idle would be re-created by every later apply. Remove this line (and \
                 destroy, or scale in with managed_scaling, to stop paying)"
                    .into(),
            );
        }
        if let Some(m) = c.managed_scaling {
            if m.min_instances == 0 || m.min_instances > m.max_instances {
                bad(
                    format!("{at}.managed_scaling.min_instances"),
                    "1 <= min_instances <= max_instances".into(),
                );
            } else if !(m.min_instances..=m.max_instances).contains(&c.core_instance_count) {
                // Managed scaling counts core and task nodes only, never the master.
                bad(
                    format!("{at}.core_instance_count"),
                    format!(
                        "the cluster starts with {} core nodes, outside managed scaling's {}..{} \
                         (which counts core and task nodes, not the master)",
                        c.core_instance_count, m.min_instances, m.max_instances
                    ),
                );
            }
        }
        check_policy(bad, &format!("{at}.unhealthy_alarm"), c.unhealthy_alarm);
    }
}
