//! The write side when something goes wrong: a row the server refuses, a lease another writer
//! took, a writer that died holding leases, two processes whose groups share schools.

use std::time::{Duration, Instant};

use futures::future::join_all;
use stroom_cluster::testing::TestDatabase;
use stroom_reference::append::{Lanes, RowWriter};
use stroom_reference::{
    Append, Appender, Error, Layout, NewEvent, PayloadType, Schema, Store, StoredEvent, Strategy, Transactor,
    TransactorConfig,
};
use uuid::Uuid;

async fn store(schools: i32) -> Store {
    let db = TestDatabase::create().await;
    let store = Store::install(db.pool().await, Schema::new(Layout::Partitioned, PayloadType::Jsonb)).await.unwrap();
    store.add_schools(&(1..=schools).collect::<Vec<_>>()).await.unwrap();
    store
}

fn event(payload: &str) -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        event_type: "SectionTest/QuestionAssigned".into(),
        recorded_at_us: 1_700_000_000_000_000,
        payload: payload.into(),
        metadata: "{}".into(),
    }
}

fn append(school: i32, payload: &str) -> Append {
    Append { school, stream: Uuid::new_v4(), expected_version: 0, events: vec![event(payload)] }
}

/// One append per school at once, school 77's bad; returns the outcomes of the others and its.
async fn one_bad_among_250(appender: &Appender, bad: &str) -> (Vec<stroom_reference::Result<()>>, Error) {
    let appends = (1..=250).map(|s| append(s, if s == 77 { bad } else { r#"{"q": 1}"# }));
    let mut outcomes: Vec<_> = join_all(appends.map(|a| appender.append(a))).await;
    let bad = outcomes.remove(76).expect_err("the bad append fails");
    (outcomes.into_iter().map(|o| o.map(drop)).collect(), bad)
}

#[tokio::test]
async fn one_bad_append_among_250_schools_fails_alone() {
    for writer in [RowWriter::Copy, RowWriter::Unnest] {
        let store = store(250).await;
        // One lane, so the schools' batches share groups.
        let config = TransactorConfig { lane_writer: writer, commit_lanes: 1, ..Default::default() };
        let appender = Appender::start(Strategy::PerSchool, &store, config).await.unwrap();

        // Refused before it is sent: a typed error naming the field.
        let (others, bad) = one_bad_among_250(&appender, r#"{"q": "\u0000"}"#).await;
        assert!(matches!(bad, Error::InvalidEvent { field: "payload", .. }), "{writer:?}: {bad}");
        assert_eq!(others.iter().filter(|o| o.is_ok()).count(), 249, "{writer:?}: {others:?}");

        // Refused by the server (a rule `check_input` cannot know): the group is split until
        // the bad batch is alone.
        sqlx::raw_sql(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.payload ? 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let (others, bad) = one_bad_among_250(&appender, r#"{"poison": true}"#).await;
        assert!(matches!(&bad, Error::BatchFailed { reason } if reason.contains("poisoned row")), "{writer:?}: {bad}");
        assert_eq!(others.iter().filter(|o| o.is_ok()).count(), 249, "{writer:?}: {others:?}");
        assert_eq!(store.count().await.unwrap(), 2 * 249, "{writer:?}: every acknowledged event, nothing else");
        appender.stop().await;
    }
}

#[tokio::test]
async fn a_lane_writer_whose_lease_was_taken_never_commits() {
    for writer in [RowWriter::Copy, RowWriter::Unnest] {
        let store = store(3).await;
        let config = TransactorConfig { lane_writer: writer, ..Default::default() };
        let appender = Appender::start(Strategy::PerSchool, &store, config).await.unwrap();
        appender.append(append(1, "{}")).await.unwrap();
        // Another process takes school 1 over.
        sqlx::query("UPDATE school_heads SET owner = $1, lease_until = now() + interval '1 minute' WHERE school = 1")
            .bind(Uuid::new_v4())
            .execute(store.pool())
            .await
            .unwrap();
        let stale = appender.append(append(1, "{}")).await;
        assert!(matches!(stale, Err(Error::OwnershipLost { school: 1 })), "{writer:?}: {stale:?}");
        appender.append(append(2, "{}")).await.expect("other schools go on");
        let positions: Vec<i64> =
            sqlx::query_scalar("SELECT position FROM events WHERE school = 1").fetch_all(store.pool()).await.unwrap();
        assert_eq!(positions, vec![1], "{writer:?}: the fenced writer wrote nothing");
        appender.stop().await;
    }
}

#[tokio::test]
async fn starting_waits_for_a_dead_writers_lease_up_to_the_limit() {
    let store = store(2).await;
    let dead = |secs: f64| {
        sqlx::query(
            "UPDATE school_heads SET owner = $1, lease_until = now() + make_interval(secs => $2) WHERE school = 2",
        )
        .bind(Uuid::new_v4())
        .bind(secs)
    };
    dead(1.5).execute(store.pool()).await.unwrap();
    let started = Instant::now();
    let appender = Appender::start(Strategy::PerSchool, &store, TransactorConfig::default()).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1000), "it took the lease only once it expired: {waited:?}");
    appender.append(append(2, "{}")).await.unwrap();
    appender.stop().await;

    dead(60.0).execute(store.pool()).await.unwrap();
    let config = TransactorConfig { lease_wait: Duration::from_millis(500), ..Default::default() };
    let started = Instant::now();
    let refused = Appender::start(Strategy::PerSchool, &store, config).await;
    assert!(matches!(refused, Err(Error::OwnershipLost { school: 2 })), "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "it gave up at the limit: {:?}", started.elapsed());
}

#[tokio::test]
async fn an_idle_writer_keeps_its_lease() {
    let store = store(1).await;
    let config = TransactorConfig { lease: Duration::from_millis(300), ..Default::default() };
    let writer = Transactor::start_school(store.clone(), 1, config).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let other = TransactorConfig { lease_wait: Duration::ZERO, ..Default::default() };
    let second = Transactor::start_school(store.clone(), 1, other).await;
    assert!(matches!(second, Err(Error::OwnershipLost { school: 1 })), "{second:?}");
    writer.append(append(1, "{}")).await.expect("the idle writer still owns its school");
    writer.stop().await;
}

#[tokio::test]
async fn two_processes_whose_groups_share_schools_never_deadlock() {
    const SCHOOLS: i32 = 60;
    const ROUNDS: usize = 30;
    let store = store(SCHOOLS).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query("UPDATE school_heads SET owner = CASE WHEN school % 2 = 1 THEN $1 ELSE $2 END WHERE school > 0")
        .bind(a)
        .bind(b)
        .execute(store.pool())
        .await
        .unwrap();
    // Each head row takes a moment to update, so two groups' updates overlap.
    sqlx::raw_sql(
        "CREATE FUNCTION slow_head() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END $$; \
         CREATE TRIGGER slow_head BEFORE UPDATE ON school_heads FOR EACH ROW EXECUTE FUNCTION slow_head();",
    )
    .execute(store.pool())
    .await
    .unwrap();
    // Leases change hands all the while, one school at a time, as when one process takes
    // over another's schools: a head row one process sees as its own may be in the other's
    // group at that moment.
    let flipping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flipper = {
        let (pool, flipping) = (store.pool().clone(), flipping.clone());
        tokio::spawn(async move {
            let mut s = 0;
            while flipping.load(std::sync::atomic::Ordering::Relaxed) {
                s = s % SCHOOLS + 1;
                sqlx::query(
                    "UPDATE school_heads SET owner = CASE WHEN owner = $1 THEN $2 ELSE $1 END WHERE school = $3",
                )
                .bind(a)
                .bind(b)
                .bind(s)
                .execute(&pool)
                .await
                .unwrap();
            }
        })
    };
    let lanes = || Lanes::start(&store, RowWriter::Copy, 2, 100_000, (30.0, Duration::from_secs(20), 0.0));
    // Each sends batches for every school, in opposite orders.
    let send = |lanes: Lanes, owner: Uuid, reversed: bool| async move {
        let mut schools: Vec<i32> = (1..=SCHOOLS).collect();
        if reversed {
            schools.reverse();
        }
        let mut outcomes = Vec::new();
        for _ in 0..ROUNDS {
            let batches = schools.iter().map(|&s| {
                let row = StoredEvent::new(s, Uuid::new_v4(), 1, &event("{}"));
                lanes.commit(s, owner, vec![row], Vec::new())
            });
            outcomes.extend(join_all(batches).await.into_iter().map(|(r, _)| r.map(|given| given.is_some())));
        }
        outcomes
    };
    let (from_a, from_b) = tokio::join!(send(lanes(), a, false), send(lanes(), b, true));
    flipping.store(false, std::sync::atomic::Ordering::Relaxed);
    flipper.await.unwrap();
    let mut committed = 0;
    for (who, outcomes) in [("A", from_a), ("B", from_b)] {
        let errors: Vec<String> = outcomes.iter().filter_map(|o| o.as_ref().err().map(|e| e.to_string())).collect();
        assert!(errors.is_empty(), "{who}: {} failed, first: {:?}", errors.len(), errors.first());
        committed += outcomes.iter().filter(|o| matches!(o, Ok(true))).count();
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(store.pool()).await.unwrap();
    assert_eq!(stored, committed as i64, "every batch acknowledged is stored, no other");
    assert!(committed > 0);
    // A deadlock would be retried (the group split) and so hidden from the callers; the server
    // counts it.
    let deadlocks: i64 =
        sqlx::query_scalar("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(deadlocks, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_gives_an_error_within_the_timeout() {
    use stroom_cluster::{Cluster, ClusterOptions, Profile};
    // A server of its own: it is frozen, which would stall every other test's database.
    let cluster = Cluster::start(ClusterOptions { profile: Profile::Fast, keep: false, dir: None }).unwrap();
    let pool = sqlx::PgPool::connect(&cluster.url()).await.unwrap();
    let store = Store::install(pool, Schema::new(Layout::Partitioned, PayloadType::Jsonb)).await.unwrap();
    store.add_schools(&[1]).await.unwrap();
    let timeout = Duration::from_secs(2);
    let appender =
        Appender::start(Strategy::PerSchool, &store, TransactorConfig { timeout, ..Default::default() }).await.unwrap();
    appender.append(append(1, "{}")).await.unwrap();
    cluster.freeze(true).unwrap();
    let started = Instant::now();
    let hung = appender.append(append(1, "{}")).await;
    let waited = started.elapsed();
    cluster.freeze(false).unwrap();
    let typed = matches!(hung, Err(Error::OutcomeUnknown { .. } | Error::Timeout { .. } | Error::Unavailable { .. }));
    assert!(typed, "{hung:?}");
    assert!(waited < timeout * 2, "the error ({hung:?}) came after {waited:?}, the limit being {timeout:?}");
    // Once the server answers again, so does the writer.
    let again = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match appender.append(append(1, "{}")).await {
                Ok(a) => break a,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    assert!(again.is_ok(), "appends resume after the server thaws");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_and_rill_say_when_a_commit_went_unanswered_and_a_retry_resolves_it() {
    for strategy in [Strategy::Single, Strategy::Rill] {
        let db = TestDatabase::create().await;
        let store = Store::install(db.pool().await, Schema::new(strategy.layout(), PayloadType::Jsonb)).await.unwrap();
        store.add_schools(&[1]).await.unwrap();
        // A deferred trigger runs while the server commits: the backend is ended there, after
        // the client sent its commit and before any answer.
        sqlx::raw_sql(
            "CREATE FUNCTION stall_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.event_type = 'Slow' THEN PERFORM pg_sleep(60); END IF; RETURN NULL; END $$; \
             CREATE CONSTRAINT TRIGGER stall_commit AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED \
               FOR EACH ROW EXECUTE FUNCTION stall_commit();",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let appender = Appender::start(strategy, &store, TransactorConfig::default()).await.unwrap();
        let mut slow = append(1, "{}");
        slow.events[0].event_type = "Slow".into();
        let pending = tokio::spawn({
            let (appender, slow) = (appender.clone(), slow.clone());
            async move { appender.append(slow).await }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ended: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND pid <> pg_backend_pid()",
            )
            .fetch_all(store.pool())
            .await
            .unwrap();
            if !ended.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "{strategy:?}: the commit never reached the trigger");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let answer = pending.await.unwrap();
        assert!(matches!(answer, Err(Error::OutcomeUnknown { .. })), "{strategy:?}: {answer:?}");
        sqlx::raw_sql("DROP TRIGGER stall_commit ON events").execute(store.pool()).await.unwrap();
        appender.append(slow.clone()).await.unwrap_or_else(|e| panic!("{strategy:?}: the retry: {e}"));
        appender.append(slow.clone()).await.unwrap_or_else(|e| panic!("{strategy:?}: a second retry: {e}"));
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE id = $1")
            .bind(slow.events[0].id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, 1, "{strategy:?}: written once");
    }
}
