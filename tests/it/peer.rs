//! A peer measured end to end: `stroom run` with `message-db` in the append phase fetches
//! Message DB, installs it into a database of its own on the run's server, and measures it
//! beside stroom's own strategy, writing through Message DB's own `write_message`.

use std::process::Command;

use sqlx::{ConnectOptions, Connection};
use stroom_cluster::testing::TestDatabase;

const SCENARIO: &str = r#"
name = "peer"
[database]
profile = "fast"
[population]
schools = 4
students = 400
events_per_school_day = 3000
[load]
days = 1
[append]
strategies = ["message-db", "single"]
writers = [1, 4]
duration_s = 1
warmup_s = 0.2
[append.open]
rates = [100]
duration_s = 1
users = 8
strategies = ["message-db"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_db_is_measured_beside_stroom_through_its_own_functions() {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("peer.toml"), SCENARIO).unwrap();
    let results = dir.path().join("results");
    let out = Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(["run", "peer.toml", "--database-url", &db.url(), "--results", results.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stroom run failed: {stderr}");
    let run_dir = std::fs::read_dir(results.join("peer")).unwrap().next().unwrap().unwrap().path();
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("result.json")).unwrap()).unwrap();
    let figure = |name: &str| result["figures"][name]["value"].as_f64().unwrap_or_else(|| panic!("{name} missing"));
    assert!(figure("append.message-db.ceiling_events_per_s") > 0.0);
    assert!(figure("append.single.ceiling_events_per_s") > 0.0);
    assert_eq!(figure("append.message-db.errors"), 0.0);
    assert!(figure("append.message-db.p99_ms") > 0.0, "the open loop ran through Message DB");
    let notes = result["notes"].to_string();
    assert!(notes.contains("Message DB 1.3.1 (npm @eventide/message-db, database schema 1.3.0)"), "{notes}");

    // What the last step left is in Message DB's own table, numbered by its own functions:
    // every stream's positions run from 0 without a gap.
    let mut conn = db.options.clone().database("stroom_message_db").connect().await.unwrap();
    let (messages, gapped): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM message_store.messages), \
         (SELECT count(*) FROM (SELECT stream_name FROM message_store.messages GROUP BY stream_name \
          HAVING max(position) + 1 <> count(*)) g)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(messages > 0);
    assert_eq!(gapped, 0);
    conn.close().await.ok();
}

#[tokio::test]
async fn without_npm_a_run_naming_message_db_fails_before_anything_runs() {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let (scenario, results, empty) = (dir.path().join("peer.toml"), dir.path().join("results"), dir.path().join("bin"));
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = crate::common::stroom(
        &["run", scenario.to_str().unwrap(), "--database-url", &db.url(), "--results", results.to_str().unwrap()],
        &[("PATH", empty.to_str().unwrap()), ("STROOM_CACHE_DIR", dir.path().join("cache").to_str().unwrap())],
    );
    let line = crate::common::the_error_line(&out);
    assert!(line.contains("Message DB: `npm` was not found"), "{line}");
    assert!(line.contains("apt-get install npm"), "{line}");
    assert!(!results.join("peer").exists(), "nothing ran, so nothing was written");
}
