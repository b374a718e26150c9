//! `report.md`: the summary a person reads in a minute.

use std::fmt::Write;

use crate::result_file::RunResult;

/// Headline ratios: (label, numerator, denominator, target if the issues set one).
pub const RATIOS: &[(&str, &str, &str, Option<f64>)] = &[
    ("per-school append ÷ raw COPY in", "append.per-school.events_per_s", "calibrate.copy_in.events_per_s", Some(0.8)),
    ("per-school append ÷ rill", "append.per-school.events_per_s", "append.rill.events_per_s", Some(50.0)),
    ("batched append ÷ raw COPY in", "append.batched.events_per_s", "calibrate.copy_in.events_per_s", None),
    (
        "per-school append ÷ raw COPY in, arrival order",
        "append.per-school.events_per_s",
        "calibrate.copy_in_arrival.events_per_s",
        None,
    ),
    (
        "raw COPY in: arrival order ÷ by school",
        "calibrate.copy_in_arrival.events_per_s",
        "calibrate.copy_in.events_per_s",
        None,
    ),
    ("parallel replay ÷ raw COPY out", "replay.parallel.events_per_s", "calibrate.copy_out.events_per_s", Some(0.7)),
    ("parallel ÷ sequential replay", "replay.parallel.events_per_s", "replay.sequential.events_per_s", None),
];

/// The headline ratios a result has: (label, value, target).
pub fn ratios(r: &RunResult) -> Vec<(&'static str, f64, Option<f64>)> {
    RATIOS
        .iter()
        .filter_map(|(label, a, b, target)| {
            let (a, b) = (r.figures.get(*a)?.value, r.figures.get(*b)?.value);
            (b > 0.0).then(|| (*label, a / b, *target))
        })
        .collect()
}

/// Renders the Markdown report of a run.
pub fn render(r: &RunResult) -> String {
    let mut s = String::new();
    let name = r.scenario.get("name").and_then(|v| v.as_str()).unwrap_or("?");
    let _ = writeln!(s, "# stroom run: {name}\n");
    if let Some(d) = r.scenario.get("description").and_then(|v| v.as_str()).filter(|d| !d.is_empty()) {
        let _ = writeln!(s, "{d}\n");
    }
    let verdict = match (r.thresholds.is_empty(), r.passed()) {
        (true, _) => "no thresholds set".to_string(),
        (false, true) => format!("all {} thresholds passed", r.thresholds.len()),
        (false, false) => {
            format!("{} of {} thresholds FAILED", r.thresholds.iter().filter(|v| !v.passed).count(), r.thresholds.len())
        }
    };
    let _ = writeln!(s, "**Verdict: {verdict}.**\n");
    let e = &r.environment;
    let setting = |k: &str| e.settings.get(k).map(String::as_str).unwrap_or("?");
    let _ = writeln!(s, "- started {}, finished {}", r.started_at, r.finished_at);
    let _ = writeln!(
        s,
        "- {} cores, {} ({:.1} GiB), commit `{}`",
        e.cores,
        e.cpu_model,
        e.memory_bytes as f64 / (1u64 << 30) as f64,
        e.git_commit
    );
    let _ = writeln!(
        s,
        "- PostgreSQL {}, profile `{}` (fsync {}, synchronous_commit {}, shared_buffers {}); {}",
        setting("server_version"),
        e.profile,
        setting("fsync"),
        setting("synchronous_commit"),
        setting("shared_buffers"),
        e.database
    );
    let scen = |k: &str| r.scenario.get(k).map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or_default();
    let pop = r.scenario.get("population");
    let popv = |k: &str| pop.and_then(|p| p.get(k)).map(|v| v.to_string()).unwrap_or_default();
    let _ = writeln!(
        s,
        "- layout `{}`, payload `{}`, {} schools, {} students, seed {}\n",
        scen("layout"),
        scen("payload"),
        popv("schools"),
        popv("students"),
        scen("seed")
    );

    let ratios = ratios(r);
    if !ratios.is_empty() {
        let _ = writeln!(s, "## Headline ratios (same run, same machine)\n");
        let _ = writeln!(s, "| ratio | value | target | |\n|---|---:|---:|---|");
        let targeted = ratios.iter().any(|(_, _, t)| t.is_some());
        for (label, v, target) in ratios {
            let (t, mark) = match target {
                Some(t) if v >= t => (format!("≥ {t}"), "meets"),
                Some(t) => (format!("≥ {t}"), "**misses**"),
                None => (String::new(), ""),
            };
            let _ = writeln!(s, "| {label} | {v:.3} | {t} | {mark} |");
        }
        if targeted {
            let _ = writeln!(
                s,
                "\nTargets are the issues' and hold for the best step of a full sweep (`scenarios/baseline.toml`); \
                 a scenario whose sweep stops at fewer writers reads lower."
            );
        }
        let _ = writeln!(s);
    }
    if !r.thresholds.is_empty() {
        let _ = writeln!(s, "## Thresholds\n");
        for v in &r.thresholds {
            let mark = if v.passed { "pass" } else { "**FAIL**" };
            let detail = if v.detail.is_empty() { String::new() } else { format!(" — {}", v.detail) };
            let _ = writeln!(s, "- {mark}: `{}`{detail}", v.threshold);
        }
        let _ = writeln!(s);
    }
    if !r.plan.is_empty() {
        let _ = writeln!(s, "## Capacity plan\n");
        for l in &r.plan {
            let _ = writeln!(s, "- {l}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Figures\n");
    let _ = writeln!(s, "Each value is the median of its repetitions; min and max show the spread.\n");
    let _ = writeln!(s, "| figure | value | unit | min | max | reps |");
    let _ = writeln!(s, "|---|---:|---|---:|---:|---:|");
    for (k, f) in &r.figures {
        let _ = writeln!(
            s,
            "| `{k}` | {} | {} | {} | {} | {} |",
            num(f.value),
            f.unit,
            num(f.min),
            num(f.max),
            f.repetitions.len()
        );
    }
    s
}

fn num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}
