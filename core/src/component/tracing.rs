//! The tracing of a stack (X-Ray tracing of the tiers): what is checked beyond what the types say.

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
