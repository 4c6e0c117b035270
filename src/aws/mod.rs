//! The AWS side: one provider per resource kind behind the `Provider` trait, and `AwsCloud`, which
//! implements the engine's `Cloud` seam by dispatching to them. Clients come from the standard
//! configuration chain, so endpoints (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), profiles
//! and credentials work unchanged against AWS, LocalStack or the local emulators.

mod acm;
mod app_autoscaling;
mod autoscaling;
pub mod backup;
pub mod chaos;
mod clients;
mod cloud;
mod cloudfront;
mod cloudtrail;
pub mod cloudwatch;
mod ctx;
mod docdb;
pub mod dynamodb;
mod ec2;
mod ecs;
mod efs;
mod elasticache;
mod elbv2;
mod emr;
pub mod fis;
pub mod game_days;
pub mod iam;
mod kms;
mod logs;
mod provider;
mod rds;
mod reads;
mod registry;
mod route53;
pub mod s3;
pub mod scheduler;
#[cfg(test)]
mod schema_check;
pub(crate) mod sdk;
pub mod ses;
mod sns;
mod sqs;
pub mod ssm;
mod wafv2;
mod xray;

pub use clients::{account_of, Clients};
pub use cloud::{endpoint_for, AwsCloud};
pub use cloudtrail::trail;
pub use ctx::DeleteOptions;
pub use registry::schema;
pub use sdk::{aws_error, error_code, unix_now};
