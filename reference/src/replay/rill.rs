//! rill's rebuild: the catch-up read `rill-psql` published (rill-event-sourcing/rill,
//! `catch-up-events` in `src/rill/event_store/psql.clj`), written here from that design. One
//! reader pages the log by its global order, 100 rows a page (`WHERE <order> > cursor ORDER BY
//! <order> LIMIT 100`), and hands each page to a second thread that deserialises it; the
//! caller folds the decoded pages in order. Up to three pages wait between stages, as in rill.
//!
//! The order is `insert_order` on rill's own log and the global position elsewhere, so the
//! same read runs on the log the other replays read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::decode;
use super::Replayed;
use crate::error::{Error, Result};
use crate::read_model::{Envelope, Fold, ReadModel};
use crate::store::{Layout, Store};

/// Rows a page, as published.
pub const RILL_PAGE: i64 = 100;

/// Pages waiting between two stages (rill's `(chan 3)`).
const IN_FLIGHT: usize = 3;

type Row = (i32, i64, i64, String, String);

/// [`rill_catch_up`], adding the events folded so far to `done` as it goes.
pub async fn rill_catch_up_counted(store: &Store, fold: Fold, done: &AtomicU64) -> Result<Replayed> {
    let started = Instant::now();
    let order = match store.schema().layout {
        Layout::RillLog => "insert_order",
        Layout::Partitioned | Layout::SingleLog => "global_position",
    };
    let sql = format!(
        "SELECT school, {order}, (extract(epoch FROM recorded_at) * 1000000)::bigint, event_type, {} \
         FROM events WHERE {order} > $1 ORDER BY {order} LIMIT $2",
        store.schema().payload.to_text("payload")
    );
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<Vec<Row>>(IN_FLIGHT);
    let (decoded_tx, mut decoded_rx) = tokio::sync::mpsc::channel::<Result<Vec<Envelope>>>(IN_FLIGHT);
    let upcasters = store.upcasters().clone();
    let deserialiser = std::thread::Builder::new()
        .name("stroom-rill-deserialiser".into())
        .spawn(move || {
            while let Some(rows) = rows_rx.blocking_recv() {
                let page = rows
                    .iter()
                    .map(|(school, position, at, event_type, payload)| {
                        decode::envelope(&upcasters, *school, *position, *at, event_type, payload.as_bytes())
                    })
                    .collect::<Result<Vec<_>>>();
                if decoded_tx.blocking_send(page).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| Error::BatchFailed { reason: format!("starting rill's deserialiser: {e}") })?;
    let pool = store.pool().clone();
    let reader = tokio::spawn(async move {
        let mut cursor = i64::MIN;
        loop {
            let rows: Vec<Row> = sqlx::query_as(&sql)
                .bind(cursor)
                .bind(RILL_PAGE)
                .fetch_all(&pool)
                .await
                .map_err(Error::db("reading a page of the log"))?;
            let last = rows.len() < RILL_PAGE as usize;
            if let Some(row) = rows.last() {
                cursor = row.1;
            }
            if rows_tx.send(rows).await.is_err() || last {
                return Ok::<_, Error>(());
            }
        }
    });
    let mut model = ReadModel::default();
    let mut events = 0u64;
    while let Some(page) = decoded_rx.recv().await {
        let page = page?;
        for e in &page {
            fold.apply(&mut model, e);
        }
        events += page.len() as u64;
        done.fetch_add(page.len() as u64, Ordering::Relaxed);
    }
    reader.await.map_err(|e| Error::BatchFailed { reason: format!("rill's reader failed: {e}") })??;
    let _ = deserialiser.join();
    Ok(Replayed { digest: model.digest(), snapshot: None, model, events, elapsed: started.elapsed() })
}

/// Rebuilds the model as rill did: see the module's documentation.
pub async fn rill_catch_up(store: &Store, fold: Fold) -> Result<Replayed> {
    rill_catch_up_counted(store, fold, &AtomicU64::new(0)).await
}
