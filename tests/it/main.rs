//! The integration tests: the built `ftctl` run as a user runs it, against the local emulators
//! (moto and ministack), and what the emulators then hold read back with the AWS SDK.
//!
//! One test binary, not one per file: the support code (`support`, 16 SDK clients and a hyper
//! proxy) is compiled and linked once. Tests in it run in parallel threads of one process, so
//! the support gives each its own deployment name (`unique_env`), serialises the tests that
//! count everything the emulators hold against all others (`emulators`), and keeps every ftctl
//! it spawns out of the user's own state (`ftctl_command`).

mod support;

mod bad_input;
mod chaos;
mod documents;
mod edge;
mod evidence;
mod failovers;
mod gray;
mod load;
mod locks;
mod monitoring;
mod plans;
mod prices;
mod queues;
mod replication;
mod resilience;
mod scenarios;
mod secrets;
mod stage1;
mod stage2;
mod stage3;
