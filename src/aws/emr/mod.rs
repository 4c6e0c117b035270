//! EMR clusters.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_EMR` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "EMR";

pub mod cluster;
