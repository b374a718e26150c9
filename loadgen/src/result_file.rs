//! `result.json`: versioned, and written so that a partial result never looks complete.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::figures::Figures;
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
    /// What it ran on.
    pub environment: Environment,
    /// The figures, by dotted name.
    pub figures: Figures,
}

impl RunResult {
    /// A result for `scenario`; figures are added as phases finish.
    pub fn new(scenario: &Scenario, started_at: String, environment: Environment) -> Self {
        Self {
            result_version: RESULT_VERSION,
            stroom_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: serde_json::to_value(scenario).unwrap_or_default(),
            started_at,
            finished_at: String::new(),
            environment,
            figures: Figures::new(),
        }
    }

    /// Reads a result file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::WriteResults { path: path.into(), source })?;
        serde_json::from_str(&text).map_err(|e| Error::WriteResults {
            path: path.into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }
}

/// Writes `files` (name, contents) into `<root>/<scenario>/<stamp>/`: first into a hidden
/// `.partial` directory, then renamed into place, so a directory that exists is complete.
pub fn write_run_dir(root: &Path, scenario: &str, stamp: &str, files: &[(&str, String)]) -> Result<PathBuf> {
    let parent = root.join(scenario);
    let partial = parent.join(format!(".{stamp}.partial"));
    let done = parent.join(stamp);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::WriteResults { path, source }
    };
    std::fs::create_dir_all(&partial).map_err(io(&partial))?;
    for (name, contents) in files {
        let path = partial.join(name);
        std::fs::write(&path, contents).map_err(io(&path))?;
    }
    std::fs::rename(&partial, &done).map_err(io(&done))?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_run_dir_holds_every_file_and_no_partial() {
        let root = tempfile::tempdir().unwrap();
        let dir =
            write_run_dir(root.path(), "quick", "20260101T000000Z", &[("a", "1".into()), ("b", "2".into())]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("b")).unwrap(), "2");
        let names: Vec<_> =
            std::fs::read_dir(root.path().join("quick")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("20260101T000000Z")]);
    }
}
