//! SNS topics.

pub mod topic;
