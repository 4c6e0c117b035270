//! ElastiCache: subnet groups and replication groups.

pub mod replication_group;
pub mod subnet_group;
mod tags;
