//! Settling before a measured step leaves stroom's tables vacuumed and analyzed, so
//! autovacuum has nothing to start on inside the step.

use std::time::{Duration, Instant};

use stroom_cluster::testing::TestDatabase;
use stroom_loadgen::generator::{Generator, GeneratorConfig};
use stroom_loadgen::{backfill, fresh_store, settle};
use stroom_reference::{Layout, PayloadType, Schema};

const PENDING: &str = "SELECT count(*) FROM pg_stat_user_tables \
                       WHERE schemaname = 'stroom_settle' AND relname LIKE 'events%' \
                         AND (n_ins_since_vacuum > 0 OR n_mod_since_analyze > 0)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_vacuums_and_analyzes_what_was_inserted() {
    let db = TestDatabase::create().await;
    let store =
        fresh_store(&db.url(), "settle", Schema::new(Layout::Partitioned, PayloadType::Jsonb), 4).await.unwrap();
    let config =
        GeneratorConfig { schools: 4, students: 400, events_per_school_day: 5_000.0, threads: 2, ..Default::default() };
    backfill(&store, &mut Generator::new(config), Some(20_000), None, None, None, None).await.unwrap();
    let observer = db.pool().await;
    // The inserting backends report their counts to the statistics within seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending: i64 = sqlx::query_scalar(PENDING).fetch_one(&observer).await.unwrap();
        if pending >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "the inserts never reached pg_stat_user_tables");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    settle(&store).await.unwrap();

    let pending: i64 = sqlx::query_scalar(PENDING).fetch_one(&observer).await.unwrap();
    assert_eq!(pending, 0, "tables left with inserts not vacuumed or changes not analyzed");
    let vacuumed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_user_tables \
         WHERE schemaname = 'stroom_settle' AND relname LIKE 'events%' AND vacuum_count > 0 AND analyze_count > 0",
    )
    .fetch_one(&observer)
    .await
    .unwrap();
    assert!(vacuumed >= 4, "only {vacuumed} partitions were vacuumed and analyzed by settle");
}
