//! EFS: file systems, mount targets, access points.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_EFS` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "EFS";

pub mod access_point;
pub mod file_system;
pub mod mount_target;
mod tags;
