//! Line charts for the HTML report, drawn by plotters into self-contained SVG (no script,
//! nothing fetched). Log axes where the data spans decades, human ticks (1, 10, 100, 1k;
//! 1 ms, 10 ms, 1 s), units on both axes, and a legend beside the plot sized to its longest
//! label; past the palette's ten colours, lines are told apart by their dashes.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// One line: a label, its points, and how it is drawn.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
    /// A fitted model or a limit: drawn dashed, without markers.
    pub model: bool,
    /// Events at the points' x (checkpoints, autovacuum runs): drawn as dashed vertical lines
    /// across the chart; their y is ignored.
    pub markers: bool,
}

/// What an axis's numbers are, for their tick labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    /// Counts and rates: 1, 10, 100, 1k, 10k, 1M.
    #[default]
    Count,
    /// Milliseconds: 1 ms, 100 ms, 1 s, 2 min.
    Ms,
}

/// A chart's axes. The title goes above the chart, in the page.
#[derive(Debug, Clone, Default)]
pub struct Axes {
    /// X axis label, with its unit.
    pub x: String,
    /// Y axis label, with its unit.
    pub y: String,
    /// Logarithmic x axis: points at or below zero are left out.
    pub log_x: bool,
    /// Logarithmic y axis, ticked at each power of ten (and at 2 and 5 when it spans two
    /// decades or fewer): for rates that differ a hundredfold between the lines (rill beside
    /// per-school). Points at or below zero are left out.
    pub log_y: bool,
    /// What the y values are.
    pub y_unit: Unit,
}

/// Tableau's ten: distinct for the common kinds of colour blindness, and in print.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// The plot's width and least height, in pixels; the legend's column is added beside it.
const PLOT_W: u32 = 620;
const H: u32 = 360;
/// A legend row's height, and a generous width per character of 12 px sans-serif, so that no
/// label runs past the image's edge.
const ROW: i32 = 18;
const CHAR_W: f64 = 7.5;

/// A number as a person writes it: 1, 2.5, 10, 1k, 1.5k, 2M.
pub fn human(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", trim(scaled))
}

/// Milliseconds as a person writes a duration: 0.5 ms, 20 ms, 1 s, 1.5 min.
pub fn human_ms(ms: f64) -> String {
    let a = ms.abs();
    if a >= 60_000.0 {
        format!("{} min", trim(ms / 60_000.0))
    } else if a >= 1000.0 {
        format!("{} s", trim(ms / 1000.0))
    } else {
        format!("{} ms", trim(ms))
    }
}

/// At most three significant digits, no trailing zeros.
fn trim(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Tick positions over `lo..hi` in plotted units (log10 of the value on a log axis).
fn ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if log {
        let decades = (lo.floor() as i32)..=(hi.ceil() as i32);
        let fine = hi - lo <= 2.0;
        let mut out = Vec::new();
        for k in decades {
            for m in if fine { &[1.0, 2.0, 5.0][..] } else { &[1.0][..] } {
                let t = k as f64 + f64::log10(*m);
                if t >= lo - 1e-9 && t <= hi + 1e-9 {
                    out.push(t);
                }
            }
        }
        return out;
    }
    let span = hi - lo;
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The axis range in plotted units: whole decades on a log axis; on a linear one, from zero
/// (or the least value, when below) to the first tick at or above the largest.
fn range(values: impl Iterator<Item = f64> + Clone, log: bool) -> (f64, f64) {
    let lo = values.clone().fold(f64::MAX, f64::min);
    let hi = values.fold(f64::MIN, f64::max);
    if log {
        let (lo, hi) = (lo.floor(), hi.ceil());
        return (lo, if hi <= lo { lo + 1.0 } else { hi });
    }
    let lo = lo.min(0.0);
    if hi <= lo {
        return (lo, lo + 1.0);
    }
    let t = ticks(lo, hi, false);
    let step = if t.len() >= 2 { t[1] - t[0] } else { hi - lo };
    (lo, (hi * 1.02 / step).ceil() * step)
}

/// A linear axis over plotted units, ticked where [`ticks`] says (plotters' own key points
/// would fall at 0.5-steps of a decade's logarithm).
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(lo: f64, hi: f64, log: bool) -> Self {
        Self { inner: (lo..hi).into(), ticks: ticks(lo, hi, log) }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// How series `i` is drawn: its colour, and whether dashed.
fn look(i: usize, s: &Series) -> (RGBColor, bool) {
    (PALETTE[i % PALETTE.len()], s.model || s.markers || (i / PALETTE.len()) % 2 == 1)
}

/// Renders a line chart as an SVG element; `None` when no point can be placed (an empty
/// series, or only values a log axis cannot show), so no empty panel is ever drawn.
pub fn line_chart(axes: &Axes, series: &[Series]) -> Option<String> {
    let fx = |x: f64| if axes.log_x { x.log10() } else { x };
    let fy = |y: f64| if axes.log_y { y.log10() } else { y };
    let placed =
        |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!axes.log_x || x > 0.0) && (!axes.log_y || y > 0.0);
    let lines: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| s.points.iter().filter(|p| s.markers || placed(p)).map(|&(x, y)| (fx(x), fy(y))).collect())
        .collect();
    let data = || series.iter().zip(&lines).filter(|(s, _)| !s.markers).flat_map(|(_, l)| l.iter().copied());
    data().next()?;
    let (x0, x1) = range(data().map(|p| p.0), axes.log_x);
    let (y0, y1) = range(data().map(|p| p.1), axes.log_y);
    let widest = series.iter().map(|s| s.label.chars().count()).max().unwrap_or(0);
    let legend_w = (48.0 + CHAR_W * widest as f64).ceil().max(120.0) as u32;
    let height = H.max(40 + ROW as u32 * series.len() as u32);
    let mut svg = String::new();
    draw(&mut svg, (PLOT_W + legend_w, height), axes, series, &lines, ((x0, x1), (y0, y1))).ok()?;
    // Scales down with the page, never up.
    Some(svg.replacen("<svg ", "<svg style=\"max-width:100%;height:auto\" ", 1))
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn draw(
    svg: &mut String,
    size: (u32, u32),
    axes: &Axes,
    series: &[Series],
    lines: &[Vec<(f64, f64)>],
    ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
) -> Drawn {
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(PLOT_W);
    let x_label = |v: &f64| {
        let v = if axes.log_x { 10f64.powf(*v) } else { *v };
        human(v)
    };
    let y_label = |v: &f64| {
        let v = if axes.log_y { 10f64.powf(*v) } else { *v };
        match axes.y_unit {
            Unit::Count => human(v),
            Unit::Ms => human_ms(v),
        }
    };
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(Ticked::new(x0, x1, axes.log_x), Ticked::new(y0, y1, axes.log_y))?;
    chart
        .configure_mesh()
        .x_desc(axes.x.as_str())
        .y_desc(axes.y.as_str())
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .bold_line_style(RGBColor(228, 228, 228))
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .draw()?;
    for (i, (s, points)) in series.iter().zip(lines).enumerate() {
        let (colour, dashed) = look(i, s);
        if s.markers {
            for &(x, _) in points.iter().filter(|(x, _)| *x >= x0 && *x <= x1) {
                chart.draw_series(DashedLineSeries::new([(x, y0), (x, y1)], 4, 4, colour.stroke_width(1)))?;
            }
            continue;
        }
        let style = colour.stroke_width(2);
        if dashed {
            chart.draw_series(DashedLineSeries::new(points.iter().copied(), 7, 4, style))?;
        } else {
            chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
        }
        if !s.model {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    for (i, s) in series.iter().enumerate() {
        let (colour, dashed) = look(i, s);
        let y = 24 + i as i32 * ROW;
        let style = colour.stroke_width(if s.markers { 1 } else { 2 });
        if dashed {
            legend.draw(&PathElement::new(vec![(8, y), (15, y)], style))?;
            legend.draw(&PathElement::new(vec![(20, y), (27, y)], style))?;
            legend.draw(&PathElement::new(vec![(32, y), (36, y)], style))?;
        } else {
            legend.draw(&PathElement::new(vec![(8, y), (36, y)], style))?;
        }
        legend.draw(&Text::new(s.label.clone(), (42, y - 7), ("sans-serif", 12).into_font().color(&BLACK)))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(label: &str, points: &[(f64, f64)]) -> Series {
        Series { label: label.into(), points: points.to_vec(), model: false, markers: false }
    }

    #[test]
    fn numbers_and_durations_read_as_a_person_writes_them() {
        let n: Vec<String> = [1.0, 2.5, 10.0, 100.0, 1000.0, 1500.0, 100_000.0, 2e6, 0.52].map(human).to_vec();
        assert_eq!(n, ["1", "2.5", "10", "100", "1k", "1.5k", "100k", "2M", "0.52"]);
        let d: Vec<String> = [0.5, 1.0, 20.0, 1000.0, 36_000.0, 90_000.0].map(human_ms).to_vec();
        assert_eq!(d, ["0.5 ms", "1 ms", "20 ms", "1 s", "36 s", "1.5 min"]);
    }

    #[test]
    fn ticks_fall_on_decades_or_round_steps() {
        let t: Vec<f64> = ticks(0.0, 5.0, true);
        assert_eq!(t, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let fine: Vec<String> = ticks(0.0, 2.0, true).iter().map(|t| human(10f64.powf(*t))).collect();
        assert_eq!(fine, ["1", "2", "5", "10", "20", "50", "100"]);
        assert_eq!(ticks(0.0, 16.0, false), vec![0.0, 5.0, 10.0, 15.0]);
        assert_eq!(ticks(0.0, 1.6, false), vec![0.0, 0.5, 1.0, 1.5]);
    }

    #[test]
    fn a_chart_is_self_contained_svg_with_every_series_in_its_legend() {
        let axes = Axes { x: "writers".into(), y: "events/s".into(), log_x: true, log_y: true, ..Axes::default() };
        let long = "per-school @ 2000 events/s offered, from 10:00";
        let fit = Series { model: true, ..line("fit <x>", &[(1.0, 9.0), (8.0, 40.0)]) };
        let svg = line_chart(&axes, &[line(long, &[(1.0, 900.0), (64.0, 95_000.0)]), fit]).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(svg.contains(long) && svg.contains("fit &lt;x&gt;"), "{svg}");
        assert!(!svg.contains("<script") && !svg.contains("href"), "{svg}");
        // plotters writes each text on a line of its own.
        for tick in ["1", "10", "100", "1k", "10k", "100k"] {
            assert!(svg.contains(&format!(">\n{tick}\n</text>")), "no {tick} tick: {svg}");
        }
        // The legend's column fits the longest label at a generous width per character.
        let width: f64 = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        assert!(width >= f64::from(PLOT_W) + 42.0 + CHAR_W * long.len() as f64, "{width}");
    }

    #[test]
    fn nothing_placeable_draws_no_chart() {
        let axes = Axes { log_y: true, ..Axes::default() };
        assert!(line_chart(&axes, &[]).is_none());
        assert!(line_chart(&axes, &[line("zero", &[(1.0, 0.0)])]).is_none());
        let marks = Series { markers: true, ..line("checkpoint", &[(3.0, 0.0)]) };
        assert!(line_chart(&axes, &[marks]).is_none());
    }

    #[test]
    fn a_log_axis_leaves_out_what_it_cannot_place() {
        let axes = Axes { log_x: true, log_y: true, ..Axes::default() };
        let svg = line_chart(&axes, &[line("a", &[(1.0, 0.0), (8.0, 10.0), (64.0, 1000.0)])]).unwrap();
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
    }

    #[test]
    fn past_the_palette_lines_are_dashed() {
        let s = line("x", &[]);
        assert!(!look(0, &s).1 && !look(9, &s).1 && look(10, &s).1 && !look(20, &s).1);
        assert_ne!(look(0, &s).0, look(1, &s).0);
    }
}
