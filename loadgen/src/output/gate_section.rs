//! The gate's verdict in a run's report.md: `stroom compare` puts its table at the end, after
//! a marker, replacing the table of an earlier comparison, and writes the file whole (a
//! temporary file renamed over it), so a report is never half-written.

use std::path::Path;

use crate::error::{Error, Result};
use crate::output::write_whole::write_whole;

const MARKER: &str = "<!-- stroom compare: the gate -->";

/// Puts `section` at the end of `report` (a report.md), in place of an earlier one.
pub fn put(report: &Path, section: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(report).map_err(|source| Error::WriteResults { path: report.to_path_buf(), source })?;
    write_whole(report, with_section(&text, section).as_bytes())
}

/// `text` (a report.md) with `section` as its gate verdict, in place of any it had.
pub fn with_section(text: &str, section: &str) -> String {
    let kept = text.split(MARKER).next().unwrap_or("").trim_end();
    format!("{kept}\n\n{MARKER}\n{section}")
}

/// The gate verdict a report.md holds, if `stroom compare` put one there.
pub fn section(text: &str) -> Option<&str> {
    text.split_once(MARKER).map(|(_, s)| s.strip_prefix('\n').unwrap_or(s))
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
        assert_eq!(super::section(&text), Some("## Gate: **FAILED**\n"));
        assert_eq!(super::section("# Report\n"), None);
    }
}
