//! Replays of a generated history from PostgreSQL and from memory agree with each other.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use stroom_cluster::message_db::{cache_dir, Package};
use stroom_cluster::testing::TestDatabase;
use stroom_cluster::Binaries;
use stroom_loadgen::backfill;
use stroom_loadgen::generator::{Generator, GeneratorConfig};
use stroom_reference::append::message_db::MessageDb;
use stroom_reference::read_model::{Fold, Handlers};
use stroom_reference::replay::{self, MemoryLog};
use stroom_reference::{Error, Layout, PayloadType, Schema, School, Store, StoredEvent, Upcasters};

fn generator() -> Generator {
    Generator::new(GeneratorConfig {
        schools: 8,
        students: 1_500,
        events_per_school_day: 12_000.0,
        threads: 2,
        ..Default::default()
    })
}

async fn loaded(layout: Layout, payload: PayloadType) -> (Store, Vec<StoredEvent>) {
    let db = TestDatabase::create().await;
    let store = Store::install(db.pool().await, Schema::new(layout, payload)).await.unwrap();
    let mut kept = Vec::new();
    backfill(&store, &mut generator(), None, Some(3), Some(&mut kept), None, None).await.unwrap();
    (store, kept)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rill_parallel_sequential_and_in_memory_replays_give_one_digest() {
    for (layout, payload) in [
        (Layout::Partitioned, PayloadType::Jsonb),
        (Layout::SingleLog, PayloadType::Bytea),
        (Layout::Partitioned, PayloadType::Json),
    ] {
        let (store, kept) = loaded(layout, payload).await;
        assert_eq!(store.count().await.unwrap() as usize, kept.len());
        let seq = replay::sequential(&store, Fold::new(Handlers::V2)).await.unwrap();
        assert_eq!(seq.events as usize, kept.len(), "{layout} {payload}");
        assert!(seq.model.students.len() > 1_000);
        assert!(seq.model.practice_hours() > 1.0);
        // rill's catch-up: pages of 100 by the global order (`insert_order` on its own log).
        let rill = replay::rill_catch_up(&store, Fold::new(Handlers::V2)).await.unwrap();
        assert_eq!((rill.events, &rill.digest), (seq.events, &seq.digest), "{layout} {payload}: rill's replay");
        for workers in [1, 3] {
            let par = replay::parallel(&store, Fold::new(Handlers::V2), workers).await.unwrap();
            assert_eq!(par.events, seq.events);
            assert_eq!(par.digest, seq.digest, "{layout} {payload}: parallel({workers}) differs from sequential");
        }
        let memory = MemoryLog::new(kept);
        let upcasters = Upcasters::standard();
        assert_eq!(
            memory.sequential(Fold::new(Handlers::V2), &upcasters).unwrap().digest,
            seq.digest,
            "in-memory sequential"
        );
        assert_eq!(
            memory.parallel(Fold::new(Handlers::V2), &upcasters, 4).unwrap().digest,
            seq.digest,
            "in-memory parallel"
        );
        let v1 = replay::parallel(&store, Fold::new(Handlers::V1), 2).await.unwrap();
        assert_ne!(v1.digest, seq.digest, "v2 adds activity");
        assert_eq!(v1.model.practice_hours(), 0.0);
    }
}

/// On rill's own log, a bulk import is one statement, and the published trigger numbers its
/// rows by (stream, version), not in arrival order: rill's replay reads every event once, in
/// that order, which is not the global position's (the fold sees a student's streams in
/// another order, so its digest may differ: rill would have rebuilt the same).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rills_replay_of_its_own_log_reads_every_event_once_in_insert_order() {
    let (store, kept) = loaded(Layout::RillLog, PayloadType::Jsonb).await;
    let rill = replay::rill_catch_up(&store, Fold::new(Handlers::V2)).await.unwrap();
    assert_eq!(rill.events as usize, kept.len());
    let (n, lo, hi): (i64, i64, i64) =
        sqlx::query_as("SELECT count(DISTINCT insert_order), min(insert_order), max(insert_order) FROM events")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!((n, lo, hi), (kept.len() as i64, 1, kept.len() as i64), "every row numbered, gapless");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_agreements_replay_only_through_the_upcaster() {
    let (store, _) = loaded(Layout::Partitioned, PayloadType::Jsonb).await;
    let raw = store.clone().with_upcasters(Upcasters::none());
    match replay::parallel(&raw, Fold::new(Handlers::V2), 2).await {
        Err(Error::Decode { event_type, .. }) => {
            assert!(event_type.starts_with("UserAgreement/Accepted"), "{event_type}")
        }
        other => panic!("expected a decode error, got {:?}", other.map(|r| r.events)),
    }
    let ok = replay::parallel(&store, Fold::new(Handlers::V2), 2).await.unwrap();
    assert!(ok.model.students.values().filter_map(|s| s.account.as_ref()).all(|a| a.agreement == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_event_type_stops_the_replay_and_names_type_and_position() {
    let (store, _) = loaded(Layout::Partitioned, PayloadType::Jsonb).await;
    sqlx::query(
        "INSERT INTO events (school, position, id, stream, version, event_type, recorded_at, payload) \
         VALUES (3, 999999, gen_random_uuid(), gen_random_uuid(), 1, 'SectionTest/Paused', now(), '{}')",
    )
    .execute(store.pool())
    .await
    .unwrap();
    for result in [
        replay::sequential(&store, Fold::new(Handlers::V2)).await,
        replay::parallel(&store, Fold::new(Handlers::V2), 2).await,
    ] {
        match result {
            Err(Error::UnknownEventType { event_type, school, position }) => {
                assert_eq!((event_type.as_str(), school, position), ("SectionTest/Paused", 3, 999999));
            }
            other => panic!("expected an unknown-type error, got {:?}", other.map(|r| r.events)),
        }
    }
}

/// The same history copied into Message DB 1.3 (fetched with npm, installed by its own
/// `install.sh`; without npm this fails, saying so) and read back as its consumers read, by
/// category pages of 1000: every event once, and the model stroom's own replays build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_dbs_category_replay_gives_the_same_digest() {
    let (store, kept) = loaded(Layout::Partitioned, PayloadType::Jsonb).await;
    let seq = replay::sequential(&store, Fold::new(Handlers::V2)).await.unwrap();
    let db = TestDatabase::create().await;
    let name = format!("{}_mdb", db.name);
    let package = Package::fetch(&cache_dir()).unwrap_or_else(|e| panic!("{e}"));
    let psql = Binaries::discover().expect("PostgreSQL binaries").program("psql");
    package
        .install(&db.options, &name, psql.parent().expect("psql's directory"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = sqlx::ConnectOptions::to_url_lossy(&db.options.clone().database(&name));
    let mdb = MessageDb::connect(url.as_ref(), 4).await.unwrap();
    mdb.bulk_load(&kept).await.unwrap();
    let schools: Vec<School> = kept.iter().map(|e| e.school).collect::<BTreeSet<_>>().into_iter().collect();
    assert!(kept.len() / schools.len() > replay::MESSAGE_DB_PAGE as usize, "a school spans several pages");
    for workers in [1, 3] {
        let done = Arc::new(AtomicU64::new(0));
        let r = replay::message_db_categories(
            &mdb,
            &Upcasters::standard(),
            &schools,
            Fold::new(Handlers::V2),
            workers,
            done.clone(),
        )
        .await
        .unwrap();
        assert_eq!((r.events, &r.digest), (seq.events, &seq.digest), "Message DB on {workers} workers");
        assert_eq!(done.load(std::sync::atomic::Ordering::Relaxed), r.events);
    }
}
