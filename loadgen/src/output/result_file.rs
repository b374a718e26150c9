//! `result.json`: versioned (see `results/result.schema.json`), and written so that a
//! partial result never looks complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analysis::threshold::Verdict;
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::figures::Figures;
use crate::output::write_whole::write_whole;
use crate::scenario::Scenario;

/// Bumped whenever the layout of `result.json` changes incompatibly.
pub const RESULT_VERSION: u32 = 1;

/// Everything one run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// [`RESULT_VERSION`] of the writer.
    pub result_version: u32,
    /// The stroom version that wrote it.
    pub stroom_version: String,
    /// The validated scenario, as run.
    pub scenario: serde_json::Value,
    /// When the run started, RFC 3339.
    pub started_at: String,
    /// When it ended, RFC 3339.
    pub finished_at: String,
    /// Whether every phase ran to the end. Only complete results are written.
    pub complete: bool,
    /// What it ran on.
    pub environment: Environment,
    /// The figures, by dotted name.
    pub figures: Figures,
    /// The thresholds' verdicts.
    pub thresholds: Vec<Verdict>,
    /// Data behind the report's plots, by name: (x, y) points.
    #[serde(default)]
    pub series: BTreeMap<String, Vec<(f64, f64)>>,
    /// The capacity plan, in words.
    #[serde(default)]
    pub plan: Vec<String>,
    /// How a figure was measured where the figure cannot say it (a reused history, the way
    /// caches were emptied for a cold read), in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Whole runs merged into this result (`stroom baseline`): then each figure's repetitions
    /// are one value per run, in run order, so a figure and its reference pair up by index.
    /// 1 for a plain run.
    #[serde(default = "one_run", skip_serializing_if = "is_one_run")]
    pub runs: u32,
}

fn one_run() -> u32 {
    1
}

fn is_one_run(n: &u32) -> bool {
    *n == 1
}

impl RunResult {
    /// A complete result of scenario `name` with one repetition of each of `figures` and
    /// nothing else, for the tests of what reads results.
    #[cfg(test)]
    pub fn for_test(name: &str, figures: &[(&str, f64)]) -> Self {
        let mut r: Self = serde_json::from_value(serde_json::json!({
            "result_version": RESULT_VERSION, "stroom_version": "0", "scenario": {"name": name},
            "started_at": "", "finished_at": "", "complete": true,
            "environment": {"git_commit": "", "cpu_model": "", "cores": 1, "memory_bytes": 1, "database": "",
                            "profile": "", "settings": {}},
            "figures": {}, "thresholds": []
        }))
        .expect("a minimal result deserialises");
        for (k, v) in figures {
            r.figures.insert((*k).into(), crate::figures::Figure::from_repetitions("x", vec![*v]));
        }
        r
    }

    /// A result for `scenario`; figures are added as phases finish.
    pub fn new(scenario: &Scenario, started_at: String, environment: Environment) -> Self {
        Self {
            result_version: RESULT_VERSION,
            stroom_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: serde_json::to_value(scenario).unwrap_or_default(),
            started_at,
            finished_at: String::new(),
            complete: false,
            environment,
            figures: Figures::new(),
            thresholds: Vec::new(),
            series: BTreeMap::new(),
            plan: Vec::new(),
            notes: Vec::new(),
            runs: 1,
        }
    }

    /// Whether every threshold held.
    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|v| v.passed)
    }

    /// Writes the result to `path` whole: into a temporary file beside it, then renamed over it.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_whole(path, &serde_json::to_vec_pretty(self).expect("results serialise"))
    }

    /// Reads a result file; one that is not a complete stroom result is an error.
    pub fn read(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::ReadResult { path: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let r: Self = serde_json::from_str(&text).map_err(|e| bad(format!("not a stroom result: {e}")))?;
        if r.result_version != RESULT_VERSION {
            return Err(bad(format!("result_version {} is not {RESULT_VERSION}", r.result_version)));
        }
        if !r.complete {
            return Err(bad("the run did not complete".into()));
        }
        Ok(r)
    }
}

/// Fails now, not after an hour of measuring, when results could not be written under
/// `<root>/<scenario>/` (no permission, a read-only or full disk). It writes a probe file into
/// the nearest directory that exists and creates nothing, so a run that fails later leaves
/// no trace.
pub fn check_writable(root: &Path, scenario: &str) -> Result<()> {
    let target = root.join(scenario);
    let dir = target.ancestors().find(|d| d.is_dir()).unwrap_or(Path::new("."));
    let probe = dir.join(format!(".stroom-probe-{}", std::process::id()));
    let written = std::fs::write(&probe, vec![0u8; 64 * 1024]);
    let _ = std::fs::remove_file(&probe);
    written.map_err(|source| Error::WriteResults { path: target.clone(), source })
}

/// Writes `files` (name, contents) into `<root>/<scenario>/<stamp>/`: first into a hidden
/// `.partial` directory, then renamed into place, so a directory that exists is complete.
pub fn write_run_dir(root: &Path, scenario: &str, stamp: &str, files: &[(String, Vec<u8>)]) -> Result<PathBuf> {
    let parent = root.join(scenario);
    let partial = parent.join(format!(".{stamp}.partial"));
    let done = parent.join(stamp);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::WriteResults { path, source }
    };
    let written = (|| {
        std::fs::create_dir_all(&partial).map_err(io(&partial))?;
        for (name, contents) in files {
            let path = partial.join(name);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::write(&path, contents).map_err(io(&path))?;
        }
        std::fs::rename(&partial, &done).map_err(io(&done))
    })();
    if written.is_err() {
        // Half a result is no result: leave nothing behind (a full disk, say).
        let _ = std::fs::remove_dir_all(&partial);
    }
    written.map(|()| done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_run_dir_holds_every_file_and_no_partial() {
        let root = tempfile::tempdir().unwrap();
        let files = vec![("a".to_string(), b"1".to_vec()), ("hdr/b".to_string(), b"2".to_vec())];
        let dir = write_run_dir(root.path(), "quick", "20260101T000000Z", &files).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("hdr/b")).unwrap(), "2");
        let names: Vec<_> =
            std::fs::read_dir(root.path().join("quick")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("20260101T000000Z")]);
    }
}
