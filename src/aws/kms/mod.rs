//! KMS keys.

pub mod key;
