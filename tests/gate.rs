//! Real runs end to end: result.json matches its checked-in schema, and the regression gate
//! fails when a scenario setting adds work per event.

use std::path::{Path, PathBuf};
use std::process::Command;

use stroom_cluster::testing::TestDatabase;
use stroom_loadgen::MAX_BAND;

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
repetitions = 3
rows = 100000
[append]
strategies = ["single", "per-school"]
writers = [1, 4]
duration_s = 3
warmup_s = 0.2
# One lane: per-school is then bound by its commits, so a slower commit path serves less.
commit_lanes = 1
[append.writers_by_strategy]
per-school = [2, 64]
[append.open]
rates = [100]
duration_s = 1
users = 8
strategies = ["per-school"]
[append.slo_search]
step_s = 1
max_steps = 2
# A first step far below the ceiling, so a rate is found and confirmed.
start_share = 0.02
confirm_s = 2
"#;

/// Writes the gate scenario with `replay` as its `[replay]` section plus `extra` sections.
fn scenario(dir: &Path, name: &str, replay: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text =
        format!("{SCENARIO}[replay]\n{replay}\n{extra}\n").replace("name = \"gate\"", &format!("name = \"{name}\""));
    std::fs::write(&path, text).unwrap();
    path
}

/// `stroom` with `args` in `cwd`; fails the test unless it exits 0.
fn stroom(cwd: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_stroom")).args(args).current_dir(cwd).output().unwrap();
    assert!(out.status.success(), "stroom {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs a scenario file; returns its result.json, after checking the run directory is whole.
fn run(cwd: &Path, url: &str, scenario: &Path) -> PathBuf {
    let results = cwd.join("results");
    stroom(cwd, &["run", scenario.to_str().unwrap(), "--database-url", url, "--results", results.to_str().unwrap()]);
    let name = scenario.file_stem().unwrap();
    let run_dir = std::fs::read_dir(results.join(name)).unwrap().next().unwrap().unwrap().path();
    for file in ["result.json", "report.md", "report.html", "hdr/per-school-r100.hlog"] {
        assert!(run_dir.join(file).exists(), "{file} missing");
    }
    run_dir.join("result.json")
}

/// A directory that is a git repository with one clean commit: `stroom baseline` run there
/// names that commit, as it would in a clean clone of stroom.
fn clean_repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    for args in [&["init", "-q"][..], &["commit", "-q", "--allow-empty", "-m", "gate test"]] {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(repo.path())
            .output()
            .expect("git is installed");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    repo
}

fn figure(path: &Path, name: &str) -> f64 {
    let result: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    result["figures"][name]["value"].as_f64().unwrap_or_else(|| panic!("{name} missing from {}", path.display()))
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
        "append.per-school.c64.concurrency",
        "append.per-school.p99_ms",
        "append.per-school.late_start_share",
        "append.per-school.r100.offered_events_per_s",
        "append.per-school.r100.unsent",
        "calibrate.copy_in.events_per_s",
        "calibrate.cpu_fold.events_per_s",
        "calibrate.commit_p50_ms",
        "replay.parallel.t2.events_per_s",
        "replay.digests_equal",
        "generate.events_per_day",
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
        "append.per-school.slo_step2.harness_late_share",
        "append.per-school.slo_searched_events_per_s",
        "append.per-school.slo_confirmed",
    ] {
        assert!(result["figures"].get(figure).is_some(), "{figure} missing from {}", path.display());
    }
    // Per-school sweeps its own writer counts, single the shared ones; each step has latencies.
    for figure in ["append.per-school.c64.events_per_s", "append.per-school.c2.p99_ms", "append.single.c4.p50_ms"] {
        assert!(result["figures"].get(figure).is_some(), "{figure} missing from {}", path.display());
    }
    for figure in ["append.per-school.c4.events_per_s", "append.single.c8.events_per_s"] {
        assert!(result["figures"].get(figure).is_none(), "{figure} should not be in {}", path.display());
    }
    assert!(result["environment"]["huge_pages_bytes"].is_u64(), "{} lacks huge_pages_bytes", path.display());
}

/// `stroom compare`, judging every figure whatever the hypervisor took (`--steal-limit 1`): the
/// faults injected here are far past any band, and this VM is at times short of half its CPU.
fn compare(baseline: &Path, current: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(["compare", baseline.to_str().unwrap(), current.to_str().unwrap(), "--steal-limit", "1"])
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// The verdict of `name` in a compare table.
fn verdict<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("{name} not in the table:\n{table}"))
}

const REPLAY: &str = "modes = [\"sequential\", \"parallel\", \"memory\"]\nthreads = [1, 2]\nrepetitions = 2";

#[tokio::test]
async fn results_match_the_schema_and_the_gate_fails_on_each_injected_fault() {
    let db = TestDatabase::create().await;
    let repo = clean_repo();
    let dir = repo.path();
    // The baseline as CI's is made: whole runs merged, so each figure has its run-to-run spread.
    let base = scenario(dir, "gate", REPLAY, "");
    let baseline = dir.join("baseline.json");
    let runs = dir.join("baseline-runs");
    stroom(
        dir,
        &[
            "baseline",
            "--scenario",
            base.to_str().unwrap(),
            "--runs",
            "2",
            "--out",
            baseline.to_str().unwrap(),
            "--results",
            runs.to_str().unwrap(),
            "--database-url",
            &db.url(),
        ],
    );
    let first = std::fs::read_dir(runs.join("gate")).unwrap().next().unwrap().unwrap().path().join("result.json");
    assert_matches_schema(&first);
    // A rate the search found is confirmed (or stepped down from) in a sustained window that
    // reports its worst minute. The first step is far below the ceiling, but a VM can still
    // start over 1% of its few hundred arrivals more than 1 ms late: then every step is
    // harness-bound or failed, and nothing is confirmed. (The faulty run below injects an
    // error into every window: nothing passes there either.)
    match figure(&first, "append.per-school.slo_searched_events_per_s") > 0.0 {
        true => {
            for name in ["slo_confirm1.worst_minute_p99_ms", "slo_confirm1.checkpoints", "slo_confirm1.harness_bound"] {
                assert!(figure(&first, &format!("append.per-school.{name}")).is_finite());
            }
        }
        false => {
            for step in 1..=2 {
                let passed = figure(&first, &format!("append.per-school.slo_step{step}.passed"));
                assert_eq!(passed, 0.0, "no rate found, yet step {step} passed in {}", first.display());
            }
            assert_eq!(figure(&first, "append.per-school.slo_confirmed"), 0.0);
        }
    }
    // A baseline against itself: every figure `same`, except a latency or late-start share that
    // broke its absolute limit in the baseline itself. Those are held whatever the baseline (a
    // fresh-clone CI run of 2456620 had the debug-built generator start 6.1% of one second's
    // 100 arrivals late), and this test checks the gate, not this VM's scheduling.
    let (code, table, _) = compare(&baseline, &baseline);
    let limits = ["append.per-school.p99_ms", "append.per-school.late_start_share"];
    let failed: Vec<&str> = table
        .lines()
        .filter(|l| l.split_whitespace().last() != Some("same") && l.contains('.') && !l.contains("figures judged"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(failed.iter().all(|f| limits.contains(f)), "a baseline against itself passes:\n{table}");
    assert_eq!(code == Some(0), failed.is_empty(), "the exit code follows the verdicts:\n{table}");

    // Each fault is bigger than the widest band the gate gives a figure ([`MAX_BAND`], a fall to
    // a quarter): a merged baseline of two runs on a noisy VM can spread a figure that wide (a
    // CI run of bba62d8 gave per-school's ceiling ±71%, and a 71% loss passed as noise), and a
    // band gate cannot see a smaller change there; the paired A/B gate (`tests/ab.rs`) is the one
    // that sees 10%. A fold five times slower: four times its measured time per event added.
    let ns = (4e9 / figure(&baseline, "replay.fold.events_per_s")) as u64;
    // The sequential replay dropped (a missing figure), per-school commits far slower, one error.
    let replay =
        format!("modes = [\"parallel\", \"memory\"]\nthreads = [1, 2]\nrepetitions = 2\nextra_ns_per_event = {ns}");
    // Per-school commits held ten times as long: group commit absorbs part of it (a held lane
    // gathers bigger groups), so the measured loss is checked below to be past the widest band.
    let faulty = scenario(dir, "faulty", &replay, "[inject]\nper_school_slowdown = 0.9\nerrors = 1\n");
    let faulty = run(dir, &db.url(), &faulty);
    let ratio =
        |p: &Path| figure(p, "append.per-school.ceiling_events_per_s") / figure(p, "calibrate.copy_in.events_per_s");
    let loss = 1.0 - ratio(&faulty) / ratio(&baseline);
    let need = MAX_BAND + 0.05;
    eprintln!("injected per-school loss: {:.1}% (needed {:.0}%)", loss * 100.0, need * 100.0);
    assert!(
        loss >= need,
        "the injection slowed per-school by {:.0}%, not the {:.0}% this test needs",
        loss * 100.0,
        need * 100.0
    );
    assert_matches_schema(&faulty);
    let (code, table, stderr) = compare(&baseline, &faulty);
    assert_eq!(code, Some(3), "the gate should fail:\n{table}");
    assert!(stderr.contains("regression in"), "names what regressed: {stderr}");
    assert_eq!(verdict(&table, "replay.fold.per_cpu_fold"), "REGRESSION", "a 5x slower fold:\n{table}");
    assert_eq!(verdict(&table, "append.per-school.errors"), "REGRESSION", "one error:\n{table}");
    assert_eq!(verdict(&table, "replay.sequential.per_copy_out"), "MISSING", "a missing figure:\n{table}");
    assert_eq!(
        verdict(&table, "append.per-school.ceiling_events_per_s"),
        "REGRESSION",
        "per-school appends slower than the widest band:\n{table}"
    );
    let report = std::fs::read_to_string(faulty.with_file_name("report.md")).unwrap();
    assert!(report.contains("## Gate against") && report.contains("**FAILED**"), "the verdict is in report.md");
    assert!(report.contains("faults were injected"), "a faulty run says it measures nothing");

    let plan = Command::new(env!("CARGO_BIN_EXE_stroom")).args(["plan", first.to_str().unwrap()]).output().unwrap();
    assert!(plan.status.success());
    assert!(String::from_utf8_lossy(&plan.stdout).contains("rebuilding 300M events on 40 workers: unmeasured"));
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
