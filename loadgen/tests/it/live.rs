//! Rebuild, then live: a rebuild while writers append, a projector that goes on from the
//! rebuild's feed cursor while they keep appending and, once they stop and it has drained,
//! the model a fresh sequential rebuild of the final log gives. On every layout, through the
//! commit lanes and without them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stroom_cluster::testing::TestDatabase;
use stroom_loadgen::generator::{Generator, GeneratorConfig};
use stroom_loadgen::{backfill, fresh_store};
use stroom_reference::read_model::{Fold, Handlers};
use stroom_reference::replay::{self, Replayed};
use stroom_reference::{Append, Appender, PayloadType, Projector, Schema, Store, Strategy, TransactorConfig};

const SCHOOLS: u32 = 6;

fn generator() -> Generator {
    Generator::new(GeneratorConfig {
        schools: SCHOOLS,
        students: 900,
        events_per_school_day: 6_000.0,
        threads: 2,
        ..Default::default()
    })
}

/// Two days loaded; the third day's events as one-event appends, a list per school in time
/// order (one writer per school, as a school's students act one at a time).
async fn two_days_and_the_third(store: &Store) -> Vec<Vec<Append>> {
    let mut generator = generator();
    backfill(store, &mut generator, None, Some(2), None, None, None).await.unwrap();
    generator
        .next_day()
        .schools
        .into_iter()
        .map(|(_, mut events)| {
            events.sort_by_key(|e| e.recorded_at_us);
            events.iter().map(|e| e.to_append()).collect()
        })
        .collect()
}

async fn rebuild_then_live(strategy: Strategy, commit_lanes: usize, rebuild: &str) {
    let what = format!("{} (lanes {commit_lanes}, {rebuild} rebuild)", strategy.name());
    let db = TestDatabase::create().await;
    let schema = Schema::new(strategy.layout(), PayloadType::Jsonb);
    let store = fresh_store(&db.url(), "live", schema, 24).await.unwrap();
    let day = two_days_and_the_third(&store).await;
    let total: usize = day.iter().map(Vec::len).sum();
    let loaded = store.count().await.unwrap() as u64;

    let config = TransactorConfig { commit_lanes, ..Default::default() };
    let appender = Appender::start(strategy, &store, config).await.unwrap();
    let appended = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = day
        .into_iter()
        .map(|appends| {
            let (appender, appended) = (appender.clone(), appended.clone());
            tokio::spawn(async move {
                for a in appends {
                    appender.append(a).await.unwrap();
                    appended.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // Rebuild once the writers are well under way.
    while appended.load(Ordering::Relaxed) < total as u64 / 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let fold = Fold::new(Handlers::V2);
    let rebuilt: Replayed = match rebuild {
        "parallel" => replay::parallel(&store, fold, 3).await.unwrap(),
        _ => replay::sequential(&store, fold).await.unwrap(),
    };
    let snapshot = rebuilt.snapshot.clone().expect("a rebuild of stroom's store ends at a feed snapshot");
    assert!(rebuilt.events >= loaded, "{what}: the rebuild holds the loaded history");
    assert!(rebuilt.events < loaded + total as u64, "{what}: the writers were still going when it started");

    // Live, while the writers go on; a second projector with the v1 handlers from the start.
    let mut live = Projector::after_replay(store.clone(), fold, rebuilt).unwrap().with_batch(200);
    let mut v1 = Projector::from_start(store.clone(), Fold::new(Handlers::V1));
    let mut folded_while_writing = 0u64;
    while writers.iter().any(|w| !w.is_finished()) {
        folded_while_writing += live.step().await.unwrap() as u64;
        v1.step().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    appender.stop().await;
    assert!(folded_while_writing > 0, "{what}: the projector folded appends while they were made");
    // Other tests write to other databases of this cluster, and the feed cannot pass their
    // open transactions either (the xmin is cluster-wide): drain to the count written.
    let final_count = loaded + total as u64;
    drain(&mut live, final_count).await;
    drain(&mut v1, final_count).await;
    assert!(live.cursor() > snapshot.cursor(), "{what}: the cursor moves on from the rebuild's");

    // A fresh rebuild: every append was acknowledged, so its snapshot holds them all.
    let fresh = replay::sequential(&store, fold).await.unwrap();
    assert_eq!(fresh.events, loaded + total as u64, "{what}: every append is in the final log");
    assert_eq!(live.model().events, fresh.events, "{what}: every event folded once");
    assert_eq!(live.model().digest(), fresh.digest, "{what}: rebuild then live equals a fresh rebuild");
    let fresh_v1 = replay::sequential(&store, Fold::new(Handlers::V1)).await.unwrap();
    assert_eq!(v1.model().digest(), fresh_v1.digest, "{what}: the v1 projector from the start");
    assert_ne!(v1.model().digest(), fresh.digest, "{what}: v1 and v2 are different models");
}

/// Steps `projector` until it has folded `events` events.
async fn drain(projector: &mut Projector, events: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while projector.model().events < events {
        assert!(
            tokio::time::Instant::now() < deadline,
            "drained {} of {events} events in 60 s",
            projector.model().events
        );
        if projector.step().await.unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_eq!(projector.model().events, events, "nothing folded twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_school_through_the_commit_lanes() {
    rebuild_then_live(Strategy::PerSchool, 2, "parallel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_school_each_committing_alone() {
    rebuild_then_live(Strategy::PerSchool, 0, "parallel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_on_the_single_log() {
    rebuild_then_live(Strategy::Batched, 0, "parallel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_on_the_single_log_rebuilt_sequentially() {
    rebuild_then_live(Strategy::Single, 0, "sequential").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rill_on_its_own_log() {
    rebuild_then_live(Strategy::Rill, 0, "parallel").await;
}

/// A long transaction anywhere on the cluster holds the feed back, and the projector can name
/// it; a rebuild meanwhile holds what committed after it began, and going live from that
/// rebuild folds nothing twice once the transaction ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_holds_the_feed_and_is_named() {
    let db = TestDatabase::create().await;
    let schema = Schema::new(Strategy::PerSchool.layout(), PayloadType::Jsonb);
    let store = fresh_store(&db.url(), "stall", schema, 8).await.unwrap();
    let day = two_days_and_the_third(&store).await;
    let loaded = store.count().await.unwrap() as u64;
    let mut live = Projector::from_start(store.clone(), Fold::new(Handlers::V2));
    drain(&mut live, loaded).await;

    // Another session takes a transaction id and keeps it open.
    let mut holder = store.pool().begin().await.unwrap();
    let xid: i64 =
        sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint").fetch_one(&mut *holder).await.unwrap();
    let appender = Appender::start(Strategy::PerSchool, &store, TransactorConfig::default()).await.unwrap();
    let mut appends = day.into_iter().flatten();
    let first = appends.next().unwrap();
    appender.append(first).await.unwrap();
    assert_eq!(live.catch_up().await.unwrap(), 0, "the feed cannot pass the open transaction");
    // Other tests' short transactions on this cluster may be older for a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let blocker = loop {
        let blocker = store.feed_blocker().await.unwrap().expect("the open transaction is named");
        if blocker.xid == xid || tokio::time::Instant::now() > deadline {
            break blocker;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(blocker.xid, xid, "{blocker}");
    assert!(blocker.to_string().starts_with(&format!("waiting on transaction {xid} in database ")), "{blocker}");

    // A rebuild now is not held back: it holds the append that committed after the open
    // transaction began, and a projector going live from it must not fold that append again.
    let fold = Fold::new(Handlers::V2);
    let rebuilt = replay::parallel(&store, fold, 2).await.unwrap();
    assert_eq!(rebuilt.events, loaded + 1, "the rebuild holds the committed append");
    let mut after = Projector::after_replay(store.clone(), fold, rebuilt).unwrap();

    holder.rollback().await.unwrap();
    drain(&mut live, loaded + 1).await;
    let second = appends.next().unwrap();
    appender.append(second).await.unwrap();
    drain(&mut after, loaded + 2).await;
    drain(&mut live, loaded + 2).await;
    appender.stop().await;
    let fresh = replay::sequential(&store, fold).await.unwrap();
    assert_eq!(fresh.events, loaded + 2);
    assert_eq!(after.model().digest(), fresh.digest, "nothing skipped, nothing folded twice");
    assert_eq!(live.model().digest(), fresh.digest);
}

/// A projector keeps its feed connection between polls; when the server ends that session, the
/// poll fails once, and the next one goes on from the same cursor on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_whose_session_is_ended_goes_on_on_a_new_one() {
    let db = TestDatabase::create().await;
    let schema = Schema::new(Strategy::PerSchool.layout(), PayloadType::Jsonb);
    let store = fresh_store(&db.url(), "ended", schema, 8).await.unwrap();
    let day = two_days_and_the_third(&store).await;
    let loaded = store.count().await.unwrap() as u64;
    let mut live = Projector::from_start(store.clone(), Fold::new(Handlers::V2));
    drain(&mut live, loaded).await;
    let feed_sessions = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND (query LIKE '%pg_snapshot_xmin%' OR query LIKE '%AS xid_value%')";
    let ended: i64 = sqlx::query_scalar(feed_sessions).fetch_one(store.pool()).await.unwrap();
    assert_eq!(ended, 1, "the projector's one feed session");

    let appender = Appender::start(Strategy::PerSchool, &store, TransactorConfig::default()).await.unwrap();
    appender.append(day.into_iter().flatten().next().unwrap()).await.unwrap();
    appender.stop().await;
    assert!(live.step().await.is_err(), "the poll on the ended session fails");
    drain(&mut live, loaded + 1).await;
    let fresh = replay::sequential(&store, Fold::new(Handlers::V2)).await.unwrap();
    assert_eq!(live.model().digest(), fresh.digest, "nothing skipped, nothing folded twice");
}
