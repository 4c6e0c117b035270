//! EC2 Auto Scaling groups.

pub mod group;
