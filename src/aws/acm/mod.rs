//! ACM certificates.

pub mod certificate;
