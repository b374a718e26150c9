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
        .filter(|(x, y)| x.is_finite() && y.is_finite())
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
    let y1 = pts.iter().fold(0.0f64, |a, p| a.max(p.1)) * 1.1;
    if x1 <= x0 {
        x0 -= 1.0;
        x1 += 1.0;
    }
    let y1 = if y1 <= 0.0 { 1.0 } else { y1 };
    let px = |x: f64| L + (tx(x) - x0) / (x1 - x0) * (W - L - R);
    let py = |y: f64| H - B - y / y1 * (H - T - B);
    let _ = write!(
        s,
        r##"<rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        W - L - R,
        H - T - B
    );
    for i in 0..=4 {
        let y = y1 * f64::from(i) / 4.0;
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
            .filter(|(x, y)| x.is_finite() && y.is_finite())
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
        let axes = Axes { title: "t <x>".into(), x: "writers".into(), y: "events/s".into(), log_x: true };
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
}
