//! The rill strategy as `rill-psql` published it: a command is one transaction, and the log's
//! statement trigger numbers `insert_order` under an advisory lock held to COMMIT, so a reader
//! paging by `insert_order`, as rill's catch-up did, never skips an event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::join_all;
use stroom_cluster::testing::TestDatabase;
use stroom_reference::{Append, Appender, Error, NewEvent, PayloadType, Schema, Store, Strategy, TransactorConfig};
use uuid::Uuid;

async fn rill() -> (Store, Appender) {
    let db = TestDatabase::create().await;
    let store =
        Store::install(db.pool().await, Schema::new(Strategy::Rill.layout(), PayloadType::Jsonb)).await.unwrap();
    store.add_schools(&[1, 2, 3]).await.unwrap();
    let appender = Appender::start(Strategy::Rill, &store, TransactorConfig::default()).await.unwrap();
    (store, appender)
}

fn event() -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        event_type: "SectionTest/QuestionAssigned".into(),
        recorded_at_us: 1_700_000_000_000_000,
        payload: r#"{"q": 1}"#.into(),
        metadata: "{}".into(),
    }
}

/// rill's catch-up: the next page after `cursor` by `insert_order`.
async fn page(store: &Store, cursor: i64) -> Vec<(i64, Uuid)> {
    sqlx::query_as("SELECT insert_order, id FROM events WHERE insert_order > $1 ORDER BY insert_order LIMIT 100")
        .bind(cursor)
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insert_order_is_gapless_and_a_tailing_reader_sees_every_event_once() {
    let (store, appender) = rill().await;
    // A reader pages by insert_order while 16 writers append commands of 1 to 3 events.
    let writing = Arc::new(AtomicBool::new(true));
    let reader = tokio::spawn({
        let (store, writing) = (store.clone(), writing.clone());
        async move {
            let (mut cursor, mut seen) = (0i64, Vec::new());
            loop {
                let done = !writing.load(Ordering::Acquire);
                let rows = page(&store, cursor).await;
                if let Some(&(last, _)) = rows.last() {
                    cursor = last;
                }
                seen.extend(rows.iter().map(|(_, id)| *id));
                if done && rows.is_empty() {
                    return seen;
                }
            }
        }
    });
    let writers = (0..16).map(|w| {
        let appender = appender.clone();
        async move {
            let mut ids = Vec::new();
            for c in 0..15 {
                let events: Vec<NewEvent> = (0..1 + (w + c) % 3).map(|_| event()).collect();
                ids.extend(events.iter().map(|e| e.id));
                let a = Append { school: 1 + w % 3, stream: Uuid::new_v4(), expected_version: 0, events };
                appender.append(a).await.unwrap();
            }
            ids
        }
    });
    let mut written: Vec<Uuid> = join_all(writers).await.into_iter().flatten().collect();
    writing.store(false, Ordering::Release);
    let mut seen = reader.await.unwrap();
    assert_eq!(seen.len(), written.len(), "each event seen once by the tailing reader");
    seen.sort();
    written.sort();
    assert_eq!(seen, written);
    let orders: Vec<i64> = sqlx::query_scalar("SELECT insert_order FROM events ORDER BY insert_order")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(orders, (1..=written.len() as i64).collect::<Vec<_>>(), "gapless, none left without one");
}

#[tokio::test]
async fn a_failed_command_leaves_no_row() {
    let (store, appender) = rill().await;
    let taken = event();
    appender
        .append(Append { school: 1, stream: Uuid::new_v4(), expected_version: 0, events: vec![taken.clone()] })
        .await
        .unwrap();
    // Three events; the third reuses a stored event's id, so the server refuses it after the
    // first two were inserted (and numbered) in the same transaction.
    let stream = Uuid::new_v4();
    let failed =
        appender.append(Append { school: 1, stream, expected_version: 0, events: vec![event(), event(), taken] }).await;
    assert!(matches!(failed, Err(Error::Conflict { .. })), "{failed:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE stream = $1")
        .bind(stream)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0, "the command is one transaction");
    let unnumbered: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE insert_order IS NULL")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(unnumbered, 0);
}
