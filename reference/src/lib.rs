//! The reference implementation stroom measures: the event store on PostgreSQL, and (as the
//! read-side work lands) the domain, read model and replay.
#![deny(missing_docs)]

mod error;
pub mod event;
pub mod store;

pub use error::{Error, Result};
pub use event::{School, StoredEvent, GLOBAL_SCHOOL};
pub use store::{Layout, PayloadType, Schema, Store};
