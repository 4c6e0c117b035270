//! IAM roles and instance profiles.

pub mod instance_profile;
pub mod role;
mod tags;
