//! EC2 Auto Scaling groups.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_AUTO_SCALING` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "AUTO_SCALING";

pub mod group;
