//! The report page's summary: `report.md` rendered as HTML, its tables as tables, targets met
//! or missed and thresholds passed or failed in colour, and the long figures table filtered
//! by a prefix typed above it. Self-contained: a few lines of style and script, nothing
//! fetched.

use pulldown_cmark::{html, Event, Options, Parser};

/// Style for what [`render`] writes.
pub const STYLE: &str = "table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{padding:.2em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
td[style*=right]{font-variant-numeric:tabular-nums}\
td.met{color:#17693a;font-weight:600}td.missed,li.fail,p.verdict.failed{color:#b00020}\
li.pass{color:#17693a}#figure-filter{font:inherit;width:28em;padding:.2em .4em}";

/// Hides the figures table's rows whose name does not start with what is typed.
const FILTER: &str = "<p><label>Figures starting with <input id=\"figure-filter\" \
placeholder=\"e.g. append.per-school.\" autocomplete=\"off\"></label></p>\
<script>document.getElementById('figure-filter').addEventListener('input',function(e){\
var p=e.target.value.trim();document.querySelectorAll('#figures tbody tr').forEach(function(r){\
r.hidden=p!==''&&r.cells[0].textContent.indexOf(p)!==0;});});</script>";

/// `md` (a report.md) as an HTML fragment.
pub fn render(md: &str) -> String {
    // What reads like a tag in a note ("p99 <50 ms") is text, not markup.
    let events = Parser::new_ext(md, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        e => e,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    mark(&out)
}

/// Classes for the cells and lines a reader looks for first, and the figures filter.
fn mark(html: &str) -> String {
    let mut s = html
        .replace("<td>meets</td>", "<td class=\"met\">meets</td>")
        .replace("<td><strong>misses</strong></td>", "<td class=\"missed\"><strong>misses</strong></td>")
        .replace("<li>pass: ", "<li class=\"pass\">pass: ")
        .replace("<li><strong>FAIL</strong>", "<li class=\"fail\"><strong>FAIL</strong>");
    let failed = s.contains("thresholds FAILED.</strong>");
    let verdict =
        if failed { "<p class=\"verdict failed\"><strong>Verdict:" } else { "<p class=\"verdict\"><strong>Verdict:" };
    s = s.replacen("<p><strong>Verdict:", verdict, 1);
    if let Some(at) = s.find("<h2>Figures</h2>") {
        if let Some(table) = s[at..].find("<table>").map(|t| at + t) {
            s.replace_range(table..table + "<table>".len(), "<table id=\"figures\">");
            s.insert_str(table, FILTER);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_render_as_tables_with_targets_and_thresholds_marked() {
        let md = "# stroom run: t\n\n**Verdict: 1 of 2 thresholds FAILED.**\n\n\
                  ## Headline ratios\n\n| ratio | value | target | |\n|---|---:|---:|---|\n\
                  | a | 0.900 | ≥ 0.5 | meets |\n| b | 0.100 | ≥ 0.5 | **misses** |\n\n\
                  ## Thresholds\n\n- pass: `x < 1`\n- **FAIL**: `y < 1` — 3\n\n\
                  ## Figures\n\n| figure | value |\n|---|---:|\n| `append.x` | 1 |\n| `replay.y` | 2 |\n";
        let html = super::render(md);
        assert_eq!(html.matches("<table").count(), 2, "{html}");
        assert!(html.contains("<td class=\"met\">meets</td>"), "{html}");
        assert!(html.contains("<td class=\"missed\"><strong>misses</strong></td>"), "{html}");
        assert!(html.contains("<li class=\"pass\">pass: ") && html.contains("<li class=\"fail\">"), "{html}");
        assert!(html.contains("<p class=\"verdict failed\">"), "{html}");
        let figures = html.find("<table id=\"figures\">").expect("the figures table has its id");
        assert!(html[..figures].contains("id=\"figure-filter\"") && html[figures..].contains("<code>replay.y</code>"));
        assert!(!html.contains("<pre>"), "{html}");
        assert!(super::render("a note: p99 <b>50</b> ms\n").contains("&lt;b&gt;50"));
    }
}
