//! Zero-config PostgreSQL for stroom.
//!
//! Every command and every test gets its database here: a URL when one is given, otherwise a
//! throwaway cluster started from the PostgreSQL server binaries installed on the machine and
//! removed afterwards. [`Database`] is the seam between a store and where its data lives.
#![deny(missing_docs)]

mod binaries;
mod cluster;
mod database;
#[cfg(feature = "testcontainers")]
mod docker;
mod error;
pub mod message_db;
mod owner;
mod profile;
pub mod testing;

pub use binaries::{Binaries, BINDIR_ENV};
pub use cluster::{Cluster, ClusterOptions, ColdStart};
pub use database::{redact, Database, Source};
pub use error::{Error, Result};
pub use owner::USER_ENV;
pub use profile::{effective_settings, filesystem_bytes, machine_memory_bytes, meminfo_kb, Profile, RECORDED_SETTINGS};
