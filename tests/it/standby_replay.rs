//! A rebuild read from a hot standby while the primary takes appends, then gone live on the
//! primary from the standby's snapshot: the model equals a rebuild of the primary. The
//! standby is PostgreSQL's own streaming replica (`pg_basebackup -R`); its snapshots list the
//! primary's transactions as far as its replayed WAL knows them, so the feed cursor of a
//! rebuild there is a cursor of the primary's feed.

use std::time::Duration;

use sqlx::{Connection, PgPool};
use stroom_cluster::{Cluster, ClusterOptions, Profile};
use stroom_reference::domain::example_student;
use stroom_reference::read_model::Fold;
use stroom_reference::replay::parallel;
use stroom_reference::{
    Append, Layout, PayloadType, Projector, Schema, Store, StoredEvent, Transactor, TransactorConfig,
};

/// Waits until the standby replayed everything the primary wrote so far: the insert position,
/// since with synchronous_commit off a commit can sit in the WAL buffers past the write position.
async fn caught_up(primary: &PgPool, standby: &PgPool) {
    let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text").fetch_one(primary).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !sqlx::query_scalar::<_, bool>("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
        .bind(&lsn)
        .fetch_one(standby)
        .await
        .unwrap()
    {
        assert!(std::time::Instant::now() < deadline, "the standby did not replay {lsn} in 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_from_the_standby_goes_live_on_the_primary_with_the_primarys_digest() {
    let (primary, standby) = tokio::task::spawn_blocking(|| {
        let primary = Cluster::start(ClusterOptions { profile: Profile::Fast, keep: false, dir: None }).unwrap();
        let standby = primary.start_standby().unwrap();
        (primary, standby)
    })
    .await
    .unwrap();
    let mut admin = sqlx::PgConnection::connect(&primary.url()).await.unwrap();
    sqlx::query("CREATE DATABASE log").execute(&mut admin).await.unwrap();
    // The standby knows the database only once it replayed its creation.
    let primary_admin = PgPool::connect(&primary.url()).await.unwrap();
    let standby_admin = PgPool::connect(&standby.url()).await.unwrap();
    caught_up(&primary_admin, &standby_admin).await;
    let schema = Schema::new(Layout::Partitioned, PayloadType::Jsonb);
    let on_primary = Store::install(PgPool::connect(&primary.url_for("log")).await.unwrap(), schema).await.unwrap();
    on_primary.add_schools(&[1, 2, 3]).await.unwrap();
    let mut rows = Vec::new();
    for i in 0..600 {
        let (stream, events) = example_student(9);
        rows.extend(events.iter().enumerate().map(|(v, e)| StoredEvent::new(i % 3 + 1, stream, v as i64 + 1, e)));
    }
    on_primary.bulk_load(&rows).await.unwrap();
    let standby_pool = PgPool::connect(&standby.url_for("log")).await.unwrap();
    caught_up(on_primary.pool(), &standby_pool).await;
    // Read-only: the schema is there by replication, not installed.
    let on_standby = Store::open(standby_pool.clone(), schema);

    // Quiet: the standby's rebuild equals the primary's.
    let fold = Fold::default();
    let from_standby = parallel(&on_standby, fold, 2).await.unwrap();
    let from_primary = parallel(&on_primary, fold, 2).await.unwrap();
    assert_eq!((from_standby.events, &from_standby.digest), (from_primary.events, &from_primary.digest));
    assert_eq!(from_standby.events, 6000);

    // With appends running on the primary, rebuild from the standby, then go live on the primary.
    let writers: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|school| {
            let store = on_primary.clone();
            tokio::spawn(async move {
                let w = Transactor::start_school(store, school, TransactorConfig::default()).await.unwrap();
                for _ in 0..150 {
                    let (stream, events) = example_student(3);
                    w.append(Append { school, stream, expected_version: 0, events }).await.unwrap();
                }
                w.stop().await;
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rebuilt = parallel(&on_standby, fold, 2).await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let mut live = Projector::after_replay(on_primary.clone(), fold, rebuilt).unwrap();
    live.catch_up().await.unwrap();
    let whole = parallel(&on_primary, fold, 2).await.unwrap();
    assert_eq!(whole.events, 6000 + 150 * 3 * 4);
    assert_eq!(live.model().digest(), whole.digest);
}
