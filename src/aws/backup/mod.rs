//! AWS Backup: the vault and plan providers, and the AWS side of `ftctl backup` (snapshots).

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_BACKUP` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "BACKUP";

pub mod plan;
mod snapshots;
mod tags;
pub mod vault;

pub use snapshots::{list, take};
