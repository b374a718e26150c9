//! `rill`: the 2017 library's algorithm, reproduced as the baseline.
//!
//! The command's events are inserted in one transaction; then each event gets its global
//! insert order in a transaction of its own, under one global advisory lock, so every append
//! in the system is serialised on that lock. The talk's figure for it was ~800 events/s.

use sqlx::Connection;

use super::single::{insert_one, Inserted};
use super::{check_input, Append, Appended};
use crate::error::{Error, Result};
use crate::store::Store;

/// The global advisory lock key every rill writer takes.
pub const INSERT_ORDER_LOCK: i64 = 0x7269_6c6c; // "rill"

pub(super) async fn append(store: &Store, a: Append) -> Result<Appended> {
    check_input(&a, store.schema().payload)?;
    store.check_school(a.school).await?;
    let mut conn = store.pool().acquire().await.map_err(Error::db("acquiring a connection"))?;
    let mut tx = conn.begin().await.map_err(Error::db("starting a transaction"))?;
    let mut positions = Vec::with_capacity(a.events.len());
    for (i, e) in a.events.iter().enumerate() {
        match insert_one(&mut tx, store, &a, i, e).await? {
            Inserted::New(p) => positions.push(p),
            Inserted::Existing(_) => {
                // A retry of an append that committed: its transaction is aborted now.
                drop(tx);
                return retried(store, &mut conn, &a).await;
            }
        }
    }
    tx.commit().await.map_err(super::outcome::of_commit("committing events"))?;
    // The events are stored now: a failure below leaves the append to be finished by a retry
    // with the same ids, which answers from what is stored.
    give_insert_order(&mut conn, &positions).await.map_err(|e| Error::OutcomeUnknown {
        reason: format!("the events committed, their insert order was not given ({e}); retry with the same ids"),
    })?;
    Ok(Appended { positions, version: a.expected_version + a.events.len() as i64 })
}

/// Gives each stored event its insert order, one transaction each under the global lock.
async fn give_insert_order(conn: &mut sqlx::PgConnection, positions: &[i64]) -> Result<()> {
    for &position in positions {
        let mut tx = conn.begin().await.map_err(Error::db("starting a transaction"))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(INSERT_ORDER_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("taking the insert-order lock"))?;
        sqlx::query(
            "UPDATE events SET insert_order = (SELECT coalesce(max(insert_order), 0) + 1 FROM events) \
             WHERE global_position = $1 AND insert_order IS NULL",
        )
        .bind(position)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("giving an insert order"))?;
        tx.commit().await.map_err(Error::db("committing the insert order"))?;
    }
    Ok(())
}

/// Answers a retried append from what is stored, when all of its events are, and gives
/// those an insert order that a failure after their commit left without one.
async fn retried(store: &Store, conn: &mut sqlx::PgConnection, a: &Append) -> Result<Appended> {
    let ids: Vec<uuid::Uuid> = a.events.iter().map(|e| e.id).collect();
    let found = store.positions_of(None, &ids).await?;
    let positions: Option<Vec<i64>> = ids.iter().map(|id| found.get(id).map(|(p, _)| *p)).collect();
    match positions {
        Some(positions) => {
            give_insert_order(conn, &positions).await?;
            Ok(Appended { positions, version: a.expected_version + a.events.len() as i64 })
        }
        None => Err(Error::Conflict {
            stream: a.stream,
            expected: a.expected_version,
            actual: store.stream_version(a.stream).await?,
        }),
    }
}
