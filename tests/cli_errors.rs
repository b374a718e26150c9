//! Bad input gets one clear line on stderr and a non-zero exit, never a panic.

mod common;

use common::{stroom, the_error_line};

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
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("not root: the unprivileged-user path does not apply");
        return;
    }
    let out = stroom(&["db", "start"], &[("STROOM_PG_USER", "no_such_user_here")]);
    let line = the_error_line(&out);
    assert!(line.contains("user 'no_such_user_here'"), "{line}");
    assert!(line.contains("does not exist"), "{line}");
}
