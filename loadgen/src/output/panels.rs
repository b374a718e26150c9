//! The report's charts that one run draws and a comparison overlays: closed-loop throughput
//! against writers, the open-loop latency spectrum, replay speedup with its fitted model, the
//! soak's minutes and the simulated days. Each appears only when its phase ran.

use std::collections::BTreeMap;

use crate::analysis::usl::Usl;
use crate::output::chart::{Axes, Series, Unit};
use crate::output::result_file::RunResult;

/// One chart: its title, axes and lines.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Shown above the chart; a comparison matches panels by it.
    pub title: &'static str,
    /// Its axes.
    pub axes: Axes,
    /// Its lines, and marks.
    pub series: Vec<Series>,
}

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

fn line(label: String, points: Vec<(f64, f64)>) -> Series {
    Series { label, points, model: false, markers: false }
}

/// The panels `r` has data for, in the order the report shows them.
pub fn panels(r: &RunResult) -> Vec<Panel> {
    let mut out = Vec::new();
    let mut add = |title: &'static str, axes: Axes, series: Vec<Series>| {
        if series.iter().any(|s| !s.markers && !s.points.is_empty()) {
            out.push(Panel { title, axes, series });
        }
    };
    let throughput = sweep(r, "append.", 'c', ".events_per_s").into_iter().map(|(l, p)| line(l, p)).collect();
    add(
        "Append throughput of every strategy against concurrent writers (closed loop, log-log)",
        Axes { x: "concurrent writers".into(), y: "events/s".into(), log_x: true, log_y: true, ..Axes::default() },
        throughput,
    );

    let spectra = r
        .series
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("latency.").map(|label| line(label.to_string(), v.clone())))
        .collect();
    // Log latency: a saturated ramp's seconds and a healthy schedule's milliseconds on one chart.
    add(
        "Latency percentile spectrum from intended start (open loop)",
        Axes {
            x: "1 / (1 − percentile): 2 = p50, 100 = p99, 1000 = p99.9".into(),
            y: "latency from intended start".into(),
            log_x: true,
            log_y: true,
            y_unit: Unit::Ms,
        },
        spectra,
    );

    let mut replay = Vec::new();
    for (mode, prefix) in [("PostgreSQL", "replay.parallel."), ("memory", "replay.memory.")] {
        let mut points: Vec<(f64, f64)> = r
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
        replay.push(line(format!("{mode}: measured"), speedup));
    }
    add(
        "Replay speedup against workers, with the fitted USL (dashed, over the measured range, where it fits)",
        Axes { x: "replay workers".into(), y: "speedup over the fewest workers (×)".into(), ..Axes::default() },
        replay,
    );

    if let Some(p99) = r.series.get("soak.p99_per_minute").filter(|p| !p.is_empty()) {
        let get = |key: &str| r.series.get(key).cloned().unwrap_or_default();
        let mark =
            |label: &str, key: &str| Series { label: label.into(), points: get(key), model: false, markers: true };
        let slo = r.scenario.get("slo_p99_ms").and_then(|v| v.as_f64()).unwrap_or(50.0);
        let last = p99.last().map(|p| p.0).unwrap_or(1.0);
        let slo_line = Series {
            label: format!("SLO ({slo} ms)"),
            points: vec![(1.0, slo), (last, slo)],
            model: true,
            markers: false,
        };
        add(
            "Soak: latency per minute, checkpoints and autovacuum runs marked",
            Axes {
                x: "minute of the window".into(),
                y: "latency from intended start".into(),
                y_unit: Unit::Ms,
                ..Axes::default()
            },
            vec![
                line("p50".into(), get("soak.p50_per_minute")),
                line("p99".into(), get("soak.p99_per_minute")),
                slo_line,
                mark("checkpoint", "soak.checkpoints"),
                mark("autovacuum", "soak.autovacuums"),
            ],
        );
    }

    let days = r.series.get("generate.events_per_day").cloned().unwrap_or_default();
    // Growth over simulated time says something only over more than a few days.
    if days.len() > 3 {
        add(
            "Events per day over simulated time",
            Axes { x: "simulated day".into(), y: "events that day".into(), ..Axes::default() },
            vec![line("generated".into(), days)],
        );
    }
    out
}
