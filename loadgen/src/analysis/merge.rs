//! `stroom baseline`: whole runs of one commit merged into one result, so the gate knows each
//! figure's run-to-run noise, not only its noise within a run.

use crate::error::{Error, Result};
use crate::figures::Figure;
use crate::output::result_file::RunResult;

/// Merges `runs` (at least two, all of one clean commit): each figure that every run has
/// gets one repetition per run (that run's value) and their median as its value.
pub fn merge(runs: &[RunResult]) -> Result<RunResult> {
    let bad = |reason: String| Error::ReadResult { path: "baseline".into(), reason };
    let first = runs.first().ok_or_else(|| bad("no runs to merge".into()))?;
    let commit = &first.environment.git_commit;
    if commit.is_empty() || commit == "unknown" || commit.ends_with("-dirty") {
        return Err(bad(format!("the runs were made from {commit:?}, not a clean commit")));
    }
    if let Some(other) = runs.iter().find(|r| &r.environment.git_commit != commit) {
        return Err(bad(format!("runs of two commits: {commit} and {}", other.environment.git_commit)));
    }
    let mut merged = first.clone();
    merged.figures.clear();
    for (name, f) in &first.figures {
        let values: Option<Vec<f64>> = runs.iter().map(|r| r.figures.get(name).map(|g| g.value)).collect();
        if let Some(values) = values {
            merged.figures.insert(name.clone(), Figure::from_repetitions(&f.unit, values));
        }
    }
    merged.finished_at = runs.last().map(|r| r.finished_at.clone()).unwrap_or_default();
    merged.thresholds.clear();
    merged.series.clear();
    merged.plan.clear();
    merged.runs = runs.len() as u32;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(commit: &str, v: f64) -> RunResult {
        let mut r: RunResult = serde_json::from_value(serde_json::json!({
            "result_version": 1, "stroom_version": "0", "scenario": {}, "started_at": "", "finished_at": "",
            "complete": true,
            "environment": {"git_commit": commit, "cpu_model": "", "cores": 1, "memory_bytes": 1, "database": "", "profile": "", "settings": {}},
            "figures": {}, "thresholds": []
        }))
        .unwrap();
        r.figures.insert("a".into(), Figure::from_repetitions("x", vec![v, v + 1.0]));
        if v > 1.0 {
            r.figures.insert("only_in_some".into(), Figure::from_repetitions("x", vec![v]));
        }
        r
    }

    #[test]
    fn one_repetition_per_run_and_only_figures_every_run_has() {
        let m = merge(&[run("abc", 1.0), run("abc", 3.0), run("abc", 2.0)]).unwrap();
        assert_eq!(m.runs, 3);
        assert_eq!(m.figures["a"].repetitions, vec![1.5, 3.5, 2.5]);
        assert_eq!(m.figures["a"].value, 2.5);
        assert!(!m.figures.contains_key("only_in_some"));
    }

    #[test]
    fn a_dirty_tree_or_two_commits_are_refused() {
        assert!(merge(&[run("abc-dirty", 1.0), run("abc-dirty", 1.0)]).is_err());
        assert!(merge(&[run("abc", 1.0), run("abd", 1.0)]).is_err());
    }
}
