//! CloudWatch: alarms and the dashboard (resource kinds), alarm state and run metrics.

pub mod alarm;
pub mod alarm_state;
pub mod dashboard;
pub mod metrics;
