//! The typed stack: what a stack file may say. Unknown keys are errors, every field has a type,
//! and defaults are the values an SRE would pick for a production deployment. Each component's
//! settings are declared in its file under `component/` and re-exported here; this file
//! assembles the whole and holds what several components share.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::component::audit::Audit;
pub use crate::component::cache::{Cache, CacheAutoscaling};
pub use crate::component::cluster::{EmrCluster, ManagedScaling};
pub use crate::component::database::{Database, Engine};
pub use crate::component::dns::Dns;
pub use crate::component::documents::Documents;
pub use crate::component::edge::{Edge, PriceClass};
pub use crate::component::file_system::{FileSystem, ThroughputMode};
pub use crate::component::load_balancer::{LoadBalancer, LoadBalancerAlarms, Scheme};
pub use crate::component::network::{NatMode, Network};
pub use crate::component::notifications::Notifications;
pub use crate::component::objectives::{Objective, Objectives};
pub use crate::component::queue::Queue;
pub use crate::component::retention::Retention;
pub use crate::component::service::{Service, ServiceAutoscaling};
pub use crate::component::table::{BillingMode, KeyAttribute, KeyType, Table};
pub use crate::component::tier::Tier;
pub use crate::component::tracing::Tracing;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    pub stack: StackMeta,
    pub network: Network,
    #[serde(default)]
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    #[serde(default)]
    pub tiers: BTreeMap<String, Tier>,
    #[serde(default)]
    pub databases: BTreeMap<String, Database>,
    #[serde(default)]
    pub caches: BTreeMap<String, Cache>,
    #[serde(default)]
    pub documents: BTreeMap<String, Documents>,
    #[serde(default)]
    pub tables: BTreeMap<String, Table>,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub file_systems: BTreeMap<String, FileSystem>,
    #[serde(default)]
    pub queues: BTreeMap<String, Queue>,
    #[serde(default)]
    pub clusters: BTreeMap<String, EmrCluster>,
    #[serde(default)]
    pub dns: Option<Dns>,
    /// CloudFront in front of the public balancer.
    #[serde(default)]
    pub edge: Option<Edge>,
    #[serde(default)]
    pub audit: Audit,
    /// How long what the deployment keeps in S3 stays, and where it goes as it ages.
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub tracing: Tracing,
    #[serde(default)]
    pub notifications: Notifications,
    /// Resilience objectives: the default budgets of experiments and what `verify` judges.
    #[serde(default)]
    pub objectives: Objectives,
    /// Controls of `ftctl check` this stack does not meet on purpose, each with its reason.
    #[serde(default)]
    pub opt_out: Vec<OptOut>,
}

/// A control the stack opts out of (`[[opt_out]]`): `check` shows the reason instead of a
/// failure, and the failure no longer decides its exit code.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    /// The control's id as `check` names it (`ELB.16`, `ftctl.min-capacity`).
    pub control: String,
    /// Why the stack does not meet it: shown by `check` in place of the failure.
    pub reason: String,
    /// Components it covers, as `check` names resources (`lb.public`, `tier.web`); none: all.
    #[serde(default)]
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StackMeta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A stack file this one builds on (path relative to this file). Resolved by the loader.
    #[serde(default)]
    pub extends: Option<String>,
    /// AWS region; when absent, the standard AWS configuration chain decides.
    #[serde(default)]
    pub region: Option<String>,
}

/// How long a condition must last before an alarm fires: `period_seconds × evaluation_periods`.
/// For capacity alarms this is also the recovery budget `ftctl chaos` holds the tier to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmPolicy {
    pub period_seconds: u32,
    pub evaluation_periods: u32,
}

impl AlarmPolicy {
    /// In u64: two u32 factors from the stack file must not overflow (found by fuzzing).
    pub fn window_seconds(&self) -> u64 {
        u64::from(self.period_seconds) * u64::from(self.evaluation_periods)
    }
}

/// The port a balancer serves HTTPS on.
pub const HTTPS_PORT: u16 = 443;

impl Stack {
    /// Whether balancer `name` serves HTTPS: the one a public zone names, since ACM validates
    /// the certificate for its record through that zone. Its own port then redirects to HTTPS.
    pub fn serves_https(&self, name: &str) -> bool {
        self.dns
            .as_ref()
            .is_some_and(|d| !d.private && d.load_balancer == name)
    }

    /// The ports balancer `name` listens on: its own, and HTTPS when it serves it.
    pub fn listener_ports(&self, name: &str, lb: &LoadBalancer) -> Vec<u16> {
        let mut ports = vec![lb.port];
        if self.serves_https(name) {
            ports.push(HTTPS_PORT);
        }
        ports
    }

    /// What the internet may reach: each (listener port, allowed CIDR) of the internet-facing
    /// balancers, once, in order.
    pub fn internet_ingress(&self) -> Vec<(u16, String)> {
        let mut pairs: Vec<(u16, String)> = self
            .load_balancers
            .iter()
            .filter(|(_, lb)| lb.scheme == Scheme::InternetFacing)
            .flat_map(|(name, lb)| {
                self.listener_ports(name, lb)
                    .into_iter()
                    .flat_map(|port| lb.allow_cidrs.iter().map(move |c| (port, c.clone())))
            })
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs
    }
}

// Defaults that more than one component's settings share.
pub(crate) fn yes() -> bool {
    true
}
pub(crate) fn default_http_port() -> u16 {
    80
}
/// Five one-minute periods: long enough to ride out a blip, short enough to page in time.
pub(crate) fn five_minute_alarm() -> AlarmPolicy {
    AlarmPolicy {
        period_seconds: 60,
        evaluation_periods: 5,
    }
}
pub(crate) fn default_health_path() -> String {
    "/health".into()
}
pub(crate) fn default_target_cpu() -> f64 {
    50.0
}
pub(crate) fn three_minute_alarm() -> AlarmPolicy {
    AlarmPolicy {
        period_seconds: 60,
        evaluation_periods: 3,
    }
}
