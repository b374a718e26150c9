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
