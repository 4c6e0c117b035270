//! EFS: file systems, mount targets, access points.

pub mod access_point;
pub mod file_system;
pub mod mount_target;
mod tags;
