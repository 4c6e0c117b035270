//! The components a stack is made of, one file each: the network, the notifications, the
//! balancers, tiers, tracing, databases, caches, document databases, tables, file systems, services, queues, EMR clusters,
//! DNS, CloudFront in front, the audit trail, how long stored objects are kept and the resilience objectives. Each holds what is checked of it beyond
//! what the types say, the resources it expands into and its rows on the deployment's
//! dashboard (`monitoring`), behind the one `Component` trait; `stack::validate` and `expand::expand` are loops over
//! `COMPONENTS`. The stack model itself stays in `stack::model`, where serde reads it with
//! located errors. The security controls `ftctl check` applies judge resources (planned or
//! live), so they live by resource kind in `check::controls`, not here.

pub(crate) mod audit;
pub(crate) mod cache;
pub(crate) mod cluster;
pub(crate) mod database;
pub(crate) mod dns;
pub(crate) mod documents;
pub(crate) mod edge;
pub(crate) mod file_system;
pub(crate) mod load_balancer;
pub(crate) mod monitoring;
pub(crate) mod network;
pub(crate) mod notifications;
pub(crate) mod objectives;
pub(crate) mod queue;
pub(crate) mod retention;
pub(crate) mod service;
pub(crate) mod table;
pub(crate) mod tier;
pub(crate) mod tracing;

pub use cache::{cache_member_suffixes, cache_node_zones};
pub use database::backup_vault_name;
pub use load_balancer::ELB_LOG_DELIVERY;
pub use monitoring::dashboard_page;
pub use tier::SSM_INSTANCE_POLICY;

use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::{AlarmPolicy, Stack};
use monitoring::Row;

/// What every component expands against: the stack, where it is deployed, and the shared
/// resources the others refer to (the subnets of each kind, in zone order).
pub(crate) struct Cx<'a> {
    pub stack: &'a Stack,
    pub env: &'a str,
    pub region: &'a str,
    /// The zones the deployment uses (`network.az_count` of them).
    pub zones: &'a [String],
    pub public_cidrs: Vec<String>,
    pub private_cidrs: Vec<String>,
    /// Ids of the public and the private subnet of each zone.
    pub public_subnets: Vec<String>,
    pub private_subnets: Vec<String>,
}

/// The topic every alarm notifies (made by the notifications component).
pub(crate) const TOPIC: &str = "notifications.topic";

/// One kind of stack component.
pub(crate) trait Component: Sync {
    /// Reports each problem of the stack's components of this kind as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String));

    /// Appends the resources the stack's components of this kind stand for.
    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>);

    /// Their rows on the deployment's dashboard, if they have metrics worth a row.
    fn dashboard(&self, _cx: &Cx<'_>) -> Vec<Row> {
        Vec::new()
    }
}

/// Every component, in the order the architecture reads (problems are reported, resources
/// listed and dashboard rows laid out in this order). The notifications come early: every
/// alarm refers to their topic.
pub(crate) const COMPONENTS: [&dyn Component; 18] = [
    &network::NetworkComponent,
    &notifications::NotificationsComponent,
    &load_balancer::LoadBalancers,
    &tier::Tiers,
    &tracing::TracingComponent,
    &database::Databases,
    &cache::Caches,
    &documents::DocumentDatabases,
    &table::Tables,
    &file_system::FileSystems,
    &service::Services,
    &queue::Queues,
    &cluster::Clusters,
    &dns::DnsComponent,
    &edge::EdgeComponent,
    &audit::AuditComponent,
    &retention::RetentionComponent,
    &objectives::ObjectivesComponent,
];

/// Balancer and target group names: at most 32 characters.
pub(crate) const ALB_NAME_MAX: usize = 32;

/// Where Route 53 publishes its health-check metrics, and so where their alarms must live
/// (Route 53 Developer Guide, "Monitoring health checks using CloudWatch": the metrics are
/// "not available if you select any other region"). A CloudWatch alarm notifies only a topic
/// of its own region, so a deployment elsewhere gets a second topic there, with the same
/// subscriptions (SNS cannot subscribe one topic to another).
pub const ROUTE53_METRICS_REGION: &str = "us-east-1";
/// S3 bucket names are at most 63 characters and global: the provider appends the account id
/// (12) and the region (at most 14, ap-southeast-2), each after a hyphen.
pub const BUCKET_NAME_MAX: usize = 63 - 13 - 15;

/// A security group rule admitting TCP on `port` from another group.
pub(crate) fn tcp_rule_from_sg(port: u16, sg_id: &str) -> Val {
    Val::map([
        ("protocol", Val::str("tcp")),
        ("from_port", Val::Int(port.into())),
        ("to_port", Val::Int(port.into())),
        ("source", Val::reference(sg_id, "id")),
    ])
}

/// A security group rule admitting TCP on `port` from a CIDR block.
pub(crate) fn tcp_rule_from_cidr(port: u16, cidr: &str) -> Val {
    Val::map([
        ("protocol", Val::str("tcp")),
        ("from_port", Val::Int(port.into())),
        ("to_port", Val::Int(port.into())),
        ("source", Val::str(cidr)),
    ])
}

/// A security group rule admitting TCP on `port` from the addresses of an AWS-managed prefix
/// list, named (the security group provider looks its regional id up).
pub(crate) fn tcp_rule_from_prefix_list(port: u16, list_name: &str) -> Val {
    tcp_rule_from_cidr(port, list_name)
}

/// A CloudWatch alarm on one metric, notifying the deployment's topic.
pub(crate) struct AlarmDef<'a> {
    pub id: String,
    pub name_suffix: String,
    pub description: String,
    pub namespace: &'a str,
    pub metric: &'a str,
    pub statistic: &'a str,
    pub dimensions: Vec<(&'a str, Val)>,
    pub comparison: &'a str,
    pub threshold: f64,
    pub policy: AlarmPolicy,
    pub missing: &'a str,
}

pub(crate) fn alarm(env: &str, topic: &str, def: AlarmDef<'_>) -> ResourceSpec {
    let actions = Val::list([Val::reference(topic, "arn")]);
    ResourceSpec::new(
        def.id,
        Kind::MetricAlarm,
        physical_name(env, &def.name_suffix, 255),
    )
    .with("description", Val::str(def.description))
    .with("namespace", Val::str(def.namespace))
    .with("metric_name", Val::str(def.metric))
    .with("statistic", Val::str(def.statistic))
    .with("dimensions", Val::map(def.dimensions))
    .with("comparison_operator", Val::str(def.comparison))
    .with("threshold", Val::Float(def.threshold))
    .with("period", Val::Int(def.policy.period_seconds.into()))
    .with(
        "evaluation_periods",
        Val::Int(def.policy.evaluation_periods.into()),
    )
    .with("treat_missing_data", Val::str(def.missing))
    .with("alarm_actions", actions.clone())
    .with("ok_actions", actions)
}

/// An alarm on a metric published in us-east-1 only (Route 53 health checks, CloudFront).
/// A CloudWatch alarm watches metrics of its own region, and CloudWatch refuses an action on a
/// topic of another ("Invalid region ... specified", cds-snc/notification-terraform#128; the
/// emulators accept it), so a deployment elsewhere makes it in us-east-1, named with the
/// deployment's region, notifying the topic the notifications component makes there.
pub(crate) fn us_east_1_alarm(env: &str, region: &str, def: AlarmDef<'_>) -> ResourceSpec {
    if region == ROUTE53_METRICS_REGION {
        return alarm(env, TOPIC, def);
    }
    let def = AlarmDef {
        name_suffix: format!("{region}-{}", def.name_suffix),
        ..def
    };
    alarm(env, notifications::US_EAST_1_TOPIC, def).with("region", Val::str(ROUTE53_METRICS_REGION))
}

/// An IAM policy statement as the providers write it: actions on resources (text or references).
pub(crate) fn statement(actions: &[&str], resources: Vec<Val>) -> Val {
    Val::map([
        ("actions", Val::list(actions.iter().map(|a| Val::str(*a)))),
        ("resources", Val::List(resources)),
    ])
}
