//! Moving a school between servers, on real PostgreSQL: with a writer running, nothing it was
//! told is stored goes missing, and a copy that differs from the source is caught and undone.
//!
//! The two "servers" are two databases of the test server: the migration reaches each only
//! through its own pool, as it would two clusters. Killing stroom at each step boundary, which
//! needs the binary, is in the workspace's `tests/it/migrate_crash.rs`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use stroom_cluster::testing::TestDatabase;
use stroom_reference::domain::example_student;
use stroom_reference::migrate::{Migrator, Step, CHECKS};
use stroom_reference::{
    Append, Error, NewEvent, PayloadType, Schema, Store, StoredEvent, Transactor, TransactorConfig,
};
use uuid::Uuid;

const SCHOOL: i32 = 1;

/// Two servers; the log installed on the first with schools 1 and 2, school 1 placed there.
async fn two_servers() -> (Migrator, Store, PgPool) {
    let (a, b) = (TestDatabase::create().await.pool().await, TestDatabase::create().await.pool().await);
    let store = Store::install(a.clone(), Schema::new(stroom_reference::Layout::Partitioned, PayloadType::Jsonb))
        .await
        .unwrap();
    store.add_schools(&[SCHOOL, 2]).await.unwrap();
    let migrator = Migrator::new(vec![a, b.clone()]).await.unwrap();
    let map = migrator.placement().place_missing(&[SCHOOL, 2], 2).await.unwrap();
    assert_eq!(map.server_of(SCHOOL), Some(0));
    (migrator, store, b)
}

fn student(questions: u32) -> (Uuid, Vec<NewEvent>) {
    example_student(questions)
}

/// `students` students' histories, bulk loaded into school 1.
async fn history(store: &Store, students: u32) {
    let mut rows = Vec::new();
    for _ in 0..students {
        let (stream, events) = student(9);
        rows.extend(events.iter().enumerate().map(|(v, e)| StoredEvent::new(SCHOOL, stream, v as i64 + 1, e)));
    }
    store.bulk_load(&rows).await.unwrap();
}

async fn count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE school = $1").bind(SCHOOL).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn a_school_moves_with_its_writer_running_and_nothing_acknowledged_is_lost() {
    let (migrator, source, target_pool) = two_servers().await;
    history(&source, 400).await;
    let config = TransactorConfig { commit_lanes: 0, lease_wait: Duration::from_secs(10), ..Default::default() };

    // The school's writer: appends until told to stop, and when the source refuses it,
    // follows the placement map to the target, as a routing writer does.
    let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
    let placement = migrator.placement().clone();
    let (writer_source, writer_config, writer_target) = (source.clone(), config.clone(), target_pool.clone());
    let writer = tokio::spawn(async move {
        let mut acked: Vec<Uuid> = Vec::new();
        let mut on = Transactor::start_school(writer_source.clone(), SCHOOL, writer_config.clone()).await.unwrap();
        let mut refused_at: Option<Instant> = None;
        let mut paused = Duration::ZERO;
        let mut moved = false;
        // Until stopped, moved, and acknowledged on the target after the move.
        while !*stop.borrow_and_update() || !moved || refused_at.is_some() {
            let (stream, events) = student(2);
            let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
            match on.append(Append { school: SCHOOL, stream, expected_version: 0, events }).await {
                Ok(_) => {
                    acked.extend(ids);
                    if let Some(at) = refused_at.take() {
                        paused = paused.max(at.elapsed());
                    }
                }
                Err(Error::OwnershipLost { .. }) => {
                    refused_at.get_or_insert_with(Instant::now);
                    let map = placement.load().await.unwrap();
                    if map.server_of(SCHOOL) == Some(1) {
                        on.stop().await;
                        let target = Store::open(writer_target.clone(), writer_source.schema());
                        on = Transactor::start_school(target, SCHOOL, writer_config.clone()).await.unwrap();
                        moved = true;
                    } else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                Err(e) => panic!("the writer got {e}"),
            }
        }
        on.stop().await;
        (acked, paused)
    });

    tokio::time::sleep(Duration::from_millis(300)).await;
    let migration = migrator.start(SCHOOL, 1).await.unwrap();
    let report = migration.finish().await.unwrap();
    stop_tx.send(true).unwrap();
    let (acked, paused) = tokio::time::timeout(Duration::from_secs(60), writer).await.unwrap().unwrap();

    assert_eq!(report.checks.len(), CHECKS.len());
    assert!(report.checks.iter().all(|c| c.passed()), "{:?}", report.checks);
    assert!(report.rows_copied >= 4000 && report.rounds >= 3, "{report:?}");
    assert!(report.fence.is_some(), "{report:?}");
    assert!(paused > Duration::ZERO, "the writer never saw the fence");
    // Every acknowledged event is on the target, once; nothing of the school is left on the source.
    let target = Store::open(target_pool.clone(), source.schema());
    let found = target.positions_of(Some(SCHOOL), &acked).await.unwrap();
    let missing: Vec<&Uuid> = acked.iter().filter(|id| !found.contains_key(id)).collect();
    assert!(missing.is_empty(), "{} acknowledged events missing on the target", missing.len());
    assert_eq!(count(&target_pool).await, 4000 + acked.len() as i64);
    assert_eq!(count(source.pool()).await, 0);
    let positions: HashSet<i64> = found.values().map(|(p, _)| *p).collect();
    assert_eq!(positions.len(), acked.len());

    let map = migrator.placement().load().await.unwrap();
    assert_eq!(map.server_of(SCHOOL), Some(1));
    let last = migrator.placement().changes().await.unwrap().pop().unwrap();
    assert_eq!((last.school, last.from_server, last.to_server, last.reason.as_str()), (SCHOOL, Some(0), 1, "migrate"));
    assert!(migrator.unfinished().await.unwrap().is_empty());
    // The source's head stays fenced: a writer routing by an old map cannot commit there.
    let stale =
        Transactor::start_school(source.clone(), SCHOOL, TransactorConfig { lease_wait: Duration::ZERO, ..config })
            .await
            .map(|_| ());
    assert!(matches!(stale, Err(Error::OwnershipLost { .. })), "{stale:?}");
}

/// Runs a migration to the fence, lets `corrupt` change the copy, and expects the checks to
/// catch it: the migration aborted, the source authoritative and writable, the copy gone.
async fn corrupted(corrupt: &str, failing: &str) {
    let (migrator, source, target_pool) = two_servers().await;
    history(&source, 100).await;
    let mut migration = migrator.start(SCHOOL, 1).await.unwrap();
    while migration.step() < Step::Fenced {
        migration.advance().await.unwrap();
    }
    sqlx::query(corrupt).execute(&target_pool).await.unwrap();
    let caught = migration.advance().await.unwrap_err();
    match &caught {
        Error::Mismatch { school: SCHOOL, to: 1, failed } => assert!(failed.contains(failing), "{caught}"),
        other => panic!("expected a mismatch in {failing}, got {other}"),
    }
    assert_eq!(migration.step(), Step::Aborted);
    let failed: Vec<&str> = migration.report().checks.iter().filter(|c| !c.passed()).map(|c| c.name).collect();
    assert!(failed.contains(&failing), "{failed:?}");

    assert_eq!(migrator.placement().load().await.unwrap().server_of(SCHOOL), Some(0));
    assert_eq!(count(&target_pool).await, 0);
    assert_eq!(count(source.pool()).await, 1000);
    assert!(migrator.unfinished().await.unwrap().is_empty());
    // The source takes writes again at once.
    let config = TransactorConfig { commit_lanes: 0, lease_wait: Duration::ZERO, ..Default::default() };
    let writer = Transactor::start_school(source.clone(), SCHOOL, config).await.unwrap();
    let (stream, events) = student(1);
    writer.append(Append { school: SCHOOL, stream, expected_version: 0, events }).await.unwrap();
    writer.stop().await;
    assert_eq!(count(source.pool()).await, 1002);
}

#[tokio::test]
async fn a_changed_payload_in_the_copy_is_caught_by_the_read_model_digest() {
    corrupted(
        "UPDATE events SET payload = jsonb_set(payload, '{name}', '\"M\"') \
         WHERE school = 1 AND position = (SELECT min(position) FROM events WHERE school = 1)",
        "read-model digest",
    )
    .await;
}

#[tokio::test]
async fn a_lost_row_in_the_copy_is_caught() {
    corrupted(
        // Not the last row: the copy under the fence would copy that one again.
        "DELETE FROM events WHERE school = 1 AND position = 500",
        "events and last position",
    )
    .await;
}

#[tokio::test]
async fn a_stray_stream_in_the_copy_is_caught_by_the_registry_check() {
    // (A missing one the copy under the fence would register again.)
    corrupted("INSERT INTO streams (stream, school) VALUES (gen_random_uuid(), 1)", "stream registry").await;
}

#[tokio::test]
async fn a_school_cannot_be_moved_twice_at_once_nor_where_it_is() {
    let (migrator, _source, _) = two_servers().await;
    let err = migrator.start(SCHOOL, 0).await.unwrap_err();
    assert!(err.to_string().contains("on server 0 already"), "{err}");
    let err = migrator.start(SCHOOL, 5).await.unwrap_err();
    assert!(err.to_string().contains("there is no server 5"), "{err}");
    let _first = migrator.start(SCHOOL, 1).await.unwrap();
    let err = migrator.start(SCHOOL, 1).await.unwrap_err();
    assert!(err.to_string().contains("unfinished migration"), "{err}");
    let err = migrator.start(0, 1).await.unwrap_err();
    assert!(err.to_string().contains("course material"), "{err}");
}

#[tokio::test]
async fn routed_writers_append_where_the_map_says_and_follow_a_move() {
    let (migrator, source, target_pool) = two_servers().await;
    let schema = source.schema();
    let target = Store::install(target_pool.clone(), schema).await.unwrap();
    target.add_schools(&[2]).await.unwrap();
    history(&source, 200).await;
    let routed = stroom_reference::append::Routed::start(
        vec![source.clone(), target.clone()],
        migrator.placement().clone(),
        TransactorConfig::default(),
        true,
    )
    .await
    .unwrap();

    // Both schools append while school 1 moves to server 1.
    let appending = {
        let routed = routed.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(1500) {
                for school in [SCHOOL, 2] {
                    let (stream, events) = student(1);
                    routed.append(Append { school, stream, expected_version: 0, events }).await.unwrap();
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = migrator.start(SCHOOL, 1).await.unwrap().finish().await.unwrap();
    appending.await.unwrap();
    let stats = routed.stats();
    routed.stop().await;

    assert!(report.checks.iter().all(|c| c.passed()));
    // School 2 was only ever on server 1; school 1 is there now; server 0 holds neither.
    let on = |pool: &PgPool, school: i32| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE school = $1")
                .bind(school)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!((on(source.pool(), SCHOOL).await, on(source.pool(), 2).await), (0, 0));
    let acked_2 = stats.acked.iter().filter(|(s, _)| *s == 2).count() as i64;
    assert_eq!(on(&target_pool, 2).await, acked_2);
    let acked_1: Vec<Uuid> = stats.acked.iter().filter(|(s, _)| *s == SCHOOL).map(|(_, id)| *id).collect();
    assert_eq!(target.positions_of(Some(SCHOOL), &acked_1).await.unwrap().len(), acked_1.len());
    assert_eq!(on(&target_pool, SCHOOL).await, 2000 + acked_1.len() as i64);
    assert!(stats.waits.iter().all(|(s, _)| *s == SCHOOL), "only the moved school waits: {:?}", stats.waits);
}

#[tokio::test]
async fn a_single_log_is_rewritten_into_the_partitioned_layout_and_every_school_checks_equal() {
    let (a, b) = (TestDatabase::create().await.pool().await, TestDatabase::create().await.pool().await);
    let single = Store::install(a, Schema::new(stroom_reference::Layout::SingleLog, PayloadType::Jsonb)).await.unwrap();
    single.add_schools(&[0, 1, 2, 3]).await.unwrap();
    // Bulk-loaded rows, then appended ones (whose per-school position the single log leaves empty),
    // interleaved across schools in global order.
    let mut rows = Vec::new();
    for i in 0..60 {
        let (stream, events) = student(4);
        rows.extend(events.iter().enumerate().map(|(v, e)| StoredEvent::new(i % 4, stream, v as i64 + 1, e)));
    }
    single.bulk_load(&rows).await.unwrap();
    let log = Transactor::start_log(single.clone(), TransactorConfig::default()).await.unwrap();
    for i in 0..20 {
        let (stream, events) = student(2);
        log.append(Append { school: i % 3 + 1, stream, expected_version: 0, events }).await.unwrap();
    }
    log.stop().await;

    let target =
        Store::install(b, Schema::new(stroom_reference::Layout::Partitioned, PayloadType::Jsonb)).await.unwrap();
    let mut heard = Vec::new();
    let done = stroom_reference::migrate::transform(&single, &target, |i, n| heard.push((i, n))).await.unwrap();
    assert_eq!(done.rows, 60 * 5 + 20 * 3);
    assert_eq!(done.mismatches(), 0, "{:?}", done.checks);
    assert_eq!(done.checks.len(), 4);
    assert_eq!(heard.last(), Some(&(4, 4)));
    assert_eq!(target.count().await.unwrap(), single.count().await.unwrap());
    // Positions are gapless per school, in the single log's global order.
    let gaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT school, count(*) AS n, max(position) AS top FROM events GROUP BY school) s WHERE n <> top",
    )
    .fetch_one(target.pool())
    .await
    .unwrap();
    assert_eq!(gaps, 0);
    // The other way round is refused.
    let err = stroom_reference::migrate::transform(&target, &single, |_, _| ()).await.unwrap_err();
    assert!(err.to_string().contains("from a single log to the partitioned layout"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_across_servers_gives_the_digest_of_one_server_holding_everything() {
    use stroom_reference::read_model::Fold;
    use stroom_reference::replay::{across_servers, parallel};
    let (migrator, first, second_pool) = two_servers().await;
    let second = Store::install(second_pool, first.schema()).await.unwrap();
    let whole = Store::install(TestDatabase::create().await.pool().await, first.schema()).await.unwrap();
    let map = migrator.placement().place_missing(&[SCHOOL, 2, 3, 4], 2).await.unwrap();
    let mut rows = Vec::new();
    for i in 0..80 {
        let (stream, events) = student(6);
        rows.extend(events.iter().enumerate().map(|(v, e)| StoredEvent::new(i % 4 + 1, stream, v as i64 + 1, e)));
    }
    whole.add_schools(&[1, 2, 3, 4]).await.unwrap();
    whole.bulk_load(&rows).await.unwrap();
    for (server, store) in [(0, &first), (1, &second)] {
        let here = map.schools_on(server);
        store.add_schools(&here).await.unwrap();
        let mine: Vec<StoredEvent> = rows.iter().filter(|e| here.contains(&e.school)).cloned().collect();
        store.bulk_load(&mine).await.unwrap();
    }
    let stores = [first.clone(), second.clone()];
    let one = parallel(&whole, Fold::default(), 2).await.unwrap();
    let spread = across_servers(&stores, &map, Fold::default(), 2).await.unwrap();
    assert_eq!((spread.events, &spread.digest), (one.events, &one.digest));

    // After a move the schools are elsewhere; the model is not.
    migrator.start(3, 1).await.unwrap().finish().await.unwrap();
    let map = migrator.placement().load().await.unwrap();
    assert_eq!(map.schools_on(1), vec![2, 3, 4]);
    let moved = across_servers(&stores, &map, Fold::default(), 2).await.unwrap();
    assert_eq!((moved.events, &moved.digest), (one.events, &one.digest));
}

#[tokio::test]
async fn a_routed_writer_that_missed_a_move_follows_it_on_its_next_append() {
    let (migrator, source, target_pool) = two_servers().await;
    let target = Store::install(target_pool, source.schema()).await.unwrap();
    let routed = stroom_reference::append::Routed::start(
        vec![source.clone(), target.clone()],
        migrator.placement().clone(),
        TransactorConfig::default(),
        true,
    )
    .await
    .unwrap();
    // A stream from the history, which the writer has never seen, and a writer running.
    let (stream, events) = student(2);
    let rows: Vec<StoredEvent> =
        events.iter().enumerate().map(|(v, e)| StoredEvent::new(SCHOOL, stream, v as i64 + 1, e)).collect();
    source.bulk_load(&rows).await.unwrap();
    let (other, first) = student(1);
    routed.append(Append { school: SCHOOL, stream: other, expected_version: 0, events: first }).await.unwrap();
    // Nothing appends while the school moves: its writer never meets the fence.
    migrator.start(SCHOOL, 1).await.unwrap().finish().await.unwrap();
    // Its next append is of that stream: the old server, its rows gone, would call it a conflict.
    let (_, more) = student(1);
    let next = routed.append(Append { school: SCHOOL, stream, expected_version: 3, events: more }).await.unwrap();
    assert_eq!(next.version, 5);
    routed.stop().await;
    assert_eq!(target.read_stream(SCHOOL, stream).await.unwrap().len(), 5);
}
