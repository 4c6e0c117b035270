//! CloudTrail trails (and what `ftctl trail` reads).

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_CLOUDTRAIL` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "CLOUDTRAIL";

pub mod trail;
