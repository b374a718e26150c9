//! Rebuilding the read model from the log: `rill` (the 2017 catch-up read: pages of 100 rows
//! in global order, deserialised on a second thread), `sequential` (one streaming reader in
//! global order) or `parallel` (course material, then schools on N workers, largest first,
//! merged), or through a peer (`message_db`: Message DB's category reads). All must give the
//! same digest.

mod copy_out;
mod decode;
mod memory;
mod message_db;
mod postgres;
mod rill;

use std::time::Duration;

pub use copy_out::CopyRows;
pub use decode::{envelope, recorded, PG_EPOCH_US};
pub use memory::MemoryLog;
pub use message_db::{message_db_categories, MESSAGE_DB_PAGE};
pub use postgres::{
    across_servers, copy_out_parallel, keyset, parallel, parallel_counted, replay_columns, sequential,
    sequential_counted,
};
pub use rill::{rill_catch_up, rill_catch_up_counted, RILL_PAGE};

use crate::read_model::ReadModel;
use crate::store::FeedSnapshot;

/// A finished rebuild.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The model.
    pub model: ReadModel,
    /// Its digest.
    pub digest: String,
    /// Events folded.
    pub events: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The snapshot it read: its transactions' events are in the model, no others (see
    /// `postgres.rs`); a projector goes live from it. `None` for replays that are not of
    /// stroom's store (memory, Message DB) or not of one snapshot (rill's catch-up pages).
    pub snapshot: Option<FeedSnapshot>,
}

impl Replayed {
    /// Events per second of wall time.
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}
