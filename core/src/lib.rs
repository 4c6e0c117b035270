//! ftctl's pure core: the stack model and its loading, expansion into resources, the resource
//! model and the shape of a kind's attribute schema, graph, plan, saved plans, controls check,
//! rendering and the chaos design, verdict and report. No AWS SDK, async runtime or CLI
//! framework is a dependency of this crate, so nothing here can reach the network: the `ftctl`
//! crate does that, over these types.

pub mod backup;
pub mod chaos;
pub mod check;
mod component;
pub mod cost;
pub mod deployment;
pub mod diagram;
pub mod endpoint;
pub mod evidence;
pub mod expand;
pub mod graph;
pub mod kind;
pub mod plan;
pub mod render;
pub mod resource;
pub mod saved;
pub mod schedule;
pub mod schema;
pub mod stack;
pub mod verify;
