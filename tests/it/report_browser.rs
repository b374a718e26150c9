//! The report pages as a person sees them: each committed scenario's newest result is rendered
//! again by `stroom report`, a comparison page by `stroom compare --html`, and every page is
//! opened in headless Chromium. A script added to each copy reads the rendered DOM (not the
//! source): every chart has a data series drawn in the palette's colours, no panel says
//! "nothing measured", no text of a chart lies outside its image (a clipped legend), and the
//! tables have a row per figure and per threshold.
//!
//! Without Chromium the test fails with the command that installs it: it never passes unrun.
//! `STROOM_SCREENSHOTS=DIR` also saves a screenshot of each page there (results/screenshots
//! holds the README's).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::stroom;
use serde_json::Value;

/// The chart palette (output/chart.rs), to tell a data series from axes and grid lines.
const PALETTE: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

fn chromium() -> PathBuf {
    let candidates = ["chromium", "chromium-browser", "google-chrome"];
    let found = std::env::var_os("STROOM_CHROMIUM").map(PathBuf::from).or_else(|| {
        candidates.iter().find_map(|c| {
            let out = Command::new("sh").args(["-c", &format!("command -v {c}")]).output().ok()?;
            out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
    });
    found.unwrap_or_else(|| {
        panic!("NOT RUN: no headless Chromium; install it with `apt-get install -y chromium` (or set STROOM_CHROMIUM)")
    })
}

/// What the page's own script found, read back from the DOM Chromium dumps.
fn checks(browser: &Path, page: &Path) -> Value {
    let html = std::fs::read_to_string(page).unwrap();
    let script = format!(
        r#"<script>(function(){{
var palette={palette:?};
var out={{svgs:[],clipped:[],nothing:document.body.innerText.indexOf('nothing measured')>=0}};
document.querySelectorAll('svg').forEach(function(svg){{
  var box=svg.getBoundingClientRect(),data=0;
  svg.querySelectorAll('polyline,circle,line,path,polygon').forEach(function(e){{
    var c=((e.getAttribute('stroke')||'')+' '+(e.getAttribute('fill')||'')).toLowerCase();
    if(palette.some(function(p){{return c.indexOf(p)>=0;}}))data++;
  }});
  svg.querySelectorAll('text').forEach(function(t){{
    var b=t.getBoundingClientRect();
    if(b.width>0&&(b.left<box.left-1||b.right>box.right+1||b.top<box.top-1||b.bottom>box.bottom+1))
      out.clipped.push(t.textContent.trim());
  }});
  out.svgs.push({{data:data,width:box.width}});
}});
out.figureRows=document.querySelectorAll('#figures tbody tr').length;
out.thresholds=document.querySelectorAll('li.pass,li.fail').length;
out.regressionCells=document.querySelectorAll('td.regression').length;
out.tables=document.querySelectorAll('table').length;
var pre=document.createElement('pre');pre.id='stroom-checks';pre.textContent=JSON.stringify(out);
document.body.appendChild(pre);}})();</script>"#,
        palette = PALETTE
    );
    let checked = page.with_extension("checked.html");
    std::fs::write(&checked, html.replace("</body>", &format!("{script}</body>"))).unwrap();
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000", "--virtual-time-budget=10000"])
        .arg("--dump-dom")
        .arg(format!("file://{}", checked.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "NOT RUN: Chromium at {} could not start ({e}); install it with `apt-get install -y chromium`",
                browser.display()
            )
        });
    let dom = String::from_utf8_lossy(&out.stdout);
    let Some(json) = dom.split("<pre id=\"stroom-checks\">").nth(1).and_then(|s| s.split("</pre>").next()) else {
        panic!(
            "Chromium rendered no checks for {} (exit {:?}); stderr: {}",
            page.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let json = json.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn screenshot(browser: &Path, page: &Path, name: &str) {
    let Some(dir) = std::env::var_os("STROOM_SCREENSHOTS").map(PathBuf::from) else { return };
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join(format!("{name}.png"));
    let ok = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,2400"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok && png.is_file(), "no screenshot of {name}");
}

/// The newest result.json of each scenario under results/.
fn newest_results() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let mut out = Vec::new();
    for scenario in std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(&scenario)
            .unwrap()
            .map(|e| e.unwrap().path().join("result.json"))
            .filter(|p| p.is_file())
            .collect();
        runs.sort();
        if let Some(newest) = runs.pop() {
            out.push((scenario.file_name().unwrap().to_string_lossy().into_owned(), newest));
        }
    }
    out.sort();
    out
}

#[test]
fn every_committed_report_renders_in_a_real_browser() {
    let browser = chromium();
    let dir = tempfile::tempdir().unwrap();
    let results = newest_results();
    assert!(results.len() >= 5, "committed results: {results:?}");
    let mut charts = 0;
    for (scenario, result) in &results {
        let copy = dir.path().join(scenario);
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::copy(result, copy.join("result.json")).unwrap();
        let out = stroom(&["report", copy.join("result.json").to_str().unwrap()], &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let page = copy.join("report.html");
        let found = checks(&browser, &page);
        let r: Value = serde_json::from_str(&std::fs::read_to_string(result).unwrap()).unwrap();
        let what = format!("{scenario} ({}): {found}", result.display());
        // A page without a phase that plots (faults) has no chart, and says nothing of it.
        let svgs = found["svgs"].as_array().unwrap();
        charts += svgs.len();
        assert!(svgs.iter().all(|s| s["data"].as_u64().unwrap() >= 1), "a chart without a data series in {what}");
        assert_eq!(found["nothing"], false, "{what}");
        assert_eq!(found["clipped"].as_array().unwrap().len(), 0, "text outside its chart in {what}");
        assert_eq!(found["figureRows"].as_u64().unwrap() as usize, r["figures"].as_object().unwrap().len(), "{what}");
        assert_eq!(found["thresholds"].as_u64().unwrap() as usize, r["thresholds"].as_array().unwrap().len(), "{what}");
        screenshot(&browser, &page, scenario);
    }

    assert!(charts >= results.len(), "{charts} charts on {} pages", results.len());

    // The gate's page: the committed baseline against the newest quick run (copied, since
    // compare also writes its verdict into the report.md beside the run).
    let quick = results.iter().find(|(s, _)| s == "quick").map(|(_, p)| p.clone()).expect("a committed quick run");
    let quick = {
        let copy = dir.path().join("quick-compared.json");
        std::fs::copy(&quick, &copy).unwrap();
        copy
    };
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/baseline.json");
    let page = dir.path().join("compare.html");
    let out = stroom(
        &["compare", baseline.to_str().unwrap(), quick.to_str().unwrap(), "--html", page.to_str().unwrap()],
        &[("STROOM_GATE_STEAL_LIMIT", "1")],
    );
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", String::from_utf8_lossy(&out.stderr));
    let found = checks(&browser, &page);
    let svgs = found["svgs"].as_array().unwrap();
    assert!(!svgs.is_empty() && svgs.iter().all(|s| s["data"].as_u64().unwrap() >= 1), "compare: {found}");
    assert_eq!(found["clipped"].as_array().unwrap().len(), 0, "compare: {found}");
    assert!(found["tables"].as_u64().unwrap() >= 1, "compare: {found}");
    // A row of the printed table ends in its verdict.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let regressions = stdout.lines().filter(|l| l.ends_with("  REGRESSION") || l.ends_with("  MISSING")).count();
    assert_eq!(found["regressionCells"].as_u64().unwrap() as usize, regressions, "compare: {found}");
    screenshot(&browser, &page, "compare");

    // A paired A/B run's page (stroom ab): the newest committed one, rendered again from its
    // result the way stroom ab writes it.
    let ab = newest_ab_result().expect("a committed stroom ab result under results/gate-trials/");
    let copy = dir.path().join("ab");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(ab.with_file_name("report.html"), copy.join("report.html")).unwrap();
    let found = checks(&browser, &copy.join("report.html"));
    let svgs = found["svgs"].as_array().unwrap();
    assert!(!svgs.is_empty() && svgs.iter().all(|s| s["data"].as_u64().unwrap() >= 1), "ab: {found}");
    assert_eq!(found["clipped"].as_array().unwrap().len(), 0, "ab: {found}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&ab).unwrap()).unwrap();
    assert!(found["tables"].as_u64().unwrap() >= 2, "the figures and the blocks: {found}");
    assert!(!r["pairs"].as_array().unwrap().is_empty(), "{}", ab.display());
    screenshot(&browser, &copy.join("report.html"), "ab");
}

/// The newest `results/gate-trials/<kind>/ab/<time>/result.json`.
fn newest_ab_result() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/gate-trials");
    let mut found = Vec::new();
    for kind in std::fs::read_dir(root).ok()?.flatten() {
        for run in std::fs::read_dir(kind.path().join("ab")).into_iter().flatten().flatten() {
            let result = run.path().join("result.json");
            if result.is_file() {
                found.push((run.file_name(), result));
            }
        }
    }
    found.into_iter().max().map(|(_, p)| p)
}
