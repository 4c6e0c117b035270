//! The components a stack is made of, one file each. Today each file holds the component's
//! validation; `stack::validate` runs them in this order (the order problems are reported in).

mod cache;
mod cluster;
mod database;
mod dns;
mod file_system;
mod load_balancer;
mod network;
mod notifications;
mod service;
mod table;
mod tier;
mod tracing;

use crate::stack::Stack;

/// Every component's validation, in the order the stack file reads.
pub(crate) type Validate = fn(&Stack, &mut dyn FnMut(String, String));
pub(crate) const VALIDATORS: [Validate; 12] = [
    network::validate,
    load_balancer::validate,
    tier::validate,
    database::validate,
    cache::validate,
    table::validate,
    tracing::validate,
    service::validate,
    file_system::validate,
    cluster::validate,
    dns::validate,
    notifications::validate,
];
