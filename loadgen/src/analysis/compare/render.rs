//! The comparison as a terminal table and as a report.md section.

use std::fmt::Write;

use super::{Comparison, Judgement, Row};

impl Judgement {
    fn word(self) -> &'static str {
        match self {
            Self::Same => "same",
            Self::Better => "better",
            Self::Regression => "REGRESSION",
            Self::Missing => "MISSING",
            Self::Unconfirmed => "unconfirmed",
            Self::Starved => "not judged",
            Self::Info => "info",
        }
    }
}

impl Comparison {
    /// The delta table; `all` adds the figures shown but not judged.
    pub fn render(&self, all: bool) -> String {
        let mut s = String::new();
        let _ =
            writeln!(s, "{:<56} {:>12} {:>12} {:>9} {:>7}  verdict", "figure", "baseline", "current", "change", "band");
        for r in self.rows.iter().filter(|r| all || r.verdict != Judgement::Info) {
            let _ = writeln!(
                s,
                "{:<56} {:>12} {:>12} {:>9} {:>7}  {}",
                label(r),
                fmt(r.baseline),
                fmt(r.current),
                change(r),
                band(r),
                r.verdict.word()
            );
        }
        let _ = writeln!(s, "\n{}", self.summary());
        s
    }

    /// One line: how many figures were judged and which failed.
    pub fn summary(&self) -> String {
        let judged = self.judged().count();
        let failed: Vec<&str> = self.regressions().map(|r| r.name.as_str()).collect();
        let unconfirmed: Vec<&str> =
            self.rows.iter().filter(|r| r.verdict == Judgement::Unconfirmed).map(|r| r.name.as_str()).collect();
        let refs = "÷ ref: normalised by the same run's reference; ≤: a limit held whatever the baseline";
        let unconfirmed = if unconfirmed.is_empty() {
            String::new()
        } else {
            format!("; past its band or limit in one of two runs, not failed: {}", unconfirmed.join(", "))
        };
        let starved: Vec<String> =
            self.starved().map(|r| format!("{} (steal {:.0}%)", r.name, r.steal.unwrap_or(f64::NAN) * 100.0)).collect();
        let starved = if starved.is_empty() {
            String::new()
        } else {
            format!(
                "; past its limit or band while the hypervisor took over {:.0}% of the CPU, NOT JUDGED: {}",
                super::rule::STEAL_LIMIT * 100.0,
                starved.join(", ")
            )
        };
        let refs = format!("{refs}{unconfirmed}{starved}");
        if failed.is_empty() {
            format!(
                "{judged} figures judged, none regressed beyond its noise band or limit (floor ±{:.0}%; {refs})",
                self.floor * 100.0
            )
        } else {
            format!(
                "{judged} figures judged, {} failed: {} (floor ±{:.0}%; {refs})",
                failed.len(),
                failed.join(", "),
                self.floor * 100.0
            )
        }
    }

    /// The section `stroom compare` adds to the current run's report.md.
    pub fn markdown(&self, baseline: &str) -> String {
        let mut s = String::new();
        let verdict = if self.regressions().next().is_some() { "**FAILED**" } else { "passed" };
        let _ = writeln!(s, "## Gate against `{baseline}`: {verdict}\n");
        let _ = writeln!(s, "{}\n", self.summary());
        let _ = writeln!(s, "| figure | baseline | current | change | band | verdict |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
        for r in self.rows.iter().filter(|r| r.verdict != Judgement::Info) {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} | {} |",
                label(r),
                fmt(r.baseline),
                fmt(r.current),
                change(r),
                band(r),
                r.verdict.word()
            );
        }
        s
    }
}

fn label(r: &Row) -> String {
    match r.reference {
        Some(_) => format!("{} (÷ ref)", r.name),
        None => r.name.clone(),
    }
}

fn change(r: &Row) -> String {
    if r.verdict == Judgement::Missing {
        "–".into()
    } else if r.name.ends_with("_share") {
        format!("{:+.1}pp", r.change * 100.0)
    } else {
        format!("{:+.1}%", r.change * 100.0)
    }
}

fn band(r: &Row) -> String {
    if let Some(limit) = r.limit {
        if r.name.ends_with("_share") {
            format!("≤{:.0}%", limit * 100.0)
        } else {
            format!("≤{limit:.0}ms")
        }
    } else if r.band > 0.0 {
        format!("±{:.0}%", r.band * 100.0)
    } else {
        String::new()
    }
}

fn fmt(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}
