//! The tracing of a stack (X-Ray tracing of the tiers): what is checked of them beyond what the
//! types say, the resources they expand into and, where they have metrics worth watching, their
//! rows on the dashboard.

use super::{Component, Cx};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use std::collections::BTreeSet;

/// Reports each problem of the stack's tracing as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
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

/// X-Ray tracing of the tiers that ask for it.
pub(crate) struct Tracing;

impl Component for Tracing {
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        validate(stack, bad)
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
