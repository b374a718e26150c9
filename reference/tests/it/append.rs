//! The write side against real PostgreSQL: every strategy, conflicts, idempotency, bad input,
//! positions, the global feed and ownership.

use std::collections::HashSet;

use futures::future::join_all;
use stroom_cluster::testing::TestDatabase;
use stroom_reference::append::RowWriter;
use stroom_reference::store::FeedCursor;
use stroom_reference::{
    Append, Appender, Error, Layout, NewEvent, PayloadType, Schema, Store, Strategy, Transactor, TransactorConfig,
};
use uuid::Uuid;

async fn store(layout: Layout) -> Store {
    let db = TestDatabase::create().await;
    let store = Store::install(db.pool().await, Schema::new(layout, PayloadType::Jsonb)).await.unwrap();
    store.add_schools(&[1, 2, 3]).await.unwrap();
    store
}

async fn appender(strategy: Strategy) -> (Store, Appender) {
    appender_with(strategy, RowWriter::default()).await
}

async fn appender_with(strategy: Strategy, writer: RowWriter) -> (Store, Appender) {
    let store = store(strategy.layout()).await;
    let config = TransactorConfig { writer, lane_writer: writer, ..Default::default() };
    let appender = Appender::start(strategy, &store, config).await.unwrap();
    (store, appender)
}

/// Every strategy, with both row writers (for per-school, the lanes').
fn variants() -> Vec<(Strategy, RowWriter)> {
    let mut v: Vec<(Strategy, RowWriter)> = Strategy::ALL.iter().map(|s| (*s, RowWriter::Copy)).collect();
    v.extend([(Strategy::Batched, RowWriter::Unnest), (Strategy::PerSchool, RowWriter::Unnest)]);
    v
}

fn event(n: u32) -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        event_type: "SectionTest/QuestionAssigned".into(),
        recorded_at_us: 1_700_000_000_000_000 + i64::from(n),
        payload: format!(r#"{{"question": {n}, "student": "s"}}"#),
        metadata: r#"{"by": "test"}"#.into(),
    }
}

fn append(school: i32, stream: Uuid, expected_version: i64, events: Vec<NewEvent>) -> Append {
    Append { school, stream, expected_version, events }
}

#[tokio::test]
async fn every_strategy_reads_back_exactly_what_it_appended() {
    for (strategy, writer) in variants() {
        let (store, appender) = appender_with(strategy, writer).await;
        let stream = Uuid::new_v4();
        let events: Vec<NewEvent> = (0..5).map(event).collect();
        let first = appender.append(append(2, stream, 0, events[..3].to_vec())).await.unwrap();
        let second = appender.append(append(2, stream, 3, events[3..].to_vec())).await.unwrap();
        assert_eq!((first.version, second.version), (3, 5), "{strategy:?}");
        let back = store.read_stream(2, stream).await.unwrap();
        assert_eq!(back.len(), 5, "{strategy:?}");
        for (i, (want, got)) in events.iter().zip(&back).enumerate() {
            assert_eq!((got.id, got.version, got.school, got.stream), (want.id, i as i64 + 1, 2, stream));
            assert_eq!(got.event_type, want.event_type);
            assert_eq!(got.recorded_at_us, want.recorded_at_us);
            let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
            assert_eq!(json(&got.payload), json(&want.payload));
            assert_eq!(json(&got.metadata), json(&want.metadata));
        }
        let positions: Vec<i64> = first.positions.iter().chain(&second.positions).copied().collect();
        let stored: Vec<i64> = back.iter().map(|e| e.position.unwrap_or(e.global_position)).collect();
        assert_eq!(positions, stored, "{strategy:?}: acknowledged positions are the stored ones");
        appender.stop().await;
    }
}

#[tokio::test]
async fn an_expected_version_ahead_of_the_stream_is_a_conflict_in_every_strategy() {
    for (strategy, writer) in variants() {
        let (store, appender) = appender_with(strategy, writer).await;
        let stream = Uuid::new_v4();
        appender.append(append(1, stream, 0, vec![event(0)])).await.unwrap();
        let ahead = appender.append(append(1, stream, 5, vec![event(1), event(2)])).await;
        assert!(
            matches!(ahead, Err(Error::Conflict { expected: 5, actual: 1, .. })),
            "{strategy:?}/{writer:?}: {ahead:?}"
        );
        assert_eq!(store.stream_version(stream).await.unwrap(), 1, "{strategy:?}/{writer:?}: no gap was written");
        appender.stop().await;
    }
}

#[tokio::test]
async fn concurrent_appends_on_one_stream_have_one_winner_per_version() {
    for (strategy, writer) in variants() {
        let (store, appender) = appender_with(strategy, writer).await;
        let stream = Uuid::new_v4();
        for expected in 0..3 {
            let tries = (0..6).map(|n| appender.append(append(1, stream, expected, vec![event(n)])));
            let results = join_all(tries).await;
            let wins = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "{strategy:?} at version {expected}: {results:?}");
            for r in results.iter().filter_map(|r| r.as_ref().err()) {
                match r {
                    Error::Conflict { expected: e, actual, .. } => assert_eq!((*e, *actual), (expected, expected + 1)),
                    other => panic!("{strategy:?}: expected a conflict, got {other}"),
                }
            }
        }
        assert_eq!(store.read_stream(1, stream).await.unwrap().len(), 3, "{strategy:?}");
        appender.stop().await;
    }
}

#[tokio::test]
async fn a_conflict_fails_only_its_own_append_in_a_batch() {
    let (store, appender) = appender(Strategy::PerSchool).await;
    let streams: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    let appends = streams.iter().enumerate().map(|(i, &s)| {
        let expected = if i == 7 { 5 } else { 0 };
        appender.append(append(3, s, expected, vec![event(i as u32), event(100 + i as u32)]))
    });
    let results = join_all(appends).await;
    for (i, r) in results.iter().enumerate() {
        if i == 7 {
            assert!(matches!(r, Err(Error::Conflict { expected: 5, actual: 0, .. })), "{r:?}");
        } else {
            assert_eq!(r.as_ref().unwrap().version, 2);
        }
    }
    assert_eq!(store.count().await.unwrap(), 38);
}

#[tokio::test]
async fn per_school_positions_are_gapless_and_follow_transaction_order() {
    let (store, appender) = appender(Strategy::PerSchool).await;
    let appends = (0..200u32).map(|n| {
        let school = 1 + (n % 3) as i32;
        appender.append(append(school, Uuid::new_v4(), 0, vec![event(n), event(n + 1000)]))
    });
    let acked: Vec<_> = join_all(appends).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(acked.len(), 200);
    for school in 1..=3 {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT position, xid::text::bigint FROM events WHERE school = $1 ORDER BY position")
                .bind(school)
                .fetch_all(store.pool())
                .await
                .unwrap();
        for (i, (position, _)) in rows.iter().enumerate() {
            assert_eq!(*position, i as i64 + 1, "school {school} has a gap");
        }
        assert!(rows.windows(2).all(|w| w[0].1 <= w[1].1), "school {school}: positions out of transaction order");
        let mut reader = store.read_school(school, 0, 7);
        let mut read = 0;
        loop {
            let page = reader.next_page().await.unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 7);
            read += page.len();
        }
        assert_eq!(read, rows.len());
    }
}

#[tokio::test]
async fn the_feed_never_skips_an_event_whose_transaction_commits_late() {
    for layout in [Layout::Partitioned, Layout::SingleLog] {
        let store = store(layout).await;
        // A writer holds a transaction open with an event in it...
        let mut slow = store.pool().begin().await.unwrap();
        let late_id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO events (school, position, id, stream, version, event_type, recorded_at, payload) \
             VALUES (1, 1000, $1, $2, 1, 'SectionTest/Started', now(), '{}')",
        )
        .bind(late_id)
        .bind(Uuid::new_v4())
        .execute(&mut *slow)
        .await
        .unwrap();
        // ...while a later one commits first.
        let strategy = if layout == Layout::Partitioned { Strategy::PerSchool } else { Strategy::Single };
        let appender = Appender::start(strategy, &store, TransactorConfig::default()).await.unwrap();
        let early = event(1);
        appender.append(append(2, Uuid::new_v4(), 0, vec![early.clone()])).await.unwrap();

        let (seen, cursor) = store.read_feed(FeedCursor::default(), 100).await.unwrap();
        assert!(seen.is_empty(), "{layout}: the feed ran ahead of an open transaction: {seen:?}");
        slow.commit().await.unwrap();
        // The feed stops below the oldest transaction still open anywhere in the cluster, and
        // other tests run theirs in other databases of it: read until it has caught up.
        let (mut ids, mut cursor) = (Vec::new(), cursor);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while ids.len() < 2 && std::time::Instant::now() < deadline {
            let (seen, next) = store.read_feed(cursor, 100).await.unwrap();
            ids.extend(seen.iter().map(|e| e.id));
            cursor = next;
            if ids.len() < 2 {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        assert_eq!(ids, vec![late_id, early.id], "{layout}: both, in transaction order");
        appender.stop().await;
    }
}

#[tokio::test]
async fn a_retry_with_the_same_event_ids_is_idempotent() {
    for strategy in Strategy::ALL {
        let (store, appender) = appender(strategy).await;
        let stream = Uuid::new_v4();
        let events = vec![event(1), event(2)];
        let first = appender.append(append(1, stream, 0, events.clone())).await.unwrap();
        let before = store.count().await.unwrap();
        let again = appender.append(append(1, stream, 0, events.clone())).await.unwrap();
        assert_eq!(again.positions, first.positions, "{strategy:?}");
        assert_eq!(store.count().await.unwrap(), before, "{strategy:?}: a retry wrote duplicates");
        appender.stop().await;
    }
}

#[tokio::test]
async fn bad_input_gets_a_typed_error_and_writes_nothing() {
    for strategy in Strategy::ALL {
        let (store, appender) = appender(strategy).await;
        let stream = Uuid::new_v4();
        appender.append(append(1, stream, 0, vec![event(1)])).await.unwrap();
        let before = store.count().await.unwrap();

        let unknown = appender.append(append(99, Uuid::new_v4(), 0, vec![event(2)])).await;
        assert!(matches!(unknown, Err(Error::UnknownSchool { school: 99 })), "{strategy:?}: {unknown:?}");

        let mut big = event(3);
        big.payload = format!(r#"{{"x": "{}"}}"#, "y".repeat(70_000));
        let too_big = appender.append(append(1, Uuid::new_v4(), 0, vec![event(4), big])).await;
        assert!(matches!(too_big, Err(Error::PayloadTooLarge { .. })), "{strategy:?}: {too_big:?}");

        let foreign = appender.append(append(2, stream, 1, vec![event(5)])).await;
        assert!(matches!(foreign, Err(Error::WrongSchool { school: 2, owner: 1, .. })), "{strategy:?}: {foreign:?}");
        assert_eq!(store.count().await.unwrap(), before, "{strategy:?}: bad input wrote something");
        appender.stop().await;
    }
}

#[tokio::test]
async fn old_agreements_read_as_revision_1() {
    let (store, appender) = appender(Strategy::PerSchool).await;
    let stream = Uuid::new_v4();
    let mut old = event(1);
    old.event_type = "UserAgreement/Accepted".into();
    old.payload = r#"{"student": "s"}"#.into();
    let mut new = event(2);
    new.event_type = "UserAgreement/Accepted".into();
    new.payload = r#"{"student": "s", "revision": 2}"#.into();
    appender.append(append(1, stream, 0, vec![old, new])).await.unwrap();
    let back = store.read_stream(1, stream).await.unwrap();
    let revisions: Vec<i64> = back
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(&e.payload).unwrap()["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(revisions, vec![1, 2]);
    let raw = store.clone().with_upcasters(stroom_reference::Upcasters::none()).read_stream(1, stream).await.unwrap();
    assert!(!raw[0].payload.contains("revision"), "the stored event itself is unchanged");
}

#[tokio::test]
async fn only_one_writer_owns_a_school() {
    let store = store(Layout::Partitioned).await;
    let first = Transactor::start_school(store.clone(), 1, TransactorConfig::default()).await.unwrap();
    let no_wait = TransactorConfig { lease_wait: std::time::Duration::ZERO, ..Default::default() };
    let second = Transactor::start_school(store.clone(), 1, no_wait).await;
    assert!(matches!(second, Err(Error::OwnershipLost { school: 1 })), "{second:?}");
    let other_school = Transactor::start_school(store.clone(), 2, TransactorConfig::default()).await;
    assert!(other_school.is_ok());
    first.stop().await;
    let after_release = Transactor::start_school(store.clone(), 1, TransactorConfig::default()).await;
    assert!(after_release.is_ok(), "a released school can be taken over");
    let unknown = Transactor::start_school(store, 42, TransactorConfig::default()).await;
    assert!(matches!(unknown, Err(Error::UnknownSchool { school: 42 })), "{unknown:?}");
}

#[tokio::test]
async fn a_writer_whose_lease_was_taken_cannot_commit() {
    for writer in [RowWriter::Copy, RowWriter::Unnest] {
        lease_taken(writer).await;
    }
}

async fn lease_taken(writer: RowWriter) {
    let store = store(Layout::Partitioned).await;
    let config = TransactorConfig { writer, ..Default::default() };
    let old = Transactor::start_school(store.clone(), 1, config.clone()).await.unwrap();
    old.append(append(1, Uuid::new_v4(), 0, vec![event(1)])).await.unwrap();
    // The old writer stalls past its lease (here: its lease is made to have run out).
    sqlx::query("UPDATE school_heads SET lease_until = now() - interval '1 second' WHERE school = 1")
        .execute(store.pool())
        .await
        .unwrap();
    let new = Transactor::start_school(store.clone(), 1, config).await.unwrap();
    let stale = old.append(append(1, Uuid::new_v4(), 0, vec![event(2)])).await;
    assert!(matches!(stale, Err(Error::OwnershipLost { school: 1 })), "{stale:?}");
    new.append(append(1, Uuid::new_v4(), 0, vec![event(3)])).await.unwrap();
    let ids: HashSet<i64> = sqlx::query_scalar("SELECT position FROM events WHERE school = 1")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(ids, HashSet::from([1, 2]));
}

#[tokio::test]
async fn a_new_stream_claimed_by_two_schools_at_once_lands_in_one() {
    for (strategy, writer) in variants() {
        let (store, appender) = appender_with(strategy, writer).await;
        for _ in 0..10 {
            let stream = Uuid::new_v4();
            let (a, b) = tokio::join!(
                appender.append(append(1, stream, 0, vec![event(1)])),
                appender.append(append(2, stream, 0, vec![event(2)])),
            );
            assert!(a.is_ok() != b.is_ok(), "{strategy:?}/{writer:?}: exactly one claim wins: {a:?} {b:?}");
            let (winner, loser) = if a.is_ok() { (1, b) } else { (2, a) };
            assert!(
                matches!(loser, Err(Error::WrongSchool { .. } | Error::BatchFailed { .. })),
                "{strategy:?}/{writer:?}: {loser:?}"
            );
            let schools: Vec<i32> = sqlx::query_scalar("SELECT DISTINCT school FROM events WHERE stream = $1")
                .bind(stream)
                .fetch_all(store.pool())
                .await
                .unwrap();
            assert_eq!(schools, vec![winner], "{strategy:?}/{writer:?}: the stream's events stay in one school");
            // Asked again, the loser hears whose stream it is.
            let retry = appender.append(append(3 - winner, stream, 0, vec![event(3)])).await;
            assert!(matches!(retry, Err(Error::WrongSchool { owner, .. }) if owner == winner), "{retry:?}");
        }
        appender.stop().await;
    }
}

#[tokio::test]
async fn a_writer_that_takes_a_stream_for_new_wrongly_fails_only_that_append() {
    for (strategy, writer) in variants() {
        let (store, appender) = appender_with(strategy, writer).await;
        let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
        appender.append(append(1, mine, 0, vec![event(1), event(2)])).await.unwrap();
        appender.append(append(2, theirs, 0, vec![event(3)])).await.unwrap();
        let first = append(1, Uuid::new_v4(), 0, vec![event(4)]);
        let stored = appender.append(first.clone()).await.unwrap();
        appender.stop().await;

        // A new writer knows no stream, so every append that says it starts one is believed.
        let config = TransactorConfig { writer, lane_writer: writer, ..Default::default() };
        let appender = Appender::start(strategy, &store, config).await.unwrap();
        let fresh = Uuid::new_v4();
        let (existing, foreign, new, retried) = tokio::join!(
            appender.append(append(1, mine, 0, vec![event(5)])),
            appender.append(append(1, theirs, 0, vec![event(6)])),
            appender.append(append(1, fresh, 0, vec![event(7)])),
            appender.append(first),
        );
        let what = format!("{strategy:?}/{writer:?}");
        assert!(matches!(existing, Err(Error::Conflict { expected: 0, actual: 2, .. })), "{what}: {existing:?}");
        assert!(matches!(foreign, Err(Error::WrongSchool { owner: 2, .. })), "{what}: {foreign:?}");
        assert_eq!(new.map(|a| a.version).ok(), Some(1), "{what}");
        assert_eq!(retried.unwrap().positions, stored.positions, "{what}: the retry is idempotent");
        assert_eq!(store.read_stream(1, mine).await.unwrap().len(), 2, "{what}");
        assert_eq!(store.count().await.unwrap(), 5, "{what}");
        appender.stop().await;
    }
}
