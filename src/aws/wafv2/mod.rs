//! WAFv2 web ACLs.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_WAFV2` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "WAFV2";

pub mod web_acl;
