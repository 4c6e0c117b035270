//! Route 53: hosted zones, records, health checks.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_ROUTE_53` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "ROUTE_53";

pub mod health_check;
pub mod hosted_zone;
pub mod record;
