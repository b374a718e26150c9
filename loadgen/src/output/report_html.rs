//! `report.html`: one self-contained page with the plots, from a result alone.

use std::fmt::Write;

use crate::output::chart::line_chart;
use crate::output::panels::{panels, Panel};
use crate::output::result_file::RunResult;
use crate::output::{over_time, summary_html};

/// A titled figure for `panel`, if its chart could draw anything.
pub fn figure(panel: &Panel) -> Option<String> {
    let svg = line_chart(&panel.axes, &panel.series)?;
    Some(format!("<figure><figcaption>{}</figcaption>{svg}</figure>", escape(panel.title)))
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A whole page around `body`, titled `title`, with the report's style.
pub fn page(title: &str, body: &str) -> String {
    let title = escape(title);
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}\
         figure{{margin:1.5em 0}}figcaption{{font-weight:bold;margin-bottom:.3em}}{}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>",
        summary_html::STYLE
    )
}

/// Renders the HTML report.
pub fn render(r: &RunResult) -> String {
    // A panel only for what the run measured: no "nothing measured" boxes.
    let mut body: String = panels(r).iter().filter_map(figure).collect();
    let slo_ms = r.scenario.get("slo_p99_ms").and_then(|v| v.as_f64()).unwrap_or(50.0);
    let seconds = over_time::panels(r, slo_ms);
    if !seconds.is_empty() {
        let _ = write!(
            body,
            "<h2>Over time</h2><p>Each open-loop schedule and live run, second by second: the rate \
             offered and served, and latency from intended start, with the SLO and what happened \
             meanwhile marked.</p>{}",
            seconds.concat()
        );
    }
    // The summary is report.md itself, rendered: its own title gives way to the page's.
    let md = crate::output::report_md::render(r);
    let md = md.split_once('\n').map_or("", |(_, rest)| rest);
    let _ = write!(body, "<h2>Summary</h2>{}", summary_html::render(md));
    let name = r.scenario.get("name").and_then(|v| v.as_str()).unwrap_or("?");
    page(&format!("stroom run: {name}"), &body)
}

#[cfg(test)]
mod tests {
    use crate::output::result_file::RunResult;

    fn result(pairs: &[(&str, f64)]) -> RunResult {
        RunResult::for_test("t", pairs)
    }

    #[test]
    fn a_panel_appears_only_for_what_the_run_measured() {
        let html = super::render(&result(&[]));
        assert!(!html.contains("<svg") && !html.contains("nothing measured"), "{html}");
        let html = super::render(&result(&[
            ("append.rill.c1.events_per_s", 900.0),
            ("append.per-school.c1.events_per_s", 1400.0),
            ("append.per-school.c64.events_per_s", 95_000.0),
        ]));
        assert_eq!(html.matches("<svg").count(), 1, "{html}");
        assert!(html.contains("log-log") && html.contains(">\nrill\n</text>"), "{html}");
        assert!(html.contains(">\nper-school\n</text>"), "{html}");
    }
}
