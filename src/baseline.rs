//! `stroom baseline`: the gate's baseline, from whole runs of a clean commit.

use std::path::Path;
use std::process::ExitCode;

use crate::{database, Cli};

/// Runs `scenario` `runs` times, each on a database of its own, merges the results and writes
/// them to `out` (a temporary file renamed into place).
pub async fn run(cli: &Cli, scenario: &Path, runs: u32, out: &Path, results: &Path) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(runs >= 2, "--runs must be at least 2: one run says nothing of run-to-run noise");
    let commit = stroom_loadgen::git_commit();
    anyhow::ensure!(
        commit != "unknown" && !commit.ends_with("-dirty"),
        "the working tree is not a clean commit ({commit}): commit or stash first, so the baseline names what it measured"
    );
    let scenario = stroom_loadgen::Scenario::load(scenario)?;
    stroom_loadgen::check_writable(results, &scenario.name)?;
    let mut done = Vec::new();
    for i in 1..=runs {
        stroom_loadgen::note(format_args!("baseline: run {i}/{runs} of {} at {commit}", scenario.name));
        let db = database::open(cli, Some(scenario.profile), scenario.database_url.as_deref()).await?;
        let outcome = stroom_loadgen::run(&scenario, &db, results).await?;
        anyhow::ensure!(
            outcome.passed,
            "run {i} failed its thresholds ({}); no baseline written",
            outcome.dir.display()
        );
        done.push(outcome.result);
    }
    let merged = stroom_loadgen::merge(&done)?;
    merged.write(out)?;
    stroom_loadgen::note(format_args!(
        "wrote {} ({} figures, {runs} runs of {commit})",
        out.display(),
        merged.figures.len()
    ));
    Ok(ExitCode::SUCCESS)
}
