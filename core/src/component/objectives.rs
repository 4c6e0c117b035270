//! The stack's resilience objectives (`[objectives]`): how long recovery may take
//! (`rto_seconds`), how much acknowledged data may be lost (`rpo_seconds`) and what share of
//! users' requests may fail while a fault lasts (`max_error_rate`), for the whole deployment
//! and per component (`[objectives.tiers.web]`, `[objectives.databases.main]`, ...). They
//! expand into no resource: `apply` records them, resolved per component, beside the applied
//! configuration in the deployment's evidence bucket, where `chaos` and `verify` read them as
//! the default budget and limits and `verify` judges against them.

use super::{Component, Cx};
use crate::resource::ResourceSpec;
use crate::stack::Stack;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One set of objectives; a field left out sets nothing.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
}

impl Objective {
    /// `self` where it sets a field, else `fallback`.
    pub fn or(self, fallback: Objective) -> Objective {
        Objective {
            rto_seconds: self.rto_seconds.or(fallback.rto_seconds),
            rpo_seconds: self.rpo_seconds.or(fallback.rpo_seconds),
            max_error_rate: self.max_error_rate.or(fallback.max_error_rate),
        }
    }

    /// The tightest of two: a fault touching two components is held to the stricter of each.
    pub fn tightest(self, other: Objective) -> Objective {
        fn min(a: Option<f64>, b: Option<f64>) -> Option<f64> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        Objective {
            rto_seconds: min(self.rto_seconds, other.rto_seconds),
            rpo_seconds: min(self.rpo_seconds, other.rpo_seconds),
            max_error_rate: min(self.max_error_rate, other.max_error_rate),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Objective::default()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Objectives {
    #[serde(default)]
    pub rto_seconds: Option<f64>,
    #[serde(default)]
    pub rpo_seconds: Option<f64>,
    #[serde(default)]
    pub max_error_rate: Option<f64>,
    #[serde(default)]
    pub tiers: BTreeMap<String, Objective>,
    #[serde(default)]
    pub databases: BTreeMap<String, Objective>,
    #[serde(default)]
    pub caches: BTreeMap<String, Objective>,
    #[serde(default)]
    pub services: BTreeMap<String, Objective>,
    #[serde(default)]
    pub tables: BTreeMap<String, Objective>,
}

impl Objectives {
    /// The deployment-wide objective.
    pub fn deployment(&self) -> Objective {
        Objective {
            rto_seconds: self.rto_seconds,
            rpo_seconds: self.rpo_seconds,
            max_error_rate: self.max_error_rate,
        }
    }

    /// Each component's objective by the logical id of the resource experiments target
    /// (`tier.web.asg`, `db.main`, `cache.sessions`, `svc.api`, `table.orders`): its own
    /// settings, else the deployment's. Components of the stack without any objective are left
    /// out.
    pub fn resolve(&self, stack: &Stack) -> BTreeMap<String, Objective> {
        let whole = self.deployment();
        let mut out = BTreeMap::new();
        let mut add = |id: String, own: Option<&Objective>| {
            let o = own.copied().unwrap_or_default().or(whole);
            if !o.is_empty() {
                out.insert(id, o);
            }
        };
        for name in stack.tiers.keys() {
            add(format!("tier.{name}.asg"), self.tiers.get(name));
        }
        for name in stack.databases.keys() {
            add(format!("db.{name}"), self.databases.get(name));
        }
        for name in stack.caches.keys() {
            add(format!("cache.{name}"), self.caches.get(name));
        }
        for name in stack.services.keys() {
            add(format!("svc.{name}"), self.services.get(name));
        }
        for name in stack.tables.keys() {
            // A table's own `rpo_seconds` (older than `[objectives]`) still counts.
            let own = self.tables.get(name).copied().unwrap_or_default();
            let legacy = Objective {
                rpo_seconds: stack.tables[name].rpo_seconds,
                ..Objective::default()
            };
            add(format!("table.{name}"), Some(&own.or(legacy)));
        }
        out
    }
}

fn check(at: &str, o: &Objective, bad: &mut dyn FnMut(String, String)) {
    if let Some(v) = o
        .rto_seconds
        .filter(|v| !(v.is_finite() && *v > 0.0 && *v <= 86_400.0))
    {
        bad(
            format!("{at}rto_seconds"),
            format!("{v} is not a number of seconds above 0 and at most 86400"),
        );
    }
    if let Some(v) = o
        .rpo_seconds
        .filter(|v| !(v.is_finite() && *v >= 0.0 && *v <= 86_400.0))
    {
        bad(
            format!("{at}rpo_seconds"),
            format!("{v} is not a number of seconds from 0 to 86400"),
        );
    }
    if let Some(v) = o
        .max_error_rate
        .filter(|v| !(v.is_finite() && (0.0..=1.0).contains(v)))
    {
        bad(
            format!("{at}max_error_rate"),
            format!("{v} is not a share from 0 to 1 (0.01 is 1%)"),
        );
    }
}

pub(crate) struct ObjectivesComponent;

impl Component for ObjectivesComponent {
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        let o = &stack.objectives;
        check("objectives.", &o.deployment(), bad);
        let sections: [(&str, &BTreeMap<String, Objective>, Vec<&String>); 5] = [
            ("tiers", &o.tiers, stack.tiers.keys().collect()),
            ("databases", &o.databases, stack.databases.keys().collect()),
            ("caches", &o.caches, stack.caches.keys().collect()),
            ("services", &o.services, stack.services.keys().collect()),
            ("tables", &o.tables, stack.tables.keys().collect()),
        ];
        for (section, given, exist) in sections {
            for (name, objective) in given {
                let at = format!("objectives.{section}.{name}");
                if !exist.contains(&name) {
                    let known = if exist.is_empty() {
                        format!("the stack has no {section}")
                    } else {
                        format!(
                            "the stack's {section}: {}",
                            exist
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    bad(at, format!("names no component ({known})"));
                    continue;
                }
                check(&format!("{at}."), objective, bad);
            }
        }
    }

    fn expand(&self, _: &Cx<'_>, _: &mut Vec<ResourceSpec>) {}
}
