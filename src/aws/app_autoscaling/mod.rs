//! Application Auto Scaling targets and policies (cache replicas, service tasks).

pub mod target;
