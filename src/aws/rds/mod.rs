//! RDS: subnet groups, parameter groups, database instances.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_RDS` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "RDS";

pub mod instance;
pub mod parameter_group;
pub mod subnet_group;
mod tags;
