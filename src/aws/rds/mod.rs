//! RDS: subnet groups, parameter groups, database instances.

pub mod instance;
pub mod parameter_group;
pub mod subnet_group;
mod tags;
