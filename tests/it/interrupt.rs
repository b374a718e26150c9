//! Interrupting stroom (SIGINT) leaves no postgres process and no temporary directory behind.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A TMPDIR of its own that the server's unprivileged user can traverse.
fn private_tmp() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn stroom(tmp: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(args)
        .env("TMPDIR", tmp)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads stderr until a line contains `marker`; returns the lines read.
fn wait_for(child: &mut Child, marker: &str) -> Vec<String> {
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut lines = Vec::new();
    for line in stderr.by_ref() {
        let line = line.unwrap();
        let found = line.contains(marker);
        lines.push(line);
        if found {
            // Keep draining, so stroom's later lines (its shutdown note) have a reader.
            std::thread::spawn(move || stderr.for_each(drop));
            return lines;
        }
    }
    panic!("stroom ended before printing '{marker}': {lines:#?}");
}

fn postmaster_pid(tmp: &Path) -> Pid {
    let cluster = std::fs::read_dir(tmp).unwrap().next().expect("a cluster directory").unwrap().path();
    let pidfile = std::fs::read_to_string(cluster.join("data/postmaster.pid")).unwrap();
    Pid::from_raw(pidfile.lines().next().unwrap().trim().parse().unwrap())
}

fn interrupt_and_check(mut child: Child, tmp: &Path) {
    let server = postmaster_pid(tmp);
    assert!(kill(server, None).is_ok(), "postgres should be running");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit code after SIGINT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while kill(server, None).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(kill(server, None).is_err(), "postgres {server} still runs after stroom exited");
    let left: Vec<_> = std::fs::read_dir(tmp).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn sigint_during_db_start_cleans_up() {
    let tmp = private_tmp();
    let mut child = stroom(tmp.path(), &["db", "start", "--profile", "fast"]);
    wait_for(&mut child, "Ctrl-C stops it");
    interrupt_and_check(child, tmp.path());
}

#[test]
fn sigint_during_a_run_cleans_up() {
    let tmp = private_tmp();
    let scenario = tmp.path().join("s.toml");
    std::fs::write(
        &scenario,
        "name = \"interrupted\"\n[population]\nschools = 4\n[load]\nevents = 3000000\n[calibrate]\nrepetitions = 5\n",
    )
    .unwrap();
    let scenario_dir = tempfile::tempdir().unwrap();
    let moved = scenario_dir.path().join("s.toml");
    std::fs::rename(&scenario, &moved).unwrap();
    let results = scenario_dir.path().join("results");
    let mut child = stroom(
        tmp.path(),
        &["run", moved.to_str().unwrap(), "--profile", "fast", "--results", results.to_str().unwrap()],
    );
    wait_for(&mut child, "load: generating history");
    interrupt_and_check(child, tmp.path());
    assert!(!results.exists(), "an interrupted run must not leave a result directory");
}

#[test]
fn two_servers_and_a_standby_start_and_sigint_removes_them_all() {
    let tmp = private_tmp();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(["db", "start", "--profile", "fast", "--servers", "2", "--standby"])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = wait_for(&mut child, "Ctrl-C stops them");
    let urls: Vec<String> = BufReader::new(child.stdout.take().unwrap()).lines().take(3).map(|l| l.unwrap()).collect();
    assert_eq!(urls.len(), 3, "{urls:?}");
    assert!(urls.iter().all(|u| u.starts_with("postgres://")), "{urls:?}");
    assert!(urls[0] != urls[1] && urls[1] != urls[2], "{urls:?}");
    assert!(said.iter().any(|l| l.contains("standby of server 1")), "{said:#?}");
    let dirs: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    assert_eq!(dirs.iter().filter(|d| d.join("data/standby.signal").exists()).count(), 1, "{dirs:?}");
    let servers: Vec<Pid> = dirs
        .iter()
        .map(|d| {
            let pidfile = std::fs::read_to_string(d.join("data/postmaster.pid")).unwrap();
            Pid::from_raw(pidfile.lines().next().unwrap().trim().parse().unwrap())
        })
        .collect();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130), "exit code after SIGINT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while servers.iter().any(|s| kill(*s, None).is_ok()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(servers.iter().all(|s| kill(*s, None).is_err()), "a server still runs: {servers:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
