//! SQS: the stack's queues and their policies.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_SQS` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "SQS";

pub mod policy;
pub mod queue;
