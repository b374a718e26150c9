//! The reference implementation stroom measures: the event store on PostgreSQL with its
//! append strategies and reads, and (as the read-side work lands) the domain, read model and
//! replay.
#![deny(missing_docs)]

pub mod append;
pub mod command;
pub mod domain;
mod error;
pub mod event;
pub mod migrate;
pub mod placement;
pub mod project;
pub mod read_model;
pub mod replay;
pub mod slowdown;
pub mod store;
pub mod upcast;

pub use append::{Append, Appended, Appender, Strategy, Transactor, TransactorConfig};
pub use command::{CommandHandler, Handled};
pub use error::{Error, Result};
pub use event::{NewEvent, RecordedEvent, School, StoredEvent, GLOBAL_SCHOOL, MAX_PAYLOAD_BYTES};
pub use project::Projector;
pub use store::{Layout, PayloadType, Schema, Store};
pub use upcast::Upcasters;
