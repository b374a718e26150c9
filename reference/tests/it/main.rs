//! The reference store's integration tests, in one binary: each file as its own test binary
//! compiled and linked the store, sqlx and tokio again (about 2 minutes of CI's release build).

mod append;
mod command;
mod copy_round_trip;
mod faults;
mod message_db;
mod migrate;
mod placement;
mod read_model;
mod rill;
