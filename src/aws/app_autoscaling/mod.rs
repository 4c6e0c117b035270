//! Application Auto Scaling targets and policies (cache replicas, service tasks).

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "APPLICATION_AUTO_SCALING";

pub mod target;
