//! WAFv2 web ACLs.

pub mod web_acl;
