//! What a run leaves behind: result.json, report.md and report.html with its plots.

pub(crate) mod gate_section;
pub(crate) mod peers_table;
pub(crate) mod report_html;
pub(crate) mod report_md;
pub(crate) mod result_file;
pub(crate) mod svg;
