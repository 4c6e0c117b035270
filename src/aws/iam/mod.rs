//! IAM roles and instance profiles.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_IAM` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "IAM";

pub mod instance_profile;
pub mod role;
pub mod service_role;
mod tags;
