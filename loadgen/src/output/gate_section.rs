//! The gate's verdict in a run's report.md: `stroom compare` puts its table at the end, after
//! a marker, replacing the table of an earlier comparison, and writes the file whole (a
//! temporary file renamed over it), so a report is never half-written.

use std::path::Path;

use crate::error::{Error, Result};

const MARKER: &str = "<!-- stroom compare: the gate -->";

/// Puts `section` at the end of `report` (a report.md), in place of an earlier one.
pub fn put(report: &Path, section: &str) -> Result<()> {
    let io = |source| Error::WriteResults { path: report.to_path_buf(), source };
    let text = std::fs::read_to_string(report).map_err(io)?;
    let kept = text.split(MARKER).next().unwrap_or("").trim_end();
    let tmp = report.with_extension("md.tmp");
    std::fs::write(&tmp, format!("{kept}\n\n{MARKER}\n{section}")).map_err(io)?;
    std::fs::rename(&tmp, report).map_err(io)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_comparison_replaces_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.md");
        std::fs::write(&report, "# Report\n").unwrap();
        super::put(&report, "## Gate: passed\n").unwrap();
        super::put(&report, "## Gate: **FAILED**\n").unwrap();
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(text.starts_with("# Report\n") && text.contains("FAILED") && !text.contains("passed"), "{text}");
    }
}
