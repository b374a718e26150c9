//! The zero-config cluster against the real PostgreSQL binaries on this machine.

use nix::sys::signal::kill;
use nix::unistd::Pid;
use sqlx::{Connection, PgConnection};
use stroom_cluster::testing::TestDatabase;
use stroom_cluster::{effective_settings, Cluster, ClusterOptions, Database, Profile, Source};

#[tokio::test]
async fn each_test_database_is_its_own() {
    let (a, b) = (TestDatabase::create().await, TestDatabase::create().await);
    assert_ne!(a.name, b.name);
    let (pa, pb) = (a.pool().await, b.pool().await);
    sqlx::query("CREATE TABLE only_in_a (x int)").execute(&pa).await.unwrap();
    let in_b: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('only_in_a')::text").fetch_one(&pb).await.unwrap();
    assert_eq!(in_b, None);
}

#[tokio::test]
async fn tests_run_on_the_fast_profile() {
    let pool = TestDatabase::create().await.pool().await;
    let settings = effective_settings(&pool).await.unwrap();
    if std::env::var_os("DATABASE_URL").is_none() {
        assert_eq!(settings["fsync"], "off");
    }
    assert!(settings["server_version"].starts_with(char::is_numeric), "{settings:?}");
}

#[tokio::test]
async fn a_durable_cluster_is_durable_and_leaves_nothing_when_dropped() {
    let db = tokio::task::spawn_blocking(|| {
        Database::open(Source::Embedded(ClusterOptions { profile: Profile::Durable, keep: false, dir: None }))
    })
    .await
    .unwrap()
    .unwrap();
    let cluster = db.cluster().expect("an embedded cluster");
    let (dir, pid) = (cluster.dir().to_path_buf(), Pid::from_raw(cluster.pid() as i32));
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let (fsync, sync_commit): (String, String) =
        sqlx::query_as("SELECT current_setting('fsync'), current_setting('synchronous_commit')")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((fsync.as_str(), sync_commit.as_str()), ("on", "on"));
    conn.close().await.unwrap();

    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
    assert!(kill(pid, None).is_err(), "postgres {pid} still runs");
    assert!(!dir.exists(), "{} still exists", dir.display());
}

#[test]
fn clusters_start_side_by_side_on_their_own_ports() {
    let a = Cluster::start(ClusterOptions { profile: Profile::Fast, keep: false, dir: None }).unwrap();
    let b = Cluster::start(ClusterOptions { profile: Profile::Fast, keep: false, dir: None }).unwrap();
    assert_ne!(a.url(), b.url());
    assert_ne!(a.dir(), b.dir());
}

#[tokio::test]
async fn a_standby_replays_what_the_primary_commits_and_refuses_writes() {
    let (primary, standby) = tokio::task::spawn_blocking(|| {
        let primary = Cluster::start(ClusterOptions { profile: Profile::Fast, keep: false, dir: None }).unwrap();
        let standby = primary.start_standby().unwrap();
        (primary, standby)
    })
    .await
    .unwrap();
    assert!(standby.is_standby() && !primary.is_standby());
    let mut p = PgConnection::connect(&primary.url()).await.unwrap();
    sqlx::query("CREATE TABLE t AS SELECT generate_series(1, 1000) AS x").execute(&mut p).await.unwrap();
    // The insert position: the Fast profile commits asynchronously, so the commit can sit in the
    // WAL buffers past the write position (pg_current_wal_lsn) when we ask.
    let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text").fetch_one(&mut p).await.unwrap();

    let mut s = PgConnection::connect(&standby.url()).await.unwrap();
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()").fetch_one(&mut s).await.unwrap();
    assert!(in_recovery);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let caught_up: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
            .bind(&lsn)
            .fetch_one(&mut s)
            .await
            .unwrap();
        if caught_up {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the standby did not replay {lsn} in 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&mut s).await.unwrap();
    assert_eq!(n, 1000);
    let refused = sqlx::query("INSERT INTO t VALUES (0)").execute(&mut s).await.unwrap_err();
    assert!(refused.to_string().contains("read-only"), "{refused}");

    let dir = standby.dir().to_path_buf();
    drop((s, p));
    tokio::task::spawn_blocking(move || drop((standby, primary))).await.unwrap();
    assert!(!dir.exists(), "{} still exists", dir.display());
}
