//! ECS: the cluster, task definitions, services.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_ECS` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "ECS";

pub mod cluster;
pub mod service;
mod tags;
pub mod task_definition;
