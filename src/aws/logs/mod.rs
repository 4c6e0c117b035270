//! CloudWatch Logs log groups.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "CLOUDWATCH_LOGS";

pub mod log_group;
