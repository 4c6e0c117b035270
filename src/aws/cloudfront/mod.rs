//! CloudFront: the distribution in front of the public balancer and the origin access control
//! it reads the maintenance page through. CloudFront is global: its names carry the
//! deployment's region, and its API is reached at one endpoint whatever the client's region.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_CLOUDFRONT` (AWS SDKs and
/// tools reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "CLOUDFRONT";

pub(crate) mod distribution;
pub(crate) mod origin_access_control;
