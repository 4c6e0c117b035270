//! SNS topics.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_SNS` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "SNS";

pub mod topic;
