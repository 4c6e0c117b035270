//! The tracing of a stack (X-Ray tracing of the tiers): their settings in the stack file, what is
//! checked of them beyond what the types say, the resources they expand into and, where they have
//! metrics worth watching, their rows on the dashboard.

use super::{Component, Cx};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// AWS X-Ray for the tiers that serve requests: per tier a group (the tier's traces, for the
/// service map and Insights) and a sampling rule (how many requests are traced).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// On when the section is present; `--var tracing.enabled=false` turns it off.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The tiers traced; each gets X-Ray write access on its instance role.
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Share of requests traced beyond the reservoir.
    #[serde(default = "default_sample_percent")]
    pub sample_percent: f64,
    /// Requests per second traced before the percentage applies (per instance, roughly).
    #[serde(default = "default_reservoir")]
    pub reservoir_per_second: u32,
}

fn default_sample_percent() -> f64 {
    5.0
}
fn default_reservoir() -> u32 {
    1
}

/// No section: no tracing.
impl Default for Tracing {
    fn default() -> Self {
        Tracing {
            enabled: false,
            tiers: Vec::new(),
            sample_percent: default_sample_percent(),
            reservoir_per_second: default_reservoir(),
        }
    }
}

/// X-Ray tracing of the tiers that ask for it.
pub(crate) struct TracingComponent;

impl Component for TracingComponent {
    /// Reports each problem of the stack's tracing as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        let tracing = &stack.tracing;
        if tracing.enabled {
            if tracing.tiers.is_empty() {
                bad(
                    "tracing.tiers".into(),
                    "name the tiers to trace, e.g. [\"app\"] (or set enabled = false)".into(),
                );
            }
            let mut seen = BTreeSet::new();
            for (i, tier) in tracing.tiers.iter().enumerate() {
                if !stack.tiers.contains_key(tier) {
                    bad(
                        format!("tracing.tiers.{i}"),
                        format!("no tier named `{tier}`"),
                    );
                } else if !seen.insert(tier) {
                    bad(
                        format!("tracing.tiers.{i}"),
                        format!("`{tier}` is listed twice"),
                    );
                }
            }
            if !(0.0..=100.0).contains(&tracing.sample_percent) || tracing.sample_percent.is_nan() {
                bad(
                    "tracing.sample_percent".into(),
                    format!("is {}: a percentage from 0 to 100", tracing.sample_percent),
                );
            }
            if tracing.reservoir_per_second > 10_000 {
                bad(
                    "tracing.reservoir_per_second".into(),
                    "at most 10000 traced requests per second".into(),
                );
            }
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx { stack, env, .. } = *cx;
        if !stack.tracing.enabled {
            return;
        }
        for name in stack
            .tiers
            .keys()
            .filter(|t| stack.tracing.tiers.contains(t))
        {
            out.extend(tracing(
                env,
                name,
                &format!("tier.{name}.asg"),
                &stack.tracing,
            ));
        }
    }
}

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
