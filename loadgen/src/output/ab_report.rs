//! The reports of a paired A/B run: `report.md` leads with the verdict, then one row per
//! paired figure; `report.html` adds each figure's block ratios, plotted.

use std::fmt::Write;

use crate::analysis::ab::{AbResult, Pair, Verdict};
use crate::output::chart::{human, line_chart, Axes, Series};
use crate::output::report_html::{escape, page};
use crate::output::summary_html;

fn pct(r: f64) -> String {
    format!("{:+.1}%", (r - 1.0) * 100.0)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// The verdict in one sentence.
pub fn headline(r: &AbResult) -> String {
    let [slower, faster, same, undecided] = r.counts();
    let tally = format!("{slower} slower, {faster} faster, {same} the same, {undecided} undecided");
    if !r.wrong.is_empty() {
        format!("FAILED: {} wrong outcome(s); of {} paired figures {tally}", r.wrong.len(), r.pairs.len())
    } else if slower > 0 {
        let names: Vec<&str> = r.slower().iter().map(|p| p.name.as_str()).collect();
        format!("FAILED: head is slower in {} ({tally})", names.join(", "))
    } else {
        format!("passed: no figure slower ({tally} of {} paired figures)", r.pairs.len())
    }
}

/// `report.md`.
pub fn markdown(r: &AbResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# stroom ab: {} — head {} against base {}\n", r.scenario, r.head.label(), r.base.label());
    let _ = writeln!(out, "**{}**\n", headline(r));
    if let Some(st) = &r.steps {
        let _ = writeln!(
            out,
            "- {} rounds of steps ({}), {:.1} min; each step on both arms back to back, the first arm alternating; {}",
            st.round_seconds.len(),
            st.steps.join(", "),
            st.round_seconds.iter().sum::<f64>() / 60.0,
            st.stopped
        );
    }
    let minutes = r.block_seconds.iter().sum::<f64>() / 60.0;
    let _ = writeln!(
        out,
        "- {} blocks ({}), {minutes:.1} min of runs; {}",
        r.orders.len(),
        r.orders.iter().map(|o| if o.starts_with("base") { "AB" } else { "BA" }).collect::<Vec<_>>().join(" "),
        r.stopped
    );
    let _ = writeln!(
        out,
        "- {}; δ = {:.0}% (tail latencies {:.0}%): same within ±δ, slower or faster only when the whole interval is past it",
        r.method,
        r.delta * 100.0,
        r.delta.max(crate::analysis::ab::TAIL_DELTA) * 100.0
    );
    let _ = writeln!(out, "- host: {}", r.host.host_line());
    let _ = writeln!(out, "- base: `{}`{}", r.base.binary, env_line(&r.base.env));
    let _ = writeln!(out, "- head: `{}`{}", r.head.binary, env_line(&r.head.env));
    if r.build_seconds > 0.0 {
        let _ = writeln!(out, "- building arms from revisions took {:.0} s before the first block", r.build_seconds);
    }
    let _ = writeln!(out, "\n## Figures\n");
    let _ = writeln!(out, "| figure | base | head | head ÷ base | 99.9% interval | ±δ | verdict |");
    let _ = writeln!(out, "|---|---:|---:|---:|---|---:|---|");
    for p in &r.pairs {
        let (ratio, interval) = match p.interval {
            Some(i) => (pct(i.ratio), format!("{} … {}", pct(i.low), pct(i.high))),
            None => ("–".into(), "–".into()),
        };
        let better = if p.lower_is_better { "lower is better" } else { "higher is better" };
        let _ = writeln!(
            out,
            "| `{}` ({better}) | {} {} | {} {} | {ratio} | {interval} | {:.0}% | {} |",
            p.name,
            human(median(&p.base)),
            p.unit,
            human(median(&p.head)),
            p.unit,
            p.delta * 100.0,
            verdict_cell(p)
        );
    }
    let _ = writeln!(
        out,
        "\nbase and head are each arm's median over the blocks (`step.` figures: over the rounds); the ratio is the geometric mean of the blocks' ratios."
    );
    let undecided: Vec<&Pair> = r.pairs.iter().filter(|p| p.verdict == Verdict::Undecided).collect();
    if !undecided.is_empty() {
        let _ = writeln!(out, "\n## Undecided\n");
        let _ = writeln!(out, "Their intervals reach past ±δ: more blocks, or a quieter host, would decide them.\n");
        for p in undecided {
            let width = p.width().map_or("no interval".into(), |w| format!("interval {:.1}% wide", w * 100.0));
            let _ = writeln!(out, "- `{}`: {width}", p.name);
        }
    }
    let _ = writeln!(out, "\n## Wrong outcomes\n");
    if r.wrong.is_empty() {
        let _ = writeln!(out, "None in either arm.");
    } else {
        for w in &r.wrong {
            let _ = writeln!(out, "- {w}");
        }
    }
    let _ = writeln!(out, "\n## Blocks\n");
    let _ = writeln!(out, "| block | order | seconds |");
    let _ = writeln!(out, "|---:|---|---:|");
    for (i, (o, s)) in r.orders.iter().zip(&r.block_seconds).enumerate() {
        let _ = writeln!(out, "| {} | {o} | {s:.0} |", i + 1);
    }
    out
}

/// Whether a figure belongs to a chart.
type Keep = fn(&str) -> bool;

fn env_line(env: &[String]) -> String {
    if env.is_empty() {
        String::new()
    } else {
        format!(" with `{}`", env.join(" "))
    }
}

fn verdict_cell(p: &Pair) -> String {
    match p.verdict {
        Verdict::Slower => "**slower**".into(),
        v => v.word().into(),
    }
}

/// `report.html`: the summary, and each block's head ÷ base per figure.
pub fn html(r: &AbResult) -> String {
    let md = markdown(r);
    let md = md.split_once('\n').map_or("", |(_, rest)| rest);
    let mut body = summary_html::render(md);
    let axes = Axes { x: "block (steps: round)".into(), y: "head ÷ base".into(), ..Axes::default() };
    let longest = r.pairs.iter().map(|p| p.ratios.len()).max().unwrap_or(1).max(1);
    let bound = |label: &str, y: f64| Series {
        label: label.into(),
        points: vec![(1.0, y), (longest as f64, y)],
        model: true,
        markers: false,
    };
    let groups: [(&str, Keep); 5] = [
        ("Steps, round by round", |n| n.starts_with("step.")),
        ("Appends", |n| n.starts_with("append.")),
        ("Replay, fold and generator", |n| n.starts_with("replay.") || n.starts_with("generate.")),
        ("Live and the projector", |n| n.starts_with("live.")),
        ("Other", |n| !["step.", "append.", "replay.", "generate.", "live."].iter().any(|p| n.starts_with(p))),
    ];
    let _ = write!(body, "<h2>Each block's head ÷ base</h2><p>One line per figure (steps: per round); dashed: 1 − δ and 1 + δ. A figure whose blocks stay between them is the same.</p>");
    for (title, keep) in groups {
        let mut series: Vec<Series> = r
            .pairs
            .iter()
            .filter(|p| keep(&p.name))
            .map(|p| Series {
                label: format!("{} ({})", p.name, p.verdict.word()),
                points: p.ratios.iter().enumerate().map(|(i, v)| ((i + 1) as f64, *v)).collect(),
                model: false,
                markers: false,
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        series.push(bound(&format!("1 − δ ({:.2})", 1.0 - r.delta), 1.0 - r.delta));
        series.push(bound(&format!("1 + δ ({:.2})", 1.0 + r.delta), 1.0 + r.delta));
        if let Some(svg) = line_chart(&axes, &series) {
            let _ = write!(body, "<figure><figcaption>{}</figcaption>{svg}</figure>", escape(title));
        }
    }
    page(&format!("stroom ab: {}", r.scenario), &body)
}
