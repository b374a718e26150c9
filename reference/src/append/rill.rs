//! `rill`: the 2017 library's append, as `rill-psql` published it (rill-event-sourcing/rill:
//! `psql_schema.sql`, and `append-events` in `src/rill/event_store/psql.clj`). Written here from
//! that design, not copied.
//!
//! - A command's events are inserted one statement each, in one transaction, with the stream
//!   version the command expects; `UNIQUE (stream, version)` is the optimistic check.
//! - The log's statement trigger ([`crate::store::Layout::RillLog`]) takes a transaction-scoped
//!   advisory lock and gives every row still without one its `insert_order` from a sequence.
//!   The lock is held until COMMIT, so every append in the system is serialised through its
//!   commit, and a command is one atomic transaction: a failure leaves no row.
//!
//! The talk's figure for it was ~800 events/s.

use sqlx::Connection;

use super::held::Held;
use super::single::{insert_one, Inserted};
use super::{check_input, Append, Appended};
use crate::error::{Error, Result};
use crate::store::{Layout, Store};

pub(super) async fn append(store: &Store, held: &Held, a: Append) -> Result<Appended> {
    check_input(&a, store.schema().payload)?;
    debug_assert_eq!(store.schema().layout, Layout::RillLog, "rill needs the log's insert-order trigger");
    store.check_school(a.school).await?;
    let mut conn = held.acquire().await?;
    let mut tx = conn.begin().await.map_err(Error::db("starting a transaction"))?;
    let mut positions = Vec::with_capacity(a.events.len());
    for (i, e) in a.events.iter().enumerate() {
        match insert_one(&mut tx, store, &a, i, e).await? {
            Inserted::New(p) => positions.push(p),
            Inserted::Existing(_) => {
                // A retry of an append that committed: its transaction is aborted now.
                drop(tx);
                return retried(store, &a).await;
            }
        }
    }
    tx.commit().await.map_err(super::outcome::of_commit("committing events"))?;
    conn.clean();
    Ok(Appended { positions, version: a.expected_version + a.events.len() as i64 })
}

/// Answers a retried append from what is stored, when all of its events are.
async fn retried(store: &Store, a: &Append) -> Result<Appended> {
    let ids: Vec<uuid::Uuid> = a.events.iter().map(|e| e.id).collect();
    let found = store.positions_of(None, &ids).await?;
    let positions: Option<Vec<i64>> = ids.iter().map(|id| found.get(id).map(|(p, _)| *p)).collect();
    match positions {
        Some(positions) => Ok(Appended { positions, version: a.expected_version + a.events.len() as i64 }),
        None => Err(Error::Conflict {
            stream: a.stream,
            expected: a.expected_version,
            actual: store.stream_version(a.stream).await?,
        }),
    }
}
