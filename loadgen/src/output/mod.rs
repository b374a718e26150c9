//! What a run leaves behind: result.json, report.md and report.html with its plots.

pub(crate) mod ab_report;
pub(crate) mod chart;
pub(crate) mod compare_html;
pub(crate) mod gate_section;
pub(crate) mod over_time;
pub(crate) mod panels;
pub(crate) mod peers_table;
pub(crate) mod report_html;
pub(crate) mod report_md;
pub(crate) mod rerender;
pub(crate) mod result_file;
pub(crate) mod summary_html;
pub(crate) mod write_whole;
