//! Bad input gets one clear line on stderr and a non-zero exit, never a panic.

use crate::common::{stroom, the_error_line};

#[test]
fn missing_server_binaries_say_how_to_get_them() {
    let empty = tempfile::tempdir().unwrap();
    let out = stroom(&["db", "start"], &[("STROOM_PG_BINDIR", empty.path().to_str().unwrap())]);
    let line = the_error_line(&out);
    assert!(line.starts_with("stroom: error: starting the database: no PostgreSQL server binaries"), "{line}");
    assert!(line.contains("STROOM_PG_BINDIR="), "{line}");
    assert!(line.contains("install your distribution's PostgreSQL server package"), "{line}");
    assert!(line.contains("DATABASE_URL"), "{line}");
}

#[test]
fn a_malformed_scenario_fails_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "name = \"bad\"\n[population]\nschools = 3\n[load]\nevents = \"many\"\n").unwrap();
    // A binary directory with nothing in it proves no database was started first.
    let out = stroom(&["run", path.to_str().unwrap()], &[("STROOM_PG_BINDIR", dir.path().to_str().unwrap())]);
    let line = the_error_line(&out);
    assert!(line.contains("bad.toml:5: "), "{line}");
    assert!(line.contains("invalid type"), "{line}");
}

#[test]
fn a_missing_scenario_file_is_one_line() {
    let line = the_error_line(&stroom(&["run", "/nonexistent/x.toml"], &[]));
    assert!(line.starts_with("stroom: error: reading /nonexistent/x.toml: "), "{line}");
}

#[test]
fn an_unreachable_database_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, "name = \"s\"\n[population]\nschools = 1\n[load]\nevents = 10\n").unwrap();
    let out = stroom(&["run", path.to_str().unwrap(), "--database-url", "postgres://nobody@127.0.0.1:1/x"], &[]);
    let line = the_error_line(&out);
    assert!(line.contains("connecting to the database"), "{line}");
}

#[test]
fn running_as_root_without_the_server_user_says_so() {
    // Only root runs the server as another user; elsewhere this cannot run, and says so.
    assert!(nix::unistd::Uid::effective().is_root(), "NOT RUN: this test needs root (CI runs as root)");
    let out = stroom(&["db", "start"], &[("STROOM_PG_USER", "no_such_user_here")]);
    let line = the_error_line(&out);
    assert!(line.contains("user 'no_such_user_here'"), "{line}");
    assert!(line.contains("does not exist"), "{line}");
}

#[test]
fn a_baseline_from_a_dirty_tree_is_refused_before_anything_runs() {
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(repo.path())
            .output()
            .expect("git is installed");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q"]);
    std::fs::write(repo.path().join("f"), "1").unwrap();
    git(&["add", "f"]);
    git(&["commit", "-q", "-m", "one"]);
    std::fs::write(repo.path().join("f"), "2").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(["baseline", "--scenario", "/nonexistent/quick.toml"])
        .env("STROOM_PG_BINDIR", repo.path())
        .env_remove("DATABASE_URL")
        .current_dir(repo.path())
        .output()
        .unwrap();
    let line = the_error_line(&out);
    assert!(line.contains("is not a clean commit") && line.contains("-dirty"), "{line}");
}

#[test]
fn a_report_of_a_missing_result_is_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.json");
    let line = the_error_line(&stroom(&["report", path.to_str().unwrap()], &[]));
    assert!(line.starts_with("stroom: error: rebuilding the reports of "), "{line}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn several_servers_are_throwaway_clusters_only() {
    let out = stroom(&["db", "start", "--servers", "2", "--database-url", "postgres://u@127.0.0.1:1/x"], &[]);
    let line = the_error_line(&out);
    assert!(line.starts_with("stroom: error: --servers 2 starts throwaway clusters"), "{line}");
    let out = stroom(&["db", "start", "--standby", "--database-url", "postgres://u@127.0.0.1:1/x"], &[]);
    let line = the_error_line(&out);
    assert!(line.contains("--standby needs a throwaway cluster"), "{line}");
}
