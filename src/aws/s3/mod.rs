//! S3: the deployment's buckets and the policy admitting CloudFront to one (stack resource
//! kinds), its evidence bucket (not one), and the lifecycle rules both carry.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_S3` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "S3";

pub(crate) mod bucket;
pub mod evidence;
pub(crate) mod lifecycle;
pub(crate) mod policy;
