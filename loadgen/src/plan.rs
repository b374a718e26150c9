//! `stroom plan`: capacity planning from a result's figures. Everything past the measured
//! points is a projection of the fitted model, and is labelled so.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::figures::{Figure, Figures};
use crate::generator::Growth;
use crate::result_file::RunResult;
use crate::usl::Usl;

/// Events a full rebuild covers in the projection: the talk's 300M.
pub const REBUILD_EVENTS: f64 = 300e6;
/// Threads the original team hoped to rebuild on.
pub const REBUILD_THREADS: f64 = 40.0;

/// The capacity plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    /// Replay: parallel throughput against workers.
    pub replay: Option<Usl>,
    /// The largest worker count measured for replay.
    pub replay_measured_max: f64,
    /// Append (per-school): throughput against writers.
    pub append: Option<Usl>,
    /// The largest writer count measured for append.
    pub append_measured_max: f64,
    /// Projected seconds to rebuild 300M events on 40 workers.
    pub rebuild_300m_40t_s: Option<f64>,
    /// Best measured append rate over today's peak-hour rate.
    pub append_headroom_today: Option<f64>,
    /// The same against the peak-hour rate a year on, on the published growth curve.
    pub append_headroom_next_year: Option<f64>,
    /// Schools that fit before open-loop p99 crosses the SLO (projection).
    pub schools_within_slo: Option<f64>,
    /// Lines a person reads.
    pub lines: Vec<String>,
}

fn sweep(figures: &Figures, prefix: &str, tag: char, suffix: &str) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = figures
        .iter()
        .filter_map(|(name, f)| {
            let rest = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
            let n: f64 = rest.strip_prefix(tag)?.parse().ok()?;
            Some((n, f.value))
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Builds the plan from a result.
pub fn plan(result: &RunResult, slo_p99_ms: f64) -> Plan {
    let f = &result.figures;
    let mut p = Plan::default();
    let mut say = |s: String| p.lines.push(s);

    let replay_points = sweep(f, "replay.parallel.", 't', ".events_per_s");
    p.replay_measured_max = replay_points.iter().map(|x| x.0).fold(0.0, f64::max);
    p.replay = Usl::fit(&replay_points);
    if let Some(u) = p.replay {
        let rate = u.throughput(REBUILD_THREADS);
        p.rebuild_300m_40t_s = Some(REBUILD_EVENTS / rate);
        say(format!(
            "replay: σ = {}, κ = {}; peak at {}; more workers stop helping past ~{} (measured up to {})",
            significant(u.sigma),
            significant(u.kappa),
            u.peak().map(|n| format!("{n:.0} workers")).unwrap_or_else(|| "no peak (κ = 0)".into()),
            u.knee(256.0),
            p.replay_measured_max
        ));
        say(format!(
            "replay: rebuilding 300M events on 40 workers would take {:.0} s ({:.1} min) at a projected {:.0} events/s [projection beyond {} measured workers]",
            REBUILD_EVENTS / rate,
            REBUILD_EVENTS / rate / 60.0,
            rate,
            p.replay_measured_max
        ));
    }

    let append_points = sweep(f, "append.per-school.", 'c', ".events_per_s");
    p.append_measured_max = append_points.iter().map(|x| x.0).fold(0.0, f64::max);
    p.append = Usl::fit(&append_points);
    if let Some(u) = p.append {
        say(format!(
            "append (per-school): σ = {}, κ = {}; peak at {}",
            significant(u.sigma),
            significant(u.kappa),
            u.peak().map(|n| format!("{n:.0} writers [projection]")).unwrap_or_else(|| "no peak (κ = 0)".into())
        ));
    }
    let peak_hour = f.get("generate.peak_hour_events_per_s").map(|x| x.value);
    // A rate a user could run at: the SLO rate where the search ran, else the ceiling (at any
    // latency), said as such.
    let (best_append, what) = match f.get("append.per-school.slo_rate_events_per_s") {
        Some(x) => (Some(x.value), "the SLO rate"),
        None => (f.get("append.per-school.ceiling_events_per_s").map(|x| x.value), "the ceiling, at any latency"),
    };
    if let (Some(peak), Some(best)) = (peak_hour, best_append) {
        let g = Growth::published();
        let next_year = peak * g.rate(888.0 + 365.0) / g.rate(888.0);
        p.append_headroom_today = Some(best / peak);
        p.append_headroom_next_year = Some(best / next_year);
        say(format!(
            "append headroom: {best:.0} events/s ({what}) against today's peak hour of {peak:.1} events/s = {:.0}x",
            best / peak
        ));
        say(format!(
            "append headroom next year: against {next_year:.1} events/s = {:.0}x [projection on the published growth curve]",
            best / next_year
        ));
    }

    let schools = result.scenario.get("population").and_then(|p| p.get("schools")).and_then(|s| s.as_f64());
    let open = sweep(f, "append.per-school.", 'r', ".p99_ms");
    if let (Some(peak), Some(schools), false) = (peak_hour, schools, open.is_empty()) {
        let per_school = peak / schools;
        let (rate, bound) = rate_within_slo(&open, slo_p99_ms);
        if let Some(rate) = rate {
            let fit = rate / per_school;
            p.schools_within_slo = Some(fit);
            say(format!(
                "onboarding: p99 stays under {slo_p99_ms} ms up to {bound}{rate:.0} events/s; at {per_school:.2} peak-hour events/s per school that is {bound}{fit:.0} schools, {:.0} more than the {schools:.0} measured [projection]",
                fit - schools
            ));
            let slow: Vec<String> = open
                .iter()
                .filter(|(r, l)| *r < rate && *l >= slo_p99_ms)
                .map(|(r, l)| format!("{l:.0} ms at {r:.0}/s"))
                .collect();
            if !slow.is_empty() {
                say(format!("onboarding: p99 was also over {slo_p99_ms} ms at lower rates ({}): a cold or noisy step; rerun before trusting the school count", slow.join(", ")));
            }
        } else {
            say(format!("onboarding: p99 was over {slo_p99_ms} ms at every measured rate; no school count fits"));
        }
    }
    // Ramps measure the same thing directly: the arrival rate at which p99 first broke the SLO.
    if let (Some(peak), Some(schools)) = (peak_hour, schools) {
        let per_school = peak / schools;
        for (name, held) in
            f.iter().filter(|(n, _)| n.starts_with("append.per-school.r") && n.ends_with(".slo_held_to_events_per_s"))
        {
            let ramp = name.trim_start_matches("append.per-school.").trim_end_matches(".slo_held_to_events_per_s");
            say(format!(
                "onboarding (ramp {ramp}): p99 held under {slo_p99_ms} ms up to {:.0} events/s = {:.0} schools at today's per-school peak [projection]",
                held.value,
                held.value / per_school
            ));
        }
    }
    p
}

/// The highest arrival rate with p99 under the SLO, interpolated between measured rates;
/// "at least " when every measured rate met it.
fn rate_within_slo(points: &[(f64, f64)], slo: f64) -> (Option<f64>, &'static str) {
    // The crossing that counts is the last one: a slow point at a low rate (a cold start)
    // followed by fast ones does not mean nothing fits.
    let Some(i) = points.iter().rposition(|(_, p99)| *p99 < slo) else { return (None, "") };
    match points.get(i + 1) {
        None => (Some(points[i].0), "at least "),
        Some(&(r1, l1)) => {
            let (r0, l0) = points[i];
            (Some(r0 + (r1 - r0) * (slo - l0) / (l1 - l0)), "about ")
        }
    }
}

impl Plan {
    /// The figures the plan adds to a result.
    pub fn figures(&self) -> Figures {
        let mut f = Figures::new();
        let mut put = |name: &str, unit: &str, v: Option<f64>| {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                f.insert(name.to_string(), Figure::from_repetitions(unit, vec![v]));
            }
        };
        put("plan.rebuild_300m_40t_s", "s", self.rebuild_300m_40t_s);
        put("plan.replay.sigma", "", self.replay.map(|u| u.sigma));
        put("plan.replay.kappa", "", self.replay.map(|u| u.kappa));
        put("plan.replay.peak_threads", "threads", self.replay.and_then(|u| u.peak()));
        put("plan.append.sigma", "", self.append.map(|u| u.sigma));
        put("plan.append.kappa", "", self.append.map(|u| u.kappa));
        put("plan.append_headroom_today", "x", self.append_headroom_today);
        put("plan.append_headroom_next_year", "x", self.append_headroom_next_year);
        put("plan.schools_within_slo", "schools", self.schools_within_slo);
        f
    }

    /// The plan as text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if self.lines.is_empty() {
            s.push_str("no sweep in this result to plan from (run a scenario with replay threads or append writers)\n");
        }
        for l in &self.lines {
            let _ = writeln!(s, "{l}");
        }
        s
    }
}

/// `x` to three significant digits, so that a coefficient fitted over 262144 writers (σ about
/// 2e-4) does not print as 0.000.
fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_keep_three_significant_digits() {
        assert_eq!(significant(0.0291), "0.0291");
        assert_eq!(significant(1.234e-5), "0.0000123");
        assert_eq!(significant(0.5), "0.500");
        assert_eq!(significant(0.0), "0");
        assert_eq!(significant(12.34), "12.3");
    }

    #[test]
    fn the_slo_rate_is_interpolated_or_bounded() {
        assert_eq!(rate_within_slo(&[(100.0, 10.0), (200.0, 30.0)], 50.0), (Some(200.0), "at least "));
        assert_eq!(rate_within_slo(&[(100.0, 10.0), (200.0, 90.0)], 50.0), (Some(150.0), "about "));
        assert_eq!(rate_within_slo(&[(100.0, 60.0)], 50.0).0, None);
        // A cold first point does not hide the rates that met the SLO after it.
        assert_eq!(rate_within_slo(&[(50.0, 70.0), (100.0, 10.0), (200.0, 90.0)], 50.0), (Some(150.0), "about "));
    }
}
