//! `report.md`: the summary a person reads in a minute.

use std::fmt::Write;

use crate::result_file::RunResult;

/// Renders the Markdown report of a run.
pub fn render(r: &RunResult) -> String {
    let mut s = String::new();
    let name = r.scenario.get("name").and_then(|v| v.as_str()).unwrap_or("?");
    let _ = writeln!(s, "# stroom run: {name}\n");
    if let Some(d) = r.scenario.get("description").and_then(|v| v.as_str()).filter(|d| !d.is_empty()) {
        let _ = writeln!(s, "{d}\n");
    }
    let e = &r.environment;
    let setting = |k: &str| e.settings.get(k).map(String::as_str).unwrap_or("?");
    let _ = writeln!(s, "- started {} , finished {}", r.started_at, r.finished_at);
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
    let _ = writeln!(
        s,
        "- layout `{}`, payload `{}`, {} schools, {} events, seed {}\n",
        scen("layout"),
        scen("payload"),
        scen("schools"),
        scen("events"),
        scen("seed")
    );
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
