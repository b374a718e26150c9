//! Faults a user meets on real machines: a role without permissions, a full disk for the
//! database or for the results. Each is one clear line, a non-zero exit, and no result that
//! looks complete.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{stroom, the_error_line};
use sqlx::Connection;
use stroom_cluster::testing::TestDatabase;

fn scenario(dir: &Path, events: u64) -> PathBuf {
    let path = dir.join("s.toml");
    let text = format!(
        "name = \"s\"\n[population]\nschools = 2\nstudents = 200\nevents_per_school_day = 200000\n[load]\nevents = {events}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Nothing under `root` but empty directories: no result, complete or half-written.
fn no_files_under(root: &Path) -> bool {
    walk(root).iter().all(|p| p.is_dir() || !p.exists())
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

/// A tmpfs of `mb` megabytes, unmounted on drop; `None` where mounting is not allowed.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(mb: u32) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}M,mode=1777"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// A tmpfs of `mb` megabytes. A test that needs one cannot run without root, and then fails
/// saying so rather than passing unrun; CI runs as root.
fn mount_or_fail(mb: u32) -> Tmpfs {
    match Tmpfs::mount(mb) {
        Some(m) => m,
        None if nix::unistd::Uid::effective().is_root() => panic!("root could not mount a tmpfs"),
        None => panic!("NOT RUN: mounting a tmpfs needs root (CI runs as root); run the tests as root"),
    }
}

#[tokio::test]
async fn a_role_that_may_not_create_schemas_is_one_line_with_the_fix() {
    let db = TestDatabase::create().await;
    let mut conn = sqlx::PgConnection::connect_with(&db.options).await.unwrap();
    let role = format!("stroom_reader_{}", std::process::id());
    sqlx::query(&format!("CREATE ROLE {role} LOGIN")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let url = db.options.clone().username(&role).password("");
    let url = sqlx::ConnectOptions::to_url_lossy(&url).to_string();

    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let path = scenario(dir.path(), 10);
    let out =
        stroom(&["run", path.to_str().unwrap(), "--database-url", &url, "--results", results.to_str().unwrap()], &[]);
    let line = the_error_line(&out);
    assert!(line.contains("permission denied"), "{line}");
    assert!(line.contains("GRANT CREATE ON DATABASE"), "{line}");
    assert!(no_files_under(&results), "a failed run left files in {}", results.display());
}

#[tokio::test]
async fn a_role_that_may_not_checkpoint_is_told_once_and_the_run_goes_on() {
    let db = TestDatabase::create().await;
    let mut conn = sqlx::PgConnection::connect_with(&db.options).await.unwrap();
    let role = format!("stroom_writer_{}", std::process::id());
    sqlx::query(&format!("CREATE ROLE {role} LOGIN")).execute(&mut conn).await.unwrap();
    sqlx::query(&format!("GRANT CREATE ON DATABASE \"{}\" TO {role}", db.name)).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let url = db.options.clone().username(&role).password("");
    let url = sqlx::ConnectOptions::to_url_lossy(&url).to_string();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    let text = "name = \"s\"\n[population]\nschools = 2\nstudents = 200\nevents_per_school_day = 200000\n\
                [load]\nevents = 2000\n[calibrate]\nrows = 1000\nrepetitions = 2\n\
                [append]\nstrategies = [\"per-school\"]\nwriters = [2]\nduration_s = 1\nwarmup_s = 0\nrepetitions = 2\n";
    std::fs::write(&path, text).unwrap();
    let results = dir.path().join("results");
    let out =
        stroom(&["run", path.to_str().unwrap(), "--database-url", &url, "--results", results.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let told: Vec<&str> = stderr.lines().filter(|l| l.contains("cannot checkpoint between steps")).collect();
    assert_eq!(told.len(), 1, "{stderr}");
    assert!(told[0].contains("pg_checkpoint"), "{}", told[0]);
}

#[test]
fn a_full_database_disk_is_named_as_such() {
    let disk = mount_or_fail(120);
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    // Three million events need far more than the 120 MB the server's disk has.
    let path = scenario(dir.path(), 3_000_000);
    let out = stroom(
        &["run", path.to_str().unwrap(), "--results", results.to_str().unwrap()],
        &[("TMPDIR", disk.path().to_str().unwrap())],
    );
    let line = the_error_line(&out);
    assert!(line.starts_with("stroom: error: the database server's disk is full ("), "{line}");
    assert!(no_files_under(&results), "a failed run left files in {}", results.display());
    // The throwaway cluster went with the run.
    assert_eq!(std::fs::read_dir(disk.path()).unwrap().count(), 0, "the cluster's directory stayed behind");
}

#[test]
fn a_full_results_disk_fails_before_measuring_and_leaves_nothing() {
    let disk = mount_or_fail(1);
    let _ = std::fs::write(disk.path().join("fill"), vec![0u8; 2 << 20]);
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 10);
    let results = disk.path().join("results");
    // No server binaries: the check must come before a database is started.
    let out = stroom(
        &["run", path.to_str().unwrap(), "--results", results.to_str().unwrap()],
        &[("STROOM_PG_BINDIR", dir.path().to_str().unwrap())],
    );
    let line = the_error_line(&out);
    assert!(line.starts_with("stroom: error: writing results to "), "{line}");
    assert!(line.contains("No space left on device"), "{line}");
    assert!(no_files_under(&results));
}
