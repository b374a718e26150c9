//! The end-to-end gate, in two parts:
//!
//! 1. `scenarios/quick.toml` once, on the zero-config database: every phase, and its thresholds
//!    (nothing lost or duplicated through the faults, moves and the standby; digests equal).
//!    A failed threshold fails the gate.
//! 2. `stroom ab` of this build (head) against the commit `results/gate-base` names (base,
//!    built in a worktree), on `scenarios/gate.toml`, in steps: both builds keep their stores
//!    open on one cluster and run each short step (per-school's closed loop, the fold, a
//!    projector's poll, the other strategies in turn) a second apart, round after round. A
//!    figure fails the gate only when its whole 99.9% interval is more than δ (5%) slower; a
//!    wrong outcome in either arm fails it too. Both arms see the same host, so nothing is
//!    excused for steal and nothing is run twice to confirm. Whole-run blocks (replays, p99
//!    at a fixed rate, generator, memory) are left to `stroom ab` by hand: they do not fit
//!    CI's time.
//!
//! `STROOM_GATE_BUDGET` sets the A/B run's time for steps (default "5min"); building the base
//! takes a few minutes more the first time (it is cached under target/ab/ by commit).

use std::path::Path;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    // Criterion-style flags (`--warm-up-time 1`, `--bench`) are not for this target.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stroom = env!("CARGO_BIN_EXE_stroom");
    let results = root.join("target/e2e-results");
    let _ = std::fs::remove_dir_all(results.join("quick"));
    let quick = Command::new(stroom)
        .args(["run", "scenarios/quick.toml", "--results"])
        .arg(&results)
        .current_dir(root)
        .status()
        .expect("run stroom");
    if !quick.success() {
        eprintln!("e2e: stroom run scenarios/quick.toml failed ({quick}): a threshold above failed, or the run did");
        return ExitCode::FAILURE;
    }
    let base = match base_commit(root) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("e2e: {why}");
            return ExitCode::FAILURE;
        }
    };
    let budget = std::env::var("STROOM_GATE_BUDGET").unwrap_or_else(|_| "5min".into());
    eprintln!(
        "e2e: stroom ab of this build against {base} (results/gate-base) on scenarios/gate.toml, {budget} of steps"
    );
    let ab = Command::new(stroom)
        .args(["ab", "scenarios/gate.toml", "--base", &base, "--head", stroom, "--budget", "0s"])
        .args(["--steps-budget", &budget, "--results"])
        .arg(&results)
        .current_dir(root)
        .status()
        .expect("run stroom ab");
    if ab.success() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "e2e: {}",
        match ab.code() {
            Some(3) => "a headline figure is slower than the base, or an arm had a wrong outcome (the report above)",
            _ => "stroom ab failed (above)",
        }
    );
    ExitCode::FAILURE
}

/// The first word of `results/gate-base` that is not a comment: the base commit.
fn base_commit(root: &Path) -> Result<String, String> {
    let path = root.join("results/gate-base");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string)
        .ok_or_else(|| format!("{} names no commit", path.display()))
}
