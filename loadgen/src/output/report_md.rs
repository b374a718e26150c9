//! `report.md`: the summary a person reads in a minute.

use std::fmt::Write;

use crate::output::result_file::RunResult;

/// Headline ratios: (label, numerator, denominator, target if the issues set one). An empty
/// denominator means the numerator is a ratio already.
pub const RATIOS: &[(&str, &str, &str, Option<f64>)] = &[
    (
        "per-school SLO rate ÷ best parallel COPY in",
        "append.per-school.slo_rate_events_per_s",
        "calibrate.copy_in.events_per_s",
        Some(0.5),
    ),
    (
        "per-school ceiling ÷ best parallel COPY in",
        "append.per-school.ceiling_events_per_s",
        "calibrate.copy_in.events_per_s",
        Some(0.8),
    ),
    (
        "per-school SLO rate ÷ rill ceiling",
        "append.per-school.slo_rate_events_per_s",
        "append.rill.ceiling_events_per_s",
        Some(50.0),
    ),
    (
        "per-school ceiling ÷ rill ceiling",
        "append.per-school.ceiling_events_per_s",
        "append.rill.ceiling_events_per_s",
        None,
    ),
    (
        "per-school ceiling ÷ Message DB ceiling",
        "append.per-school.ceiling_events_per_s",
        "append.message-db.ceiling_events_per_s",
        None,
    ),
    (
        "per-school SLO rate ÷ Message DB SLO rate",
        "append.per-school.slo_rate_events_per_s",
        "append.message-db.slo_rate_events_per_s",
        None,
    ),
    (
        "batched ceiling ÷ best parallel COPY in",
        "append.batched.ceiling_events_per_s",
        "calibrate.copy_in.events_per_s",
        None,
    ),
    (
        "batched SLO rate ÷ best parallel COPY in",
        "append.batched.slo_rate_events_per_s",
        "calibrate.copy_in.events_per_s",
        None,
    ),
    ("single ÷ pgbench, worst C", "append.single.vs_pgbench_min", "", Some(0.9)),
    ("rill ÷ pgbench, worst C", "append.rill.vs_pgbench_min", "", Some(0.9)),
    ("Message DB ÷ pgbench write_message, worst C", "append.message-db.vs_pgbench_min", "", Some(0.9)),
    (
        "parallel replay ÷ best parallel COPY out",
        "replay.parallel.events_per_s",
        "calibrate.copy_out.events_per_s",
        Some(0.7),
    ),
    (
        "sequential replay ÷ ordered COPY out",
        "replay.sequential.events_per_s",
        "calibrate.copy_out_ordered.events_per_s",
        None,
    ),
    ("parallel ÷ sequential replay", "replay.parallel.events_per_s", "replay.sequential.events_per_s", None),
    ("parallel replay ÷ rill's catch-up replay", "replay.parallel.events_per_s", "replay.rill.events_per_s", None),
    ("sequential replay ÷ rill's catch-up replay", "replay.sequential.events_per_s", "replay.rill.events_per_s", None),
    (
        "parallel replay ÷ Message DB's category replay",
        "replay.parallel.events_per_s",
        "replay.message-db.events_per_s",
        None,
    ),
];

/// The headline ratios a result has: (label, value, target).
pub fn ratios(r: &RunResult) -> Vec<(&'static str, f64, Option<f64>)> {
    RATIOS
        .iter()
        .filter_map(|(label, a, b, target)| {
            let a = r.figures.get(*a)?.value;
            let b = if b.is_empty() { 1.0 } else { r.figures.get(*b)?.value };
            (b > 0.0).then(|| (*label, a / b, *target))
        })
        .collect()
}

/// Server CPU per event for each reference and strategy: (label, µs).
fn server_cpu(r: &RunResult) -> Vec<(String, f64)> {
    let mut rows: Vec<(String, f64)> = r
        .figures
        .iter()
        .filter(|(k, _)| k.ends_with(".server_cpu_us_per_event"))
        .filter(|(k, _)| {
            let parts = k.split('.').count();
            (k.starts_with("calibrate.") || k.starts_with("append.")) && parts == 3
        })
        .map(|(k, f)| (k.trim_end_matches(".server_cpu_us_per_event").to_string(), f.value))
        .collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    rows
}

/// Lines the verdict must carry whatever the thresholds say: windows that saturated, and data
/// that is not durable where it lives.
fn warnings(r: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(inject) = r.scenario.get("inject") {
        out.push(format!("faults were injected ({inject}): this run tests the gate, it measures nothing"));
    }
    if let Some(d) = r.environment.durability.as_ref().filter(|d| !d.durable) {
        out.push(format!("the data directory is on {}: an acknowledged commit does not survive a power cut, so \"durable\" figures here are not durable", d.filesystem));
    }
    for (k, f) in &r.figures {
        // `append.<s>.saturated` is the worst of the schedules below it, which are named.
        let aggregate = k.starts_with("append.") && k.split('.').count() == 3;
        if k.ends_with(".saturated") && f.value > 0.0 && !aggregate {
            let step = k.trim_end_matches(".saturated");
            let unsent = r.figures.get(&format!("{step}.unsent")).map(|u| u.value).unwrap_or(0.0);
            out.push(format!(
                "`{step}` saturated: dispatch stopped and {unsent:.0} arrivals due in its window were never sent"
            ));
        }
    }
    out
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
    for w in warnings(r) {
        let _ = writeln!(s, "- **{w}**");
    }
    if !warnings(r).is_empty() {
        let _ = writeln!(s);
    }
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
    match &e.durability {
        Some(d) => {
            let us = d.fsync_latency_us.map(|v| format!("{v:.0} µs")).unwrap_or_else(|| "not measured".into());
            let _ = writeln!(s, "- data directory on `{}`; one 8 kB write + fdatasync: {us}", d.filesystem);
        }
        None => {
            let _ =
                writeln!(s, "- data directory's filesystem and fsync latency: unknown (a server stroom did not start)");
        }
    }
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
    for n in &r.notes {
        let _ = writeln!(s, "- {n}");
    }
    if !r.notes.is_empty() {
        let _ = writeln!(s);
    }

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
                "\nA ceiling is the best closed-loop step at any latency; an SLO rate is the highest offered rate \
                 whose open-loop p99 held the SLO with no error. The COPY references are the best of k parallel \
                 connections on the same rows. Targets are judged on `scenarios/baseline.toml`'s full sweep and search."
            );
        }
        let _ = writeln!(s);
    }
    if let Some(table) = super::peers_table::render(&r.figures) {
        let _ = writeln!(s, "{table}");
    }
    let cpu = server_cpu(r);
    if !cpu.is_empty() {
        let _ = writeln!(s, "## Server CPU per event\n");
        let _ = writeln!(
            s,
            "Read from the server processes' CPU time in `/proc` over each step (a ceiling's step for \
                             strategies).\n"
        );
        let _ = writeln!(s, "| what | µs of server CPU per event |\n|---|---:|");
        for (what, us) in cpu {
            let _ = writeln!(s, "| `{what}` | {us:.1} |");
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
