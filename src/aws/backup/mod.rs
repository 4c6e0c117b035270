//! AWS Backup: the vault and plan providers, and the AWS side of `ftctl backup` (snapshots).

pub mod plan;
mod snapshots;
mod tags;
pub mod vault;

pub use snapshots::{list, take};
