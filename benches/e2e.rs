//! The end-to-end gate: runs scenarios/quick.toml with the stroom binary and compares the
//! result with results/baseline.json using `stroom compare`: every headline figure, each
//! normalised by its own run's reference, within a noise band from its repetitions (the
//! baseline merges three runs, so that is the run-to-run noise). `cargo bench` fails on a
//! regression or a missing figure, prints the deltas and puts them in the run's report.md.
//!
//! `STROOM_GATE_NOISE` sets the band's floor (default 0.10). `stroom baseline` remakes
//! results/baseline.json from a clean commit.

use std::path::Path;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    // Criterion-style flags (`--warm-up-time 1`, `--bench`) are not for this target.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stroom = env!("CARGO_BIN_EXE_stroom");
    let results = root.join("target/e2e-results");
    let _ = std::fs::remove_dir_all(results.join("quick"));
    let status = Command::new(stroom)
        .args(["run", "scenarios/quick.toml", "--results"])
        .arg(&results)
        .current_dir(root)
        .status()
        .expect("run stroom");
    if !status.success() {
        eprintln!("e2e: stroom run scenarios/quick.toml failed ({status})");
        return ExitCode::FAILURE;
    }
    let Some(run) = std::fs::read_dir(results.join("quick")).ok().and_then(|d| d.flatten().map(|e| e.path()).max())
    else {
        eprintln!("e2e: no result directory was written");
        return ExitCode::FAILURE;
    };
    let noise = std::env::var("STROOM_GATE_NOISE").unwrap_or_else(|_| "0.10".into());
    let status = Command::new(stroom)
        .arg("compare")
        .arg(root.join("results/baseline.json"))
        .arg(run.join("result.json"))
        .args(["--noise", &noise])
        .status()
        .expect("run stroom compare");
    if status.success() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "e2e: a headline regressed against results/baseline.json (the table above; `stroom baseline` remakes it)"
        );
        ExitCode::FAILURE
    }
}
