//! KMS keys.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_KMS` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "KMS";

pub mod key;
