//! `stroom compare`: figures of two results, normalised by each run's own reference rates, so
//! a baseline from another machine still means something.
//!
//! Append rates are divided by that run's raw COPY-in rate, replay-from-PostgreSQL rates by its
//! raw COPY-out rate. A change worse than the noise threshold is a regression.

use std::fmt::Write;

use crate::result_file::RunResult;

/// Which way is better for a figure, and what it is divided by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    HigherBetter(Option<&'static str>),
    LowerBetter,
    MustStay,
    Ignore,
}

fn kind(name: &str) -> Kind {
    if name == "replay.digests_equal" {
        return Kind::MustStay;
    }
    if name.starts_with("plan.") || name.ends_with(".saturated") || name == "replay.events" {
        return Kind::Ignore;
    }
    if name.ends_with("events_per_s") || name.ends_with("mb_per_s") {
        let reference = if name.starts_with("append.") && !name.contains(".throughput") {
            Some("calibrate.copy_in.events_per_s")
        } else if name.starts_with("replay.sequential") {
            Some("calibrate.copy_out_ordered.events_per_s")
        } else if name.starts_with("replay.parallel") {
            Some("calibrate.copy_out.events_per_s")
        } else {
            None
        };
        return Kind::HigherBetter(reference);
    }
    if name.ends_with("_ms")
        || name.ends_with("_s")
        || name.ends_with("late_starts")
        || name.ends_with("peak_rss_mb")
        || name.ends_with(".errors")
    {
        return Kind::LowerBetter;
    }
    Kind::Ignore
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Figure name.
    pub name: String,
    /// Baseline value (normalised when `reference` is set).
    pub baseline: f64,
    /// Current value (likewise).
    pub current: f64,
    /// The figure both were divided by, if any.
    pub reference: Option<&'static str>,
    /// Relative change, positive = better.
    pub change: f64,
    /// Worse than the noise threshold.
    pub regression: bool,
}

/// Every figure both results have, compared.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// The rows, by name.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// Rows that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.regression)
    }

    /// The delta table.
    pub fn render(&self, noise: f64) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{:<48} {:>14} {:>14} {:>9}  verdict", "figure", "baseline", "current", "change");
        for r in &self.rows {
            let norm = if r.reference.is_some() { " (÷ ref)" } else { "" };
            let verdict = if r.regression {
                "REGRESSION"
            } else if r.change.abs() > noise {
                "better"
            } else {
                "same"
            };
            let _ = writeln!(
                s,
                "{:<48} {:>14} {:>14} {:>+8.1}%  {verdict}",
                format!("{}{norm}", r.name),
                fmt(r.baseline),
                fmt(r.current),
                r.change * 100.0
            );
        }
        let n = self.regressions().count();
        let _ = writeln!(
            s,
            "\n{} figures compared, {n} regressed beyond the ±{:.0}% noise threshold",
            self.rows.len(),
            noise * 100.0
        );
        s
    }
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// Compares `current` against `baseline`. `only` keeps figures whose names start with one of
/// its prefixes (all when empty).
pub fn compare(baseline: &RunResult, current: &RunResult, noise: f64, only: &[String]) -> Comparison {
    let mut rows = Vec::new();
    for (name, b) in &baseline.figures {
        if !only.is_empty() && !only.iter().any(|p| name.starts_with(p.as_str())) {
            continue;
        }
        let Some(c) = current.figures.get(name) else { continue };
        let k = kind(name);
        let (mut bv, mut cv, mut reference) = (b.value, c.value, None);
        if let Kind::HigherBetter(Some(r)) = k {
            if let (Some(br), Some(cr)) = (baseline.figures.get(r), current.figures.get(r)) {
                if br.value > 0.0 && cr.value > 0.0 {
                    bv /= br.value;
                    cv /= cr.value;
                    reference = Some(r);
                }
            }
        }
        let change = match k {
            Kind::HigherBetter(_) if bv > 0.0 => cv / bv - 1.0,
            Kind::LowerBetter if cv > 0.0 && bv > 0.0 => bv / cv - 1.0,
            Kind::MustStay if cv < bv => -1.0,
            _ => 0.0,
        };
        let regression = match k {
            Kind::Ignore => false,
            Kind::MustStay => cv < bv,
            _ => change < -noise,
        };
        rows.push(Row { name: name.clone(), baseline: bv, current: cv, reference, change, regression });
    }
    Comparison { rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figure;

    fn result(pairs: &[(&str, f64)]) -> RunResult {
        let mut r: RunResult = serde_json::from_value(serde_json::json!({
            "result_version": 1, "stroom_version": "0", "scenario": {}, "started_at": "", "finished_at": "",
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
    fn rates_are_compared_relative_to_their_reference() {
        // Current machine is twice as fast everywhere: no change after normalising.
        let base = result(&[("calibrate.copy_out.events_per_s", 100.0), ("replay.parallel.events_per_s", 80.0)]);
        let fast = result(&[("calibrate.copy_out.events_per_s", 200.0), ("replay.parallel.events_per_s", 160.0)]);
        let c = compare(&base, &fast, 0.1, &[]);
        let row = c.rows.iter().find(|r| r.name == "replay.parallel.events_per_s").unwrap();
        assert!(row.change.abs() < 1e-9 && !row.regression);
        // Replay got slower relative to its reference: a regression.
        let slow = result(&[("calibrate.copy_out.events_per_s", 100.0), ("replay.parallel.events_per_s", 50.0)]);
        let c = compare(&base, &slow, 0.1, &["replay.".into()]);
        assert_eq!(c.regressions().count(), 1);
        assert!(c.render(0.1).contains("REGRESSION"));
    }

    #[test]
    fn latencies_are_better_lower_and_digest_equality_must_hold() {
        let base = result(&[("append.per-school.p99_ms", 10.0), ("replay.digests_equal", 1.0)]);
        let cur = result(&[("append.per-school.p99_ms", 20.0), ("replay.digests_equal", 0.0)]);
        let c = compare(&base, &cur, 0.2, &[]);
        assert_eq!(c.regressions().count(), 2);
    }
}
