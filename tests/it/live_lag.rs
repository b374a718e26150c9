//! The read side's lag, end to end: a live projector beside the open loop and the live
//! phase, and a transaction held open in another database that freezes the feed, is named
//! while it does, and is reported apart from the rest.

use crate::common::stroom;

const SCENARIO: &str = r#"
name = "lag"
seed = 7
[database]
profile = "fast"
[population]
schools = 3
students = 300
events_per_school_day = 100000
[load]
events = 20000
[calibrate]
repetitions = 1
rows = 5000
[append]
strategies = ["per-school"]
writers = [8]
duration_s = 2
warmup_s = 1
repetitions = 1
[append.open]
rates = [300]
duration_s = 4
users = 32
project = true
[live]
start_hour = 10
hours = 0.25
speedup = 60
warmup_s = 2
users = 64
project = true
stall_s = 3
"#;

fn figure(r: &serde_json::Value, name: &str) -> f64 {
    r["figures"][name]["value"].as_f64().unwrap_or_else(|| panic!("{name} missing: {}", r["figures"]))
}

#[test]
fn lag_is_measured_beside_the_appends_and_a_stall_is_named_and_kept_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lag.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    let results = tmp.path().join("results");
    let out = stroom(&["run", path.to_str().unwrap(), "--results", results.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stroom run failed: {stderr}");
    let dir = std::fs::read_dir(results.join("lag")).unwrap().flatten().map(|e| e.path()).max().unwrap();
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("result.json")).unwrap()).unwrap();

    // The open loop: every acknowledged append became visible, with a lag measured.
    assert!(figure(&r, "append.per-school.r300.lag_p99_ms") > 0.0);
    assert!(figure(&r, "append.per-school.r300.project_events_per_s") > 100.0);
    assert_eq!(figure(&r, "project.lag_unseen"), 0.0, "nothing acknowledged stayed invisible");

    // The live phase: the 3 s stall made what was acknowledged during it wait seconds, and
    // the projector said what it was waiting on while it did.
    let stall = figure(&r, "live.per-school.stall_lag_max_ms");
    assert!(stall >= 1500.0, "the stall held the feed: {stall} ms");
    assert_eq!(figure(&r, "project.stall_lag_max_ms"), stall);
    let outside = figure(&r, "live.per-school.lag_max_ms");
    assert!(outside < stall, "the stall is kept out of the rest: {outside} ms against {stall} ms");
    assert!(stderr.contains("stall: transaction"), "{stderr}");
    assert!(stderr.contains("not yet visible; waiting on transaction"), "the blocker is named: {stderr}");
    assert!(stderr.contains("in database postgres"), "{stderr}");
}
