//! CloudTrail trails (and what `ftctl trail` reads).

pub mod trail;
