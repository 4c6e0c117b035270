//! ECS: the cluster, task definitions, services.

pub mod cluster;
pub mod service;
mod tags;
pub mod task_definition;
