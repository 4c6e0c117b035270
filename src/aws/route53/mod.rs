//! Route 53: hosted zones, records, health checks.

pub mod health_check;
pub mod hosted_zone;
pub mod record;
