//! `stroom migrate` killed with SIGKILL right after each step, then `--resume` or `--abort`:
//! every crash leaves a state from which both recover, nothing lost and nothing half-switched.
//! The two servers are two databases of the test server, each reached by its own URL, except
//! where a server is killed: there they are two clusters of their own.

use std::os::unix::process::ExitStatusExt;

use crate::common::{stroom, the_error_line};
use sqlx::{Connection, PgPool};
use stroom_cluster::testing::TestDatabase;
use stroom_cluster::{Cluster, ClusterOptions, Profile};
use stroom_reference::domain::example_student;
use stroom_reference::migrate::Step;
use stroom_reference::placement::Placement;
use stroom_reference::{Layout, PayloadType, Schema, Store, StoredEvent};

const EVENTS: i64 = 3000;

struct Servers {
    url: String,
    source: PgPool,
    target: PgPool,
}

/// Two servers recorded on the first; school 1 on server 0 with `EVENTS` events.
async fn servers() -> Servers {
    let (a, b) = (TestDatabase::create().await, TestDatabase::create().await);
    servers_at(a.url(), b.url()).await
}

/// The same on the databases at `a` and `b`.
async fn servers_at(a: String, b: String) -> Servers {
    let connect = |url: String| async move { sqlx::PgPool::connect(&url).await.unwrap() };
    let (source, target) = (connect(a.clone()).await, connect(b.clone()).await);
    let store = Store::install(source.clone(), Schema::new(Layout::Partitioned, PayloadType::Jsonb)).await.unwrap();
    store.add_schools(&[1, 2]).await.unwrap();
    let mut rows = Vec::new();
    for _ in 0..EVENTS / 10 {
        let (stream, events) = example_student(9);
        rows.extend(events.iter().enumerate().map(|(v, e)| StoredEvent::new(1, stream, v as i64 + 1, e)));
    }
    store.bulk_load(&rows).await.unwrap();
    let placement = Placement::install(source.clone()).await.unwrap();
    placement.register_servers(&[a.clone(), b]).await.unwrap();
    placement.place_missing(&[1, 2], 2).await.unwrap();
    Servers { url: a, source, target }
}

impl Servers {
    fn migrate(&self, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
        let mut all = vec!["migrate", "--database-url", &self.url];
        all.extend(args);
        stroom(&all, envs)
    }

    /// (events on the source, events on the target, the school's server in the map, open migrations).
    async fn state(&self) -> (i64, i64, i32, i64) {
        let count = |pool: PgPool| async move {
            // The target may not have the table yet.
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE school = 1")
                .fetch_one(&pool)
                .await
                .unwrap_or(0)
        };
        let server: i32 = sqlx::query_scalar("SELECT server FROM stroom_placement WHERE school = 1")
            .fetch_one(&self.source)
            .await
            .unwrap();
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM stroom_migrations WHERE NOT finished")
            .fetch_one(&self.source)
            .await
            .unwrap();
        (count(self.source.clone()).await, count(self.target.clone()).await, server, open)
    }

    /// Whether a writer could take school 1's head on the source now.
    async fn source_writable(&self) -> bool {
        sqlx::query_scalar("SELECT owner IS NULL FROM school_heads WHERE school = 1")
            .fetch_one(&self.source)
            .await
            .unwrap()
    }
}

fn killed(out: &std::process::Output) -> bool {
    out.status.signal() == Some(9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_any_step_is_finished_by_resume() {
    for step in &Step::ALL[..6] {
        let s = servers().await;
        let out = s.migrate(&["school", "1", "--to", "1"], &[("STROOM_MIGRATE_KILL_AFTER", step.name())]);
        assert!(killed(&out), "after {}: {:?} {}", step.name(), out.status, String::from_utf8_lossy(&out.stderr));
        assert_eq!(s.state().await.3, 1, "after {}: the journal holds the migration open", step.name());
        let out = s.migrate(&["--resume"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "resume after {}: {stderr}", step.name());
        assert!(stderr.contains(&format!("resuming after step {}", step.name())), "{stderr}");
        assert_eq!(s.state().await, (0, EVENTS, 1, 0), "resumed after {}", step.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_switch_is_undone_by_abort_and_after_it_abort_is_refused() {
    for step in &Step::ALL[..6] {
        let s = servers().await;
        let out = s.migrate(&["school", "1", "--to", "1"], &[("STROOM_MIGRATE_KILL_AFTER", step.name())]);
        assert!(killed(&out), "after {}: {:?}", step.name(), out.status);
        let out = s.migrate(&["--abort"], &[]);
        if *step < Step::Switched {
            assert!(out.status.success(), "abort after {}: {}", step.name(), String::from_utf8_lossy(&out.stderr));
            assert_eq!(s.state().await, (EVENTS, 0, 0, 0), "aborted after {}", step.name());
            assert!(s.source_writable().await, "after {} the source takes writes again", step.name());
        } else {
            let line = the_error_line(&out);
            assert!(line.contains("switched to server 1 already"), "{line}");
            assert!(s.migrate(&["--resume"], &[]).status.success());
            assert_eq!(s.state().await, (0, EVENTS, 1, 0));
        }
    }
}

/// A new database on `cluster`, by URL.
async fn database(cluster: &Cluster, name: &str) -> String {
    let mut admin = sqlx::PgConnection::connect(&cluster.url()).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    cluster.url_for(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_at_any_step_boundary_is_recovered_by_resume() {
    // Durable: with the fast profile's asynchronous commit a killed server may lose the last commits.
    let start = || Cluster::start(ClusterOptions { profile: Profile::Durable, keep: false, dir: None }).unwrap();
    let (first, second) = tokio::task::spawn_blocking(move || (start(), start())).await.unwrap();
    let clusters = std::sync::Arc::new([first, second]);
    for (i, step) in Step::ALL[..6].iter().enumerate() {
        for crashed in [0, 1] {
            let name = format!("m{i}_{crashed}");
            let s = servers_at(database(&clusters[0], &name).await, database(&clusters[1], &name).await).await;
            let out = s.migrate(&["school", "1", "--to", "1"], &[("STROOM_MIGRATE_KILL_AFTER", step.name())]);
            assert!(killed(&out), "after {}: {:?}", step.name(), out.status);
            // SIGKILL to the server and every backend, then crash recovery.
            let c = clusters.clone();
            tokio::task::spawn_blocking(move || c[crashed].crash_restart().unwrap()).await.unwrap();
            let out = s.migrate(&["--resume"], &[]);
            let what = format!("server {crashed} killed after {}", step.name());
            assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
            // The pools were cut by the crash; the state is read on fresh connections.
            let s = Servers {
                url: s.url.clone(),
                source: sqlx::PgPool::connect(&clusters[0].url_for(&name)).await.unwrap(),
                target: sqlx::PgPool::connect(&clusters[1].url_for(&name)).await.unwrap(),
            };
            assert_eq!(s.state().await, (0, EVENTS, 1, 0), "{what}");
        }
    }
}

#[tokio::test]
async fn a_migration_prints_its_checks_and_bad_requests_are_one_line() {
    let s = servers().await;
    let out = s.migrate(&["school", "1", "--to", "1"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for check in stroom_reference::migrate::CHECKS {
        assert!(stdout.lines().any(|l| l.contains(check) && l.contains(" ok ")), "{check}: {stdout}");
    }
    assert!(stdout.contains("school 1 moved from server 0 to server 1: 3000 rows copied"), "{stdout}");
    let line = the_error_line(&s.migrate(&["school", "1", "--to", "1"], &[]));
    assert!(line.contains("school 1 is on server 1 already"), "{line}");
    let line = the_error_line(&s.migrate(&[], &[]));
    assert!(line.contains("`stroom migrate school N --to S`, `--resume` or `--abort`"), "{line}");
    let line = the_error_line(&stroom(&["migrate", "--resume"], &[]));
    assert!(line.contains("needs the first server's URL"), "{line}");
}
