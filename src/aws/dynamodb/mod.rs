//! DynamoDB tables and their replicas in other regions.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_DYNAMODB` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "DYNAMODB";

pub mod markers;
pub mod replica;
pub mod resource_policy;
pub mod table;
mod tags;
