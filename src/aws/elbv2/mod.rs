//! Elastic Load Balancing v2: target groups, load balancers, listeners and their rules.

pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
mod tags;
pub mod target_group;
