//! CloudWatch: alarms and the dashboard (resource kinds), alarm state and run metrics.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_CLOUDWATCH` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "CLOUDWATCH";

pub mod alarm;
pub mod alarm_state;
pub mod dashboard;
pub mod metrics;
