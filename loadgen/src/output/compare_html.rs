//! `stroom compare A B --html OUT`: both runs' charts overlaid (the baseline dashed) above the
//! delta table, regressions and missing figures in red.

use crate::output::chart::Series;
use crate::output::panels::{panels, Panel};
use crate::output::report_html::{figure, page};
use crate::output::result_file::RunResult;
use crate::output::summary_html;

/// The page comparing `current` with `baseline`; `delta` is the gate's Markdown table.
pub fn render(baseline: (&str, &RunResult), current: (&str, &RunResult), delta: &str) -> String {
    let ours = panels(current.1);
    let theirs = panels(baseline.1);
    let mut titles: Vec<&'static str> = ours.iter().chain(&theirs).map(|p| p.title).collect();
    // In the report's order, once each.
    let mut seen = std::collections::HashSet::new();
    titles.retain(|t| seen.insert(*t));
    let mut body = String::new();
    for title in titles {
        let mine = ours.iter().find(|p| p.title == title);
        let base = theirs.iter().find(|p| p.title == title);
        let Some(axes) = mine.or(base).map(|p| p.axes.clone()) else { continue };
        let tagged = |p: Option<&Panel>, tag: &str, dashed: bool| -> Vec<Series> {
            p.map(|p| &p.series[..])
                .unwrap_or_default()
                .iter()
                .filter(|s| !s.markers)
                .map(|s| Series { label: format!("{tag}: {}", s.label), model: s.model || dashed, ..s.clone() })
                .collect()
        };
        let mut series = tagged(base, "baseline", true);
        series.extend(tagged(mine, "current", false));
        body.extend(figure(&Panel { title, axes, series }));
    }
    let table = summary_html::render(delta)
        .replace("<td>REGRESSION</td>", "<td class=\"regression\">REGRESSION</td>")
        .replace("<td>MISSING</td>", "<td class=\"regression\">MISSING</td>");
    body.push_str(
        "<style>td.regression{color:#b00020;font-weight:600}tr:has(td.regression){background:#fdecee}</style>",
    );
    body.push_str(&table);
    page(&format!("stroom compare: {} against {}", current.0, baseline.0), &body)
}

#[cfg(test)]
mod tests {
    use crate::output::result_file::RunResult;

    fn result(pairs: &[(&str, f64)]) -> RunResult {
        RunResult::for_test("t", pairs)
    }

    #[test]
    fn both_runs_are_overlaid_and_regressions_stand_out() {
        let a = result(&[("append.rill.c1.events_per_s", 900.0), ("append.rill.c8.events_per_s", 1000.0)]);
        let b = result(&[("append.rill.c1.events_per_s", 700.0), ("append.rill.c8.events_per_s", 800.0)]);
        let delta = "## Gate: **FAILED**\n\n| figure | baseline | current | change | band | verdict |\n\
                     |---|---:|---:|---:|---:|---|\n| `append.rill.c8.events_per_s` | 1000 | 800 | -20.0% | 10% | REGRESSION |\n";
        let html = super::render(("a.json", &a), ("b.json", &b), delta);
        assert_eq!(html.matches("<svg").count(), 1, "{html}");
        assert!(html.contains("\nbaseline: rill\n") && html.contains("\ncurrent: rill\n"), "{html}");
        assert!(html.contains("<td class=\"regression\">REGRESSION</td>"), "{html}");
        assert!(html.contains("<title>stroom compare: b.json against a.json</title>"), "{html}");
    }
}
