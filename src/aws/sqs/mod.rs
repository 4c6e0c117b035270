//! SQS queues.

pub mod queue;
