//! Chaos experiments: the pure part (inventory, design, verdict, journal, report, FIS export)
//! is `ftctl_core::chaos`, re-exported here; this module adds the run loop, which acts on the
//! deployment through the `run::Lab` seam (`aws::chaos::AwsLab` in practice, a scripted lab in tests).

pub use ftctl_core::chaos::*;
pub mod run;
pub mod sender;

#[cfg(test)]
mod tests;
