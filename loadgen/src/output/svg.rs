//! Small self-contained SVG line charts for the HTML report (no network, no script).

use std::fmt::Write;

/// One line: a label, its points, and whether it is a fitted model (drawn dashed).
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed, without markers.
    pub model: bool,
    /// Events at the points' x (checkpoints, autovacuum runs): drawn as dashed vertical lines
    /// across the chart; their y is ignored.
    pub markers: bool,
}

/// A chart's axes.
#[derive(Debug, Clone)]
pub struct Axes {
    /// Title above the chart.
    pub title: String,
    /// X axis label.
    pub x: String,
    /// Y axis label.
    pub y: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis, ticked at each power of ten: for rates that differ a hundredfold
    /// between the lines (rill beside per-school). Points at or below zero are left out.
    pub log_y: bool,
}

const COLOURS: &[&str] = &["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"];
const W: f64 = 640.0;
const H: f64 = 340.0;
/// Margins: left, right (legend), top, bottom.
const L: f64 = 70.0;
const R: f64 = 160.0;
const T: f64 = 30.0;
const B: f64 = 45.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn nice(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Renders a line chart; an empty chart says there is nothing to plot.
pub fn line_chart(axes: &Axes, series: &[Series]) -> String {
    let pts: Vec<(f64, f64)> = series
        .iter()
        .filter(|s| !s.markers)
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!axes.log_y || *y > 0.0))
        .collect();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(s, r#"<text x="{}" y="18" font-size="13" font-weight="bold">{}</text>"#, L, escape(&axes.title));
    if pts.is_empty() {
        let _ = write!(s, r#"<text x="{}" y="{}">nothing measured</text></svg>"#, L + 20.0, H / 2.0);
        return s;
    }
    let tx = |x: f64| if axes.log_x { x.max(1e-9).log10() } else { x };
    let (mut x0, mut x1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(tx(p.0)), b.max(tx(p.0))));
    if x1 <= x0 {
        x0 -= 1.0;
        x1 += 1.0;
    }
    // The y range in plotted units: 0 to 110% of the largest, or whole decades around them.
    let ty = |y: f64| if axes.log_y { y.max(1e-300).log10() } else { y };
    let (y0, y1) = if axes.log_y {
        let (lo, hi) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(ty(p.1)), b.max(ty(p.1))));
        let (lo, hi) = (lo.floor(), hi.ceil());
        (lo, if hi <= lo { lo + 1.0 } else { hi })
    } else {
        let top = pts.iter().fold(0.0f64, |a, p| a.max(p.1)) * 1.1;
        (0.0, if top <= 0.0 { 1.0 } else { top })
    };
    let px = |x: f64| L + (tx(x) - x0) / (x1 - x0) * (W - L - R);
    let py = |y: f64| H - B - (ty(y) - y0) / (y1 - y0) * (H - T - B);
    let _ = write!(
        s,
        r##"<rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        W - L - R,
        H - T - B
    );
    let ticks: Vec<f64> = if axes.log_y {
        (y0 as i32..=y1 as i32).map(|k| 10f64.powi(k)).collect()
    } else {
        (0..=4).map(|i| y1 * f64::from(i) / 4.0).collect()
    };
    for y in ticks {
        let _ = write!(
            s,
            r##"<line x1="{L}" x2="{}" y1="{}" y2="{}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            W - R,
            py(y),
            py(y),
            L - 4.0,
            py(y) + 4.0,
            nice(y)
        );
    }
    let mut xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let step = (xs.len() / 8).max(1);
    for x in xs.iter().step_by(step) {
        let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, px(*x), H - B + 14.0, nice(*x));
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        L + (W - L - R) / 2.0,
        H - 8.0,
        escape(&axes.x)
    );
    let _ = write!(
        s,
        r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">{}</text>"#,
        H / 2.0,
        H / 2.0,
        escape(&axes.y)
    );
    for (i, se) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        if se.markers {
            for (x, _) in se.points.iter().filter(|(x, _)| x.is_finite()) {
                let _ = write!(
                    s,
                    r#"<line x1="{0:.1}" x2="{0:.1}" y1="{T}" y2="{1}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="3,3"/>"#,
                    px(*x),
                    H - B
                );
            }
            let ly = T + 14.0 + i as f64 * 16.0;
            let _ = write!(
                s,
                r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="3,3"/><text x="{}" y="{}">{}</text>"#,
                W - R + 10.0,
                W - R + 30.0,
                W - R + 35.0,
                ly + 4.0,
                escape(&se.label)
            );
            continue;
        }
        let path: Vec<String> = se
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!axes.log_y || *y > 0.0))
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let dash = if se.model { r#" stroke-dasharray="5,4""# } else { "" };
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{}"/>"#,
            path.join(" ")
        );
        if !se.model {
            for p in &path {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(s, r#"<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>"#);
            }
        }
        let ly = T + 14.0 + i as f64 * 16.0;
        let _ = write!(
            s,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            W - R + 10.0,
            W - R + 30.0,
            W - R + 35.0,
            ly + 4.0,
            escape(&se.label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_self_contained_svg_with_every_series() {
        let axes = Axes { title: "t <x>".into(), x: "writers".into(), y: "events/s".into(), log_x: true, log_y: false };
        let svg = line_chart(
            &axes,
            &[
                Series { label: "a".into(), points: vec![(1.0, 10.0), (4.0, 30.0)], model: false, markers: false },
                Series { label: "fit".into(), points: vec![(1.0, 9.0), (8.0, 40.0)], model: true, markers: false },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(
            svg.contains("t &lt;x&gt;") && svg.contains("stroke-dasharray") && !svg.contains("http://www.w3.org/1999")
        );
        assert!(line_chart(&axes, &[]).contains("nothing measured"));
    }

    #[test]
    fn a_log_y_axis_ticks_each_decade_and_drops_what_it_cannot_place() {
        let axes = Axes { title: "t".into(), x: "writers".into(), y: "events/s".into(), log_x: true, log_y: true };
        let svg = line_chart(
            &axes,
            &[
                Series {
                    label: "rill".into(),
                    points: vec![(1.0, 900.0), (8.0, 1100.0)],
                    model: false,
                    markers: false,
                },
                Series {
                    label: "per-school".into(),
                    points: vec![(1.0, 0.0), (64.0, 95_000.0)],
                    model: false,
                    markers: false,
                },
            ],
        );
        // 900 to 95k spans the decades 100 to 100k: four ticks between, each labelled.
        for tick in [">100<", ">1k<", ">10k<", ">100k<"] {
            assert!(svg.contains(tick), "no {tick} tick: {svg}");
        }
        // The zero point cannot be placed on a log axis: three markers, not four.
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
    }
}
