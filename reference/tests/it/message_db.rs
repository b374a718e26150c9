//! Message DB 1.3, fetched with npm and installed by its own `install.sh`, as the `message-db`
//! strategy uses it: appends read back, conflicts, retries and a repeated install. These need
//! `npm` and its registry (or the package in the cache); without them they fail, saying so.

use stroom_cluster::message_db::{cache_dir, Installed, Package};
use stroom_cluster::testing::TestDatabase;
use stroom_cluster::Binaries;
use stroom_reference::append::message_db::{stream_name, MessageDb};
use stroom_reference::{Append, Error, NewEvent};
use uuid::Uuid;

/// Installs are serialised: `install.sh` creates the cluster-wide `message_store` role.
static INSTALLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn install(db: &TestDatabase, name: &str) -> Installed {
    let _one_at_a_time = INSTALLING.lock().await;
    let package = Package::fetch(&cache_dir()).unwrap_or_else(|e| panic!("{e}"));
    let psql = Binaries::discover().expect("PostgreSQL binaries").program("psql");
    let bindir = psql.parent().expect("psql's directory").to_path_buf();
    package.install(&db.options, name, &bindir).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn message_db() -> (TestDatabase, MessageDb) {
    message_db_with(4).await
}

async fn message_db_with(connections: u32) -> (TestDatabase, MessageDb) {
    let db = TestDatabase::create().await;
    let name = format!("{}_mdb", db.name);
    let installed = install(&db, &name).await;
    assert!(installed.fresh);
    assert_eq!(installed.version, "1.3.0", "the package 1.3.1 installs the schema 1.3.0");
    let url = db.options.clone().database(&name);
    let mdb = MessageDb::connect(sqlx::ConnectOptions::to_url_lossy(&url).as_ref(), connections).await.unwrap();
    (db, mdb)
}

fn event(n: u32) -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        event_type: "SectionTest/QuestionAnsweredCorrectly".into(),
        recorded_at_us: 1_700_000_000_000_000 + i64::from(n),
        payload: format!(r#"{{"q": {n}}}"#),
        metadata: r#"{"by": "test"}"#.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_written_through_message_db_read_back_by_stream_and_by_school() {
    let (_db, mdb) = message_db().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let first =
        mdb.append(Append { school: 7, stream: a, expected_version: 0, events: vec![event(1), event(2)] }).await;
    let first = first.unwrap();
    assert_eq!((first.positions, first.version), (vec![0, 1], 2), "Message DB counts a stream from 0");
    mdb.append(Append { school: 7, stream: b, expected_version: 0, events: vec![event(3)] }).await.unwrap();
    mdb.append(Append { school: 7, stream: a, expected_version: 2, events: vec![event(4)] }).await.unwrap();
    mdb.append(Append { school: 8, stream: Uuid::new_v4(), expected_version: 0, events: vec![event(5)] })
        .await
        .unwrap();

    let stream = mdb.stream(7, a).await.unwrap();
    assert_eq!(stream.iter().map(|m| m.position).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(stream.iter().all(|m| m.stream_name == stream_name(7, a)));
    let data: serde_json::Value = serde_json::from_str(stream[2].data.as_deref().unwrap()).unwrap();
    assert_eq!(data, serde_json::json!({"q": 4}));
    let meta: serde_json::Value = serde_json::from_str(stream[0].metadata.as_deref().unwrap()).unwrap();
    assert_eq!(meta, serde_json::json!({"by": "test", "recordedAtUs": 1_700_000_000_000_001i64}));

    // School 7's category, in pages of 2 by global position: its four messages, in the order
    // they were written, and none of school 8's.
    let (mut from, mut seen) = (1, Vec::new());
    loop {
        let page = mdb.category_page(7, from, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.global_position + 1;
        seen.extend(
            page.iter().map(|m| serde_json::from_str::<serde_json::Value>(m.data.as_deref().unwrap()).unwrap()),
        );
    }
    let qs: Vec<i64> = seen.iter().map(|d| d["q"].as_i64().unwrap()).collect();
    assert_eq!(qs, [1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_on_stream_is_a_conflict_and_a_retry_answers_as_the_first_did() {
    let (_db, mdb) = message_db().await;
    let s = Uuid::new_v4();
    let events = vec![event(1), event(2)];
    let first = mdb.append(Append { school: 3, stream: s, expected_version: 0, events: events.clone() }).await.unwrap();
    // The same command again (a retry after a lost answer): the same answer, nothing written.
    let again = mdb.append(Append { school: 3, stream: s, expected_version: 0, events }).await.unwrap();
    assert_eq!(again, first);
    // Another command decided on version 0, or on a version the stream never reached.
    for expected in [0, 1, 5] {
        let err = mdb.append(Append { school: 3, stream: s, expected_version: expected, events: vec![event(9)] }).await;
        match err {
            Err(Error::Conflict { expected: e, actual: 2, .. }) => assert_eq!(e, expected),
            other => panic!("expected a conflict at version {expected}, got {other:?}"),
        }
    }
    // A command of two events at the stream's version: both written.
    let next = mdb.append(Append { school: 3, stream: s, expected_version: 2, events: vec![event(3), event(4)] });
    assert_eq!(next.await.unwrap().positions, [2, 3]);
    assert_eq!(mdb.stream(3, s).await.unwrap().len(), 4);
    let bad = Append {
        school: 3,
        stream: s,
        expected_version: 4,
        events: vec![event(5), NewEvent { payload: "{".into(), ..event(6) }],
    };
    assert!(matches!(mdb.append(bad).await, Err(Error::InvalidEvent { field: "payload", .. })));
    assert_eq!(mdb.stream(3, s).await.unwrap().len(), 4, "a refused command writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installing_again_keeps_what_is_there() {
    let (db, mdb) = message_db().await;
    let s = Uuid::new_v4();
    mdb.append(Append { school: 1, stream: s, expected_version: 0, events: vec![event(1)] }).await.unwrap();
    let name = format!("{}_mdb", db.name);
    let again = install(&db, &name).await;
    assert_eq!(again, Installed { database: name, version: "1.3.0".into(), fresh: false });
    assert_eq!(mdb.stream(1, s).await.unwrap().len(), 1, "the second install wrote nothing over the first");
}

/// Appends keep their connections between them (no ping on the way back to the pool); a
/// conflict hands its connection back, and closing returns with the kept ones in hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_connections_serve_later_appends_and_do_not_hold_up_closing() {
    let (_db, mdb) = message_db_with(12).await;
    let a = Uuid::new_v4();
    for v in 0..5 {
        mdb.append(Append { school: 3, stream: a, expected_version: v, events: vec![event(v as u32)] }).await.unwrap();
    }
    let stale = mdb.append(Append { school: 3, stream: a, expected_version: 2, events: vec![event(9)] }).await;
    assert!(matches!(stale, Err(Error::Conflict { actual: 5, .. })), "{stale:?}");
    let next = mdb.append(Append { school: 3, stream: a, expected_version: 5, events: vec![event(10)] }).await;
    assert_eq!(next.unwrap().version, 6);
    // Appends at once keep a connection each, up to the pool's size less its reserve.
    let at_once = (0..6).map(|n| {
        let mdb = mdb.clone();
        tokio::spawn(async move {
            mdb.append(Append { school: 4, stream: Uuid::new_v4(), expected_version: 0, events: vec![event(n)] }).await
        })
    });
    for done in futures::future::join_all(at_once).await {
        done.unwrap().unwrap();
    }
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), mdb.close()).await;
    assert!(closed.is_ok(), "closing the pool waited on the appends' kept connections");
}
