//! S3 buckets.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_S3` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "S3";

pub mod bucket;
