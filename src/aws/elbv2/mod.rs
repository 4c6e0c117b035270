//! Elastic Load Balancing v2: target groups, load balancers, listeners and their rules.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "ELASTIC_LOAD_BALANCING_V2";

pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
mod tags;
pub mod target_group;
