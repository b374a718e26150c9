//! `report.html`: one self-contained page with the plots, from a result alone.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::analysis::usl::Usl;
use crate::output::result_file::RunResult;
use crate::output::svg::{line_chart, Axes, Series};

fn sweep(r: &RunResult, prefix: &str, tag: char, suffix: &str) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (name, f) in &r.figures {
        let Some(rest) = name.strip_prefix(prefix).and_then(|x| x.strip_suffix(suffix)) else { continue };
        let Some((group, point)) = rest.rsplit_once('.') else { continue };
        let Some(n) = point.strip_prefix(tag).and_then(|p| p.parse::<f64>().ok()) else { continue };
        out.entry(group.to_string()).or_default().push((n, f.value));
    }
    out.values_mut().for_each(|v| v.sort_by(|a, b| a.0.total_cmp(&b.0)));
    out
}

/// Renders the HTML report.
pub fn render(r: &RunResult) -> String {
    let mut charts = Vec::new();

    let throughput: Vec<Series> = sweep(r, "append.", 'c', ".events_per_s")
        .into_iter()
        .map(|(label, points)| Series { label, points, model: false, markers: false })
        .collect();
    // A panel only for what the run measured: no "nothing measured" boxes.
    if !throughput.is_empty() {
        charts.push(line_chart(
            &Axes {
                title: "Append throughput of every strategy against concurrent writers (closed loop, log-log)".into(),
                x: "writers".into(),
                y: "events/s".into(),
                log_x: true,
                log_y: true,
            },
            &throughput,
        ));
    }

    let spectra: Vec<Series> = r
        .series
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("latency.").map(|label| Series {
                label: label.to_string(),
                points: v.clone(),
                model: false,
                markers: false,
            })
        })
        .collect();
    if !spectra.is_empty() {
        // Log latency: a saturated ramp's seconds and a healthy schedule's milliseconds on one chart.
        charts.push(line_chart(
            &Axes {
                title: "Latency percentile spectrum from intended start (open loop)".into(),
                x: "1 / (1 − percentile): 2 = p50, 100 = p99, 1000 = p99.9".into(),
                y: "ms".into(),
                log_x: true,
                log_y: true,
            },
            &spectra,
        ));
    }

    let mut replay = Vec::new();
    for (mode, prefix) in [("PostgreSQL", "replay.parallel."), ("memory", "replay.memory.")] {
        let points: Vec<(f64, f64)> = r
            .figures
            .iter()
            .filter_map(|(n, f)| {
                n.strip_prefix(prefix)?
                    .strip_suffix(".events_per_s")?
                    .strip_prefix('t')?
                    .parse::<f64>()
                    .ok()
                    .map(|t| (t, f.value))
            })
            .collect();
        let mut points = points;
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let Some(&(_, base)) = points.first() else { continue };
        let speedup: Vec<(f64, f64)> = points.iter().map(|(t, x)| (*t, x / base)).collect();
        // The curve only where it was measured, and only when it fits (the plan's rule).
        if let Some(fit) = Usl::fit_with_quality(&points).filter(|f| f.refusal().is_none()).map(|f| f.usl) {
            let max = points.last().map(|p| p.0).unwrap_or(1.0);
            let model = (1..=max as usize)
                .map(|n| (n as f64, fit.throughput(n as f64) / fit.throughput(points[0].0)))
                .collect();
            replay.push(Series { label: format!("{mode}: USL fit"), points: model, model: true, markers: false });
        }
        replay.push(Series { label: format!("{mode}: measured"), points: speedup, model: false, markers: false });
    }
    if !replay.is_empty() {
        charts.push(line_chart(
        &Axes {
            title:
                "Replay speedup against workers, with the fitted USL (dashed, over the measured range, where it fits)"
                    .into(),
            x: "workers".into(),
            y: "speedup".into(),
            log_x: false,
            log_y: false,
        },
        &replay,
    ));
    }

    if let Some(p99) = r.series.get("soak.p99_per_minute").filter(|p| !p.is_empty()) {
        let line = |label: &str, key: &str| Series {
            label: label.into(),
            points: r.series.get(key).cloned().unwrap_or_default(),
            model: false,
            markers: false,
        };
        let mark = |label: &str, key: &str| Series {
            label: label.into(),
            points: r.series.get(key).cloned().unwrap_or_default(),
            model: false,
            markers: true,
        };
        let slo = r.scenario.get("slo_p99_ms").and_then(|v| v.as_f64()).unwrap_or(50.0);
        let last = p99.last().map(|p| p.0).unwrap_or(1.0);
        charts.push(line_chart(
            &Axes {
                title: "Soak: latency per minute from intended start, checkpoints and autovacuum runs marked".into(),
                x: "minute of the window".into(),
                y: "ms".into(),
                log_x: false,
                log_y: false,
            },
            &[
                line("p50", "soak.p50_per_minute"),
                line("p99", "soak.p99_per_minute"),
                Series {
                    label: format!("SLO ({slo} ms)"),
                    points: vec![(1.0, slo), (last, slo)],
                    model: true,
                    markers: false,
                },
                mark("checkpoint", "soak.checkpoints"),
                mark("autovacuum", "soak.autovacuums"),
            ],
        ));
    }

    let days = r.series.get("generate.events_per_day").cloned().unwrap_or_default();
    // Growth over simulated time says something only over more than a few days.
    if days.len() > 3 {
        charts.push(line_chart(
            &Axes {
                title: "Events per day over simulated time".into(),
                x: "simulated day".into(),
                y: "events".into(),
                log_x: false,
                log_y: false,
            },
            &[Series { label: "generated".into(), points: days, model: false, markers: false }],
        ));
    }

    let md = crate::output::report_md::render(r);
    let mut html = String::new();
    let name = r.scenario.get("name").and_then(|v| v.as_str()).unwrap_or("?");
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>stroom: {name}</title>\
         <style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:1em}}svg{{margin:1em 0}}</style>\
         </head><body><h1>stroom run: {name}</h1>"
    );
    for c in charts {
        html.push_str(&c);
    }
    let _ = write!(
        html,
        "<h2>Summary</h2><pre>{}</pre></body></html>",
        md.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    );
    html
}

#[cfg(test)]
mod tests {
    use crate::figures::Figure;
    use crate::output::result_file::RunResult;

    fn result(pairs: &[(&str, f64)]) -> RunResult {
        let mut r: RunResult = serde_json::from_value(serde_json::json!({
            "result_version": 1, "stroom_version": "0", "scenario": {"name": "t"}, "started_at": "", "finished_at": "",
            "complete": true,
            "environment": {"git_commit": "", "cpu_model": "", "cores": 1, "memory_bytes": 1, "database": "", "profile": "", "settings": {}},
            "figures": {}, "thresholds": []
        }))
        .unwrap();
        for (k, v) in pairs {
            r.figures.insert((*k).into(), Figure::from_repetitions("x", vec![*v]));
        }
        r
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
        assert!(html.contains("log-log") && html.contains(">rill<") && html.contains(">per-school<"), "{html}");
    }
}
