//! Amazon DocumentDB: cluster parameter groups, clusters and their instances. Its subnet groups
//! are RDS's (one API, one resource): the RDS provider makes them. DocumentDB's API is RDS's
//! too, so every listing asks for `engine=docdb` (DocumentDB API reference, DescribeDBClusters).

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_DOCDB` (serviceId `DocDB`;
/// AWS SDKs and tools reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "DOCDB";

pub mod cluster;
pub mod instance;
pub mod parameter_group;
mod tags;
