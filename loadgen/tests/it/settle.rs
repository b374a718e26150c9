//! Settling before a measured step leaves stroom's tables vacuumed and analyzed, so
//! autovacuum has nothing to start on inside the step.

use std::time::{Duration, Instant};

use stroom_cluster::testing::TestDatabase;
use stroom_loadgen::generator::{Generator, GeneratorConfig};
use stroom_loadgen::{backfill, fresh_store, settle};
use stroom_reference::{Layout, PayloadType, Schema};

/// Per school partition: (inserts not yet vacuumed, changes not yet analyzed, manual vacuums).
async fn partitions(pool: &sqlx::PgPool) -> Vec<(i64, i64, i64)> {
    sqlx::query_as(
        "SELECT n_ins_since_vacuum, n_mod_since_analyze, vacuum_count FROM pg_stat_user_tables \
         WHERE schemaname = 'stroom_settle' AND relname LIKE 'events\\_s%' ORDER BY relname",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_vacuums_and_analyzes_what_was_inserted() {
    let db = TestDatabase::create().await;
    let schema = Schema::new(Layout::Partitioned, PayloadType::Jsonb);
    let store = fresh_store(&db.url(), "settle", schema, 4).await.unwrap();
    let config =
        GeneratorConfig { schools: 4, students: 400, events_per_school_day: 5_000.0, threads: 2, ..Default::default() };
    backfill(&store, &mut Generator::new(config), Some(20_000), None, None, None, None).await.unwrap();
    let loaded = store.count().await.unwrap();
    let observer = db.pool().await;
    // Backends report their counts within a second of a transaction, or once idle for ten.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reported: i64 = partitions(&observer).await.iter().map(|p| p.0).sum();
        if reported >= loaded {
            break;
        }
        assert!(Instant::now() < deadline, "only {reported} of {loaded} inserts reached pg_stat_user_tables");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    settle(&store).await.unwrap();

    let after = partitions(&observer).await;
    assert!(after.len() >= 4, "{after:?}");
    for (ins, modified, vacuums) in after {
        assert_eq!((ins, modified), (0, 0), "a partition left with inserts not vacuumed or changes not analyzed");
        assert_eq!(vacuums, 1, "settle did not vacuum a partition");
    }
}
