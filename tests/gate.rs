//! Real runs end to end: result.json matches its checked-in schema, and the regression gate
//! fails when a scenario setting adds work per event.

use std::path::{Path, PathBuf};
use std::process::Command;

use stroom_cluster::testing::TestDatabase;

const SCENARIO: &str = r#"
name = "gate"
thresholds = ["replay.digests_equal >= 1", "replay.parallel.events_per_s > 0"]
[database]
profile = "fast"
[population]
schools = 4
students = 400
events_per_school_day = 3000
[load]
days = 2
[calibrate]
repetitions = 1
rows = 2000
[append]
strategies = ["single", "per-school"]
writers = [1, 4]
duration_s = 1
warmup_s = 0.2
[append.writers_by_strategy]
per-school = [2, 8]
[append.open]
rates = [100]
duration_s = 1
users = 8
strategies = ["per-school"]
[append.slo_search]
step_s = 1
max_steps = 2
[replay]
modes = ["sequential", "parallel", "memory"]
threads = [1, 2]
repetitions = 2
"#;

fn run(dir: &Path, url: &str, name: &str, extra_ns: u64) -> PathBuf {
    let scenario = dir.join(format!("{name}.toml"));
    std::fs::write(&scenario, format!("{SCENARIO}extra_ns_per_event = {extra_ns}\n")).unwrap(); // lands in [replay]
    let results = dir.join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(["run", scenario.to_str().unwrap(), "--database-url", url, "--results", results.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "stroom run failed: {}", String::from_utf8_lossy(&out.stderr));
    let run_dir = std::fs::read_dir(results.join("gate")).unwrap().next().unwrap().unwrap().path();
    for file in ["result.json", "report.md", "report.html", "hdr/per-school-r100.hlog"] {
        assert!(run_dir.join(file).exists(), "{file} missing");
    }
    run_dir.join("result.json")
}

fn assert_matches_schema(path: &Path) {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/result.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let result: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(&result).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{} does not match the schema: {errors:#?}", path.display());
    for figure in [
        "append.per-school.ceiling_events_per_s",
        "append.per-school.ceiling_p99_ms",
        "append.per-school.c8.concurrency",
        "append.per-school.p99_ms",
        "append.per-school.r100.offered_events_per_s",
        "append.per-school.r100.unsent",
        "calibrate.copy_in.events_per_s",
        "replay.parallel.t2.events_per_s",
        "replay.digests_equal",
        "generate.events_per_day",
        "plan.rebuild_300m_40t_s",
    ] {
        assert!(result["figures"].get(figure).is_some(), "{figure} missing from {}", path.display());
    }
    // The references: parallel COPY in per k, parallel and ordered COPY out, pgbench at each C.
    for figure in [
        "calibrate.copy_in.k1.events_per_s",
        "calibrate.copy_in.connections",
        "calibrate.copy_out.events_per_s",
        "calibrate.copy_out_ordered.events_per_s",
        "calibrate.pgbench.single.c1.events_per_s",
        "calibrate.pgbench.single.c4.events_per_s",
        "append.single.vs_pgbench_min",
        "append.per-school.slo_rate_events_per_s",
        "append.per-school.slo_step1.p99_ms",
        "append.per-school.slo_step2.checkpoints",
    ] {
        assert!(result["figures"].get(figure).is_some(), "{figure} missing from {}", path.display());
    }
    // Per-school sweeps its own writer counts, single the shared ones; each step has latencies.
    for figure in ["append.per-school.c8.events_per_s", "append.per-school.c2.p99_ms", "append.single.c4.p50_ms"] {
        assert!(result["figures"].get(figure).is_some(), "{figure} missing from {}", path.display());
    }
    for figure in ["append.per-school.c4.events_per_s", "append.single.c8.events_per_s"] {
        assert!(result["figures"].get(figure).is_none(), "{figure} should not be in {}", path.display());
    }
    assert!(result["environment"]["huge_pages_bytes"].is_u64(), "{} lacks huge_pages_bytes", path.display());
}

#[tokio::test]
async fn results_match_the_schema_and_the_gate_fails_on_added_work() {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let baseline = run(dir.path(), &db.url(), "baseline", 0);
    let slower = run(dir.path(), &db.url(), "slower", 20_000);
    assert_matches_schema(&baseline);
    assert_matches_schema(&slower);

    let compare = |current: &Path| {
        Command::new(env!("CARGO_BIN_EXE_stroom"))
            .args([
                "compare",
                baseline.to_str().unwrap(),
                current.to_str().unwrap(),
                "--only",
                "replay.parallel",
                "--only",
                "replay.sequential",
            ])
            .output()
            .unwrap()
    };
    let same = compare(&baseline);
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stdout));
    let out = compare(&slower);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "the gate should fail:\n{table}");
    assert!(table.contains("REGRESSION") && table.contains("replay.parallel.events_per_s"), "{table}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("regression in"), "names what regressed");

    let plan = Command::new(env!("CARGO_BIN_EXE_stroom")).args(["plan", baseline.to_str().unwrap()]).output().unwrap();
    assert!(plan.status.success());
    assert!(String::from_utf8_lossy(&plan.stdout).contains("rebuilding 300M events on 40 workers"));
}

#[test]
fn a_failed_threshold_exits_non_zero_and_says_which() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("strict.toml");
    std::fs::write(
        &scenario,
        "name = \"strict\"\nthresholds = [\"replay.parallel.events_per_s > 1e12\"]\n[database]\nprofile = \"fast\"\n[population]\nschools = 2\nstudents = 100\n[load]\ndays = 1\n[replay]\nmodes = [\"parallel\"]\nthreads = [1]\nrepetitions = 1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--database-url",
            &db.url(),
            "--results",
            dir.path().join("r").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("threshold failed: replay.parallel.events_per_s > 1e12 (replay.parallel.events_per_s is "),
        "{stderr}"
    );
}
