//! ElastiCache: subnet groups and replication groups.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_ELASTICACHE` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "ELASTICACHE";

pub mod replication_group;
pub mod subnet_group;
mod tags;
