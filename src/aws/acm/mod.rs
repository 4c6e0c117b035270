//! ACM certificates.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_ACM` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "ACM";

pub mod certificate;
