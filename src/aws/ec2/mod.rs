//! EC2: the network (VPC, subnets, gateways, routes, ACLs, endpoints), security groups, launch templates.

/// The service's name in its endpoint variable, `AWS_ENDPOINT_URL_EC2` (AWS SDKs and tools
/// reference guide, service-specific endpoints).
pub(crate) const ENDPOINT_VAR: &str = "EC2";

pub mod elastic_ip;
pub mod internet_gateway;
pub mod launch_template;
pub mod nat_gateway;
pub mod network_acl;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub(crate) mod tags;
pub mod vpc;
pub mod vpc_endpoint;
