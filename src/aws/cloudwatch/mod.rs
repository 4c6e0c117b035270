//! CloudWatch alarms and the dashboard.

pub mod alarm;
pub mod dashboard;
