//! `stroom report RESULT.json`: a run's report.md and report.html rebuilt from its result file
//! alone, so results written by an older stroom gain the current report's views. A gate
//! verdict that `stroom compare` put into report.md is kept.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::output::result_file::RunResult;
use crate::output::write_whole::write_whole;
use crate::output::{gate_section, report_html, report_md};

/// Rewrites the reports beside `result`; returns their paths. Each is written whole.
pub fn rerender(result: &Path) -> Result<Vec<PathBuf>> {
    let r = RunResult::read(result)?;
    let dir = result.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let (md_path, html_path) = (dir.join("report.md"), dir.join("report.html"));
    let mut md = report_md::render(&r);
    let old = std::fs::read_to_string(&md_path).unwrap_or_default();
    if let Some(gate) = gate_section::section(&old) {
        md = gate_section::with_section(&md, gate);
    }
    write_whole(&md_path, md.as_bytes())?;
    write_whole(&html_path, report_html::render(&r).as_bytes())?;
    Ok(vec![md_path, html_path])
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_are_rebuilt_from_the_result_and_the_gate_verdict_kept() {
        let dir = tempfile::tempdir().unwrap();
        let result = dir.path().join("result.json");
        let json = crate::output::result_file::RunResult::for_test("old-run", &[("replay.parallel.events_per_s", 5.0)]);
        std::fs::write(&result, serde_json::to_vec(&json).unwrap()).unwrap();
        let md = dir.path().join("report.md");
        std::fs::write(&md, "# stale\n\n<!-- stroom compare: the gate -->\n## Gate: passed\n").unwrap();
        let written = super::rerender(&result).unwrap();
        assert_eq!(written.len(), 2);
        let text = std::fs::read_to_string(&md).unwrap();
        assert!(text.starts_with("# stroom run: old-run") && !text.contains("# stale"), "{text}");
        assert!(text.ends_with("<!-- stroom compare: the gate -->\n## Gate: passed\n"), "{text}");
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(html.contains("<code>replay.parallel.events_per_s</code>"), "{html}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 3, "no temporary file left: {left:?}");
    }

    #[test]
    fn a_result_that_is_not_one_is_refused_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let result = dir.path().join("result.json");
        std::fs::write(&result, "{}").unwrap();
        let e = super::rerender(&result).unwrap_err().to_string();
        assert!(e.contains("not a stroom result"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
