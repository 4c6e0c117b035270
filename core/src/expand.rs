//! Turns a validated stack into the concrete AWS resources it stands for, with references
//! between them. Pure: the availability zones are passed in, nothing is looked up.
//!
//! Knows component types (see `component`), never stages: a later stage is just a stack with
//! more components. Each component expands itself; this lays out the zones and subnets they
//! share and adds the dashboard their rows make.

use crate::component::{monitoring, Cx, COMPONENTS};
use crate::resource::ResourceSpec;
use crate::stack::{subnet_cidrs, Stack};

pub use crate::component::{
    backup_vault_name, cache_member_suffixes, cache_node_zones, dashboard_page, BUCKET_NAME_MAX,
    ELB_LOG_DELIVERY, ROUTE53_METRICS_REGION, SSM_INSTANCE_POLICY,
};

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
    let n = stack.network.az_count as usize;
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
    let (public_cidrs, private_cidrs) = subnet_cidrs(&stack.network).ok_or_else(|| Problem {
        field: "network.subnet_prefix",
        message: "the subnet plan does not fit the VPC block".into(),
    })?;
    let cx = Cx {
        stack,
        env,
        region,
        zones: &zones[..n],
        public_cidrs,
        private_cidrs,
        public_subnets: (0..n).map(|i| format!("network.public.{i}")).collect(),
        private_subnets: (0..n).map(|i| format!("network.private.{i}")).collect(),
    };
    let mut out = Vec::new();
    for component in COMPONENTS {
        component.expand(&cx, &mut out);
    }
    let dashboards = monitoring::dashboards(&cx, &out);
    out.extend(dashboards);
    Ok(out)
}

#[cfg(test)]
mod tests;
