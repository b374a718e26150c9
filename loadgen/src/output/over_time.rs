//! Every open-loop schedule and live run second by second: the rate offered and served, p50,
//! p99 and max latency, and what happened meanwhile (checkpoints, autovacuum runs, a stall),
//! kept in the result's series as `over_time.<what>.<window>` and drawn in the report with the
//! SLO as a line and the second a window first broke it marked.

use std::collections::BTreeMap;

use crate::measure::latency::Recorded;
use crate::output::chart::{line_chart, Axes, Series, Unit};
use crate::output::report_html::escape;
use crate::output::result_file::RunResult;

const PREFIX: &str = "over_time.";
const RATES: [&str; 2] = ["offered", "served"];
const LATENCIES: [&str; 3] = ["p50", "p99", "max"];

/// One window's seconds: its series by what they show.
type Seconds<'a> = BTreeMap<&'a str, &'a Vec<(f64, f64)>>;

/// Puts window `label`'s seconds into `series`. `offered` is the schedule's rate at a second
/// of the window, where there is one; otherwise the commands sent each second stand for it.
pub fn insert(
    series: &mut BTreeMap<String, Vec<(f64, f64)>>,
    label: &str,
    r: &Recorded,
    offered: Option<&dyn Fn(f64) -> f64>,
) {
    for (what, points) in r.per_second() {
        let what = match (what, offered) {
            ("sent", Some(rate)) => {
                let points = points.iter().map(|&(t, _)| (t, rate(t))).collect();
                series.insert(format!("{PREFIX}offered.{label}"), points);
                continue;
            }
            ("sent", None) => "offered",
            (what, _) => what,
        };
        series.insert(format!("{PREFIX}{what}.{label}"), points);
    }
    let mut marks: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for (what, t) in &r.marks {
        marks.entry(what.as_str()).or_default().push((*t, 0.0));
    }
    for (what, points) in marks {
        series.insert(format!("{PREFIX}{}.{label}", what.replace('.', " ")), points);
    }
}

/// One figure per window, in the order their series sort: rates above, latency below.
pub fn panels(r: &RunResult, slo_ms: f64) -> Vec<String> {
    let mut windows: BTreeMap<&str, Seconds<'_>> = BTreeMap::new();
    for (key, points) in &r.series {
        let Some((what, label)) = key.strip_prefix(PREFIX).and_then(|k| k.split_once('.')) else { continue };
        windows.entry(label).or_default().insert(what, points);
    }
    windows.into_iter().filter_map(|(label, seconds)| panel(label, &seconds, slo_ms)).collect()
}

fn panel(label: &str, seconds: &Seconds<'_>, slo_ms: f64) -> Option<String> {
    let line = |what: &str| Series {
        label: what.to_string(),
        points: seconds.get(what).map(|p| p.to_vec()).unwrap_or_default(),
        model: false,
        markers: false,
    };
    let mut marks: Vec<Series> = seconds
        .iter()
        .filter(|(what, _)| !RATES.contains(what) && !LATENCIES.contains(what))
        .map(|(what, points)| Series { label: what.to_string(), points: points.to_vec(), model: false, markers: true })
        .collect();
    let p99 = seconds.get("p99").map(|p| p.as_slice()).unwrap_or_default();
    if let Some(&(t, _)) = p99.iter().find(|(_, ms)| *ms > slo_ms) {
        marks.push(Series {
            label: format!("p99 first above the SLO (second {t:.0})"),
            points: vec![(t, 0.0)],
            model: false,
            markers: true,
        });
    }
    let last = seconds.values().flat_map(|p| p.iter().map(|q| q.0)).fold(0.0, f64::max).max(1.0);
    let mut rates: Vec<Series> = RATES.iter().map(|w| line(w)).filter(|s| !s.points.is_empty()).collect();
    rates.extend(marks.iter().cloned());
    let mut latency: Vec<Series> = LATENCIES.iter().map(|w| line(w)).filter(|s| !s.points.is_empty()).collect();
    latency.push(Series {
        label: format!("SLO: p99 ≤ {slo_ms} ms"),
        points: vec![(0.0, slo_ms), (last, slo_ms)],
        model: true,
        markers: false,
    });
    latency.extend(marks);
    let x = "second of the measured window".to_string();
    let rate_axes = Axes { x: x.clone(), y: "appends per second".into(), ..Axes::default() };
    let latency_axes =
        Axes { x, y: "latency from intended start".into(), log_y: true, y_unit: Unit::Ms, ..Axes::default() };
    let charts: Vec<String> =
        [line_chart(&rate_axes, &rates), line_chart(&latency_axes, &latency)].into_iter().flatten().collect();
    if charts.is_empty() {
        return None;
    }
    let title = escape(label);
    Some(format!("<figure><figcaption>{title}, second by second</figcaption>{}</figure>", charts.concat()))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::measure::latency::histogram;

    fn recorded(p99_ms: &[u64]) -> Recorded {
        let started = Instant::now();
        let intervals = p99_ms
            .iter()
            .map(|ms| {
                let mut h = histogram();
                h.record(ms * 1000).unwrap();
                h
            })
            .collect();
        let mut r = Recorded {
            latency: histogram(),
            service: histogram(),
            started,
            intervals,
            served_per_second: vec![1; p99_ms.len()],
            marks: Vec::new(),
            late_starts: 0,
            harness_late: 0,
            errors: 0,
            offered: p99_ms.len() as u64,
            served: p99_ms.len() as u64,
            unsent: 0,
            window_s: p99_ms.len() as f64,
        };
        r.mark("checkpoint", started + Duration::from_secs(1));
        r
    }

    #[test]
    fn each_window_gets_its_seconds_the_slo_and_its_marks() {
        let mut r = RunResult::for_test("t", &[]);
        let ramp = |t: f64| 100.0 + 10.0 * t;
        insert(&mut r.series, "per-school @ ramping 100 → 130 events/s", &recorded(&[5, 8, 90]), Some(&ramp));
        insert(&mut r.series, "live per-school @ x50", &recorded(&[4, 4, 4]), None);
        assert_eq!(r.series["over_time.offered.per-school @ ramping 100 → 130 events/s"][2], (2.0, 120.0));
        assert_eq!(r.series["over_time.offered.live per-school @ x50"][2], (2.0, 1.0));
        assert_eq!(r.series["over_time.checkpoint.live per-school @ x50"], vec![(1.0, 0.0)]);
        let panels = panels(&r, 50.0);
        assert_eq!(panels.len(), 2);
        let ramp = panels.iter().find(|p| p.contains("ramping")).unwrap();
        assert_eq!(ramp.matches("<svg").count(), 2, "{ramp}");
        assert!(ramp.contains("SLO: p99 ≤ 50 ms") && ramp.contains("p99 first above the SLO (second 2)"), "{ramp}");
        assert!(ramp.contains("\ncheckpoint\n"), "{ramp}");
        let live = panels.iter().find(|p| p.contains("live")).unwrap();
        assert!(!live.contains("first above the SLO"), "{live}");
    }
}
