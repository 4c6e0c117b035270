//! The `ftctl` crate: everything that does I/O, over the pure model of `ftctl-core` (re-exported
//! here under its own module names). The AWS providers and their `Cloud`, the bounded-parallel
//! executor, deployment locks, the chaos run loop and the commands the binary dispatches to.

pub use ftctl_core::{
    backup, check, cost, deployment, diagram, evidence, expand, graph, plan, render, resource,
    saved, schedule, schema, stack, verify,
};

pub mod apply;
pub mod aws;
pub mod chaos;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod error;
#[cfg(test)]
mod fake;
pub mod lock;
pub mod session;
