//! A large rebuild's two needs, on a small history: a cluster that outlives the run
//! (`--db-dir`) with a history loaded once and used again (`[load] reuse`), and a cold
//! replay that restarts the server and empties the page cache, saying how.

use std::path::Path;

use crate::common::stroom;

fn scenario(dir: &Path, seed: u64) -> std::path::PathBuf {
    let path = dir.join(format!("s{seed}.toml"));
    let text = format!(
        "name = \"kept\"\nseed = {seed}\n[database]\nprofile = \"fast\"\n[population]\nschools = 2\nstudents = 200\n\
         events_per_school_day = 100000\n[load]\nevents = 30000\nreuse = true\n\
         [replay]\nmodes = [\"parallel\", \"cold\"]\nthreads = [2]\nrepetitions = 1\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `scenario` on the cluster in `db_dir`, its results into `results` (a new directory).
fn run(db_dir: &Path, results: &Path, scenario: &Path) -> serde_json::Value {
    let out = stroom(
        &[
            "--db-dir",
            db_dir.to_str().unwrap(),
            "run",
            scenario.to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "stroom run failed: {}", String::from_utf8_lossy(&out.stderr));
    let run_dir = std::fs::read_dir(results.join("kept")).unwrap().flatten().map(|e| e.path()).max().unwrap();
    serde_json::from_slice(&std::fs::read(run_dir.join("result.json")).unwrap()).unwrap()
}

fn notes(r: &serde_json::Value) -> String {
    r["notes"]
        .as_array()
        .map(|n| n.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

fn figure(r: &serde_json::Value, name: &str) -> f64 {
    r["figures"][name]["value"].as_f64().unwrap_or_else(|| panic!("{name} missing: {}", r["figures"]))
}

#[test]
fn a_kept_history_is_loaded_once_and_a_cold_replay_says_how_it_was_cold() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let results = |n: u32| tmp.path().join(format!("results-{n}"));
    let s = scenario(tmp.path(), 7);

    let first = run(&db, &results(1), &s);
    assert!(!notes(&first).contains("history reused"), "{}", notes(&first));
    assert!(notes(&first).contains("posix_fadvise(DONTNEED)"), "the cold method is stated: {}", notes(&first));
    assert!(figure(&first, "replay.cold.events_per_s") > 0.0);
    assert!(figure(&first, "replay.cold.mb_per_s") > 0.0);
    assert!(figure(&first, "replay.cold.per_copy_out") > 0.0);
    assert_eq!(figure(&first, "replay.digests_equal"), 1.0, "the cold rebuild gives the warm one's model");
    assert!(!db.join("data/postmaster.pid").exists(), "the kept cluster's server stops with stroom");
    assert!(db.join("data/PG_VERSION").exists(), "its files stay");

    let second = run(&db, &results(2), &s);
    assert!(notes(&second).contains("history reused"), "{}", notes(&second));
    assert_eq!(figure(&second, "load.events"), figure(&first, "load.events"));
    assert_eq!(
        figure(&second, "load.events_per_s"),
        figure(&first, "load.events_per_s"),
        "the load's figures are the loading run's"
    );
    assert_eq!(figure(&second, "replay.events"), figure(&first, "replay.events"));

    // Another seed is another history: loaded afresh.
    let other = run(&db, &results(3), &scenario(tmp.path(), 8));
    assert!(!notes(&other).contains("history reused"), "{}", notes(&other));
}
