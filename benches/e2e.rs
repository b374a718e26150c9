//! The end-to-end gate: runs scenarios/quick.toml with the stroom binary and compares the
//! result with results/baseline.json using `stroom compare`, on replay figures normalised by
//! the same run's COPY-out rate. `cargo bench` fails on a regression and prints the deltas.
//!
//! `STROOM_GATE_NOISE` sets the noise threshold (default 0.35: shared 2-core CI machines are
//! noisy, and a real regression such as a slower decoder moves replay far more than that).

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
    let noise = std::env::var("STROOM_GATE_NOISE").unwrap_or_else(|_| "0.35".into());
    let status = Command::new(stroom)
        .arg("compare")
        .arg(root.join("results/baseline.json"))
        .arg(run.join("result.json"))
        .args([
            "--noise",
            &noise,
            "--only",
            "replay.parallel",
            "--only",
            "replay.sequential",
            "--only",
            "replay.digests_equal",
        ])
        .status()
        .expect("run stroom compare");
    if status.success() {
        ExitCode::SUCCESS
    } else {
        eprintln!("e2e: replay regressed against results/baseline.json");
        ExitCode::FAILURE
    }
}
