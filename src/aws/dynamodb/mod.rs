//! DynamoDB tables and their replicas in other regions.

pub mod replica;
pub mod table;
mod tags;
