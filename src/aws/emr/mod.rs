//! EMR clusters.

pub mod cluster;
