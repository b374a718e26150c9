//! `stroom plan`: capacity planning from a result's figures. A fitted curve is projected only
//! when it fits (`Fit::refusal`), and labelled so; a question past what was measured (more
//! workers, a log larger than memory, more schools) is answered "unmeasured", not a number.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::analysis::usl::{Fit, Usl};
use crate::figures::{Figure, Figures};
use crate::generator::Growth;
use crate::output::result_file::RunResult;

mod onboarding;
mod rebuild;
mod servers;
mod with;

pub use onboarding::Onboarding;
pub use rebuild::Machine;
use rebuild::{parallel, rill, sequential, Costs};
pub use with::fill_from;

/// What `stroom plan` is asked beyond the result: a target machine and a log size.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Question {
    /// The machine to project onto, besides the one measured.
    pub target: Option<Machine>,
    /// A log size in events to project, besides the published 100M, 200M and 300M.
    pub events: Option<f64>,
    /// "Can we take M more schools?"
    pub onboarding: Onboarding,
    /// "What would N servers take?" (default: the servers the result measured, if any).
    pub servers: Option<f64>,
}

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
    /// Best measured append rate over today's peak-hour rate.
    pub append_headroom_today: Option<f64>,
    /// The same against the peak-hour rate a year on, on the published growth curve.
    pub append_headroom_next_year: Option<f64>,
    /// The rate p99 held the SLO up to, over the measured schools' peak-hour rate.
    pub slo_headroom: Option<f64>,
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

/// Builds the plan from a result, for the machine it was measured on.
pub fn plan(result: &RunResult, slo_p99_ms: f64) -> Plan {
    plan_for(result, slo_p99_ms, &Question::default())
}

/// Builds the plan from a result, answering `question` too.
pub fn plan_for(result: &RunResult, slo_p99_ms: f64, question: &Question) -> Plan {
    let f = &result.figures;
    let mut p = Plan::default();
    let mut say = |s: String| p.lines.push(s);

    let replay_points = sweep(f, "replay.parallel.", 't', ".events_per_s");
    p.replay_measured_max = replay_points.iter().map(|x| x.0).fold(0.0, f64::max);
    let replay_fit = Usl::fit_with_quality(&replay_points);
    if let Some(fit) = replay_fit {
        say(quality("replay", "workers", &fit));
    }
    p.replay = replay_fit.filter(|f| f.refusal().is_none()).map(|f| f.usl);
    if let Some(u) = p.replay {
        say(format!(
            "replay: σ = {}, κ = {}; peak at {}; more workers stop helping past ~{} [projection beyond {} measured workers]",
            significant(u.sigma),
            significant(u.kappa),
            u.peak().map(|n| format!("{n:.0} workers")).unwrap_or_else(|| "no peak (κ = 0)".into()),
            u.knee(256.0),
            p.replay_measured_max
        ));
    }
    if let Some(best) = f.get("replay.parallel.events_per_s").map(|x| x.value).filter(|_| !replay_points.is_empty()) {
        let events = f.get("replay.events").map_or(0.0, |x| x.value);
        let ram = result.environment.memory_bytes as f64;
        let bytes = f.get("load.bytes_per_event").map(|x| x.value);
        let size = match bytes.map(|b| b * events) {
            Some(log) if log <= ram * rebuild::CACHEABLE => format!("{:.0} GB, that fit in memory", log / 1e9),
            Some(log) => format!("{:.0} GB, more than fit in this machine's {:.0} GB of memory", log / 1e9, ram / 1e9),
            None => "of unmeasured size".into(),
        };
        say(format!(
            "replay: measured up to {} workers on {:.1}M events ({size}): best {best:.0} events/s",
            p.replay_measured_max,
            events / 1e6
        ));
        let disk = match (f.get("replay.cold.mb_per_s"), f.get("replay.cold.threads")) {
            (Some(mb), Some(t)) => format!(
                "; this machine's cold rebuild read its log at {:.0} MB/s on {:.0} workers, and no more workers were measured",
                mb.value, t.value
            ),
            _ => ", and 300M events do not fit in this machine's memory, so that rebuild reads from disk, which no step here measured".into(),
        };
        say(format!(
            "replay: rebuilding 300M events on 40 workers: unmeasured ({} workers were measured{disk})",
            p.replay_measured_max
        ));
    }

    rebuild_table(result, question, &mut say);

    let append_points = on_concurrency(f, "append.per-school.", sweep(f, "append.per-school.", 'c', ".events_per_s"));
    p.append_measured_max = append_points.iter().map(|x| x.0).fold(0.0, f64::max);
    let append_fit = Usl::fit_with_quality(&append_points);
    if let Some(fit) = append_fit {
        say(quality("append (per-school)", "in flight", &fit));
    }
    p.append = append_fit.filter(|f| f.refusal().is_none()).map(|f| f.usl);
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

    let schools = measured_schools(result);
    let open = sweep(f, "append.per-school.", 'r', ".p99_ms");
    if let (Some(peak), Some(schools), false) = (peak_hour, schools, open.is_empty()) {
        match rate_within_slo(&open, slo_p99_ms) {
            (Some(rate), lower_bound) => {
                let bound = if lower_bound { "at least " } else { "about " };
                p.slo_headroom = Some(rate / peak);
                say(format!(
                    "onboarding: with the {schools:.0} schools measured, p99 stayed under {slo_p99_ms} ms up to {bound}{rate:.0} events/s, {bound}{:.1}x their peak hour ({peak:.1} events/s)",
                    rate / peak
                ));
            }
            (None, _) => say(format!(
                "onboarding: p99 was over {slo_p99_ms} ms already at the lowest rate measured ({:.0} events/s); nothing held",
                open[0].0
            )),
        }
        say(format!(
            "onboarding: more than {schools:.0} schools: unmeasured (each school adds partitions, transactors, history to replay and storage; run a scenario with that many schools)"
        ));
    }
    onboarding_answers(result, question, slo_p99_ms, &mut say);
    servers::lines(f, question.servers, slo_p99_ms, &mut say);
    // Ramps measure the same thing directly: the arrival rate at which p99 first broke the SLO.
    if let Some(peak) = peak_hour {
        for (name, held) in
            f.iter().filter(|(n, _)| n.starts_with("append.per-school.r") && n.ends_with(".slo_held_to_events_per_s"))
        {
            let ramp = name.trim_start_matches("append.per-school.").trim_end_matches(".slo_held_to_events_per_s");
            say(format!(
                "onboarding (ramp {ramp}): p99 held under {slo_p99_ms} ms up to {:.0} events/s, {:.1}x the measured schools' peak hour",
                held.value,
                held.value / peak
            ));
        }
    }
    p
}

/// The 2017 story in one table: each rebuild at the published 100M, 200M and 300M events (and
/// the asked size), on the measured machine and on the target, from per-event costs.
fn rebuild_table(result: &RunResult, question: &Question, say: &mut impl FnMut(String)) {
    let here = here(result);
    let costs = match Costs::from(&result.figures, here.cores) {
        Ok(c) => Costs { rill_on_partitions: partitioned(result), ..c },
        Err(missing) => {
            if result.figures.contains_key("replay.parallel.events_per_s") {
                say(format!("rebuild: no projection: {missing} is not in this result"));
            }
            return;
        }
    };
    let mut sizes: Vec<(String, f64)> = crate::generator::PUBLISHED
        .iter()
        .map(|&(day, events)| (format!("{:.0}M (day {day})", events / 1e6), events))
        .collect();
    if let Some(n) = question.events {
        sizes.push((format!("{:.0}M (asked)", n / 1e6), n));
    }
    let mut machines = vec![("this machine", here)];
    if let Some(t) = question.target {
        machines.push(("the target", t));
    }
    say(format!(
        "rebuild, from per-event costs measured on {:.1}M events: server {:.2} µs + decode and fold {:.2} µs, {:.0} bytes on disk",
        costs.measured.0 / 1e6,
        costs.server_us,
        costs.client_us,
        costs.bytes
    ));
    for (name, m) in machines {
        let disk = m.disk_mb_s.map_or("disk read rate unmeasured".into(), |d| format!("disk {d:.0} MB/s"));
        say(format!("rebuild on {name} ({:.0} cores, {:.0} GB, {disk}):", m.cores, m.ram_bytes / 1e9));
        for (label, events) in &sizes {
            say(format!("  {label}: rill sequential: {}", rill(&costs, &m, *events).render()));
            say(format!("  {label}: stroom sequential: {}", sequential(&costs, &m, *events).render()));
            say(format!("  {label}: stroom parallel: {}", parallel(&costs, &m, *events).render()));
        }
    }
}

/// "Can we take M more schools?", yes, no or unmeasured per constraint, with the day on the
/// growth curve each breaks.
fn onboarding_answers(result: &RunResult, question: &Question, slo_p99_ms: f64, say: &mut impl FnMut(String)) {
    let f = &result.figures;
    let Some(schools) = measured_schools(result) else { return };
    let slo_rate = match f.get("append.per-school.slo_rate_events_per_s") {
        Some(r) => Some((r.value, !f.contains_key("append.per-school.slo_failed_at_events_per_s"))),
        None => match rate_within_slo(&sweep(f, "append.per-school.", 'r', ".p99_ms"), slo_p99_ms) {
            (Some(rate), lower_bound) => Some((rate, lower_bound)),
            (None, _) if f.keys().any(|k| k.starts_with("append.per-school.r")) => Some((0.0, false)),
            (None, _) => None,
        },
    };
    let here = here(result);
    let measured = onboarding::Measured {
        schools,
        peak_second: f.get("generate.peak_second_events_per_s").map(|x| x.value),
        slo_rate,
        costs: Costs::from(f, here.cores).ok(),
        bytes_per_event: f.get("load.bytes_per_event").map(|x| x.value).filter(|b| *b > 0.0),
    };
    let q = &question.onboarding;
    let (machine, on) = match question.target {
        Some(t) => (t, "the target"),
        None => (here, "this machine"),
    };
    say(format!(
        "onboarding: can {:.0} schools take {:.0} more today (day {:.0} of the growth curve), on {on}, with p99 under {slo_p99_ms} ms and a rebuild within {}?",
        q.schools_now,
        q.more,
        q.today,
        rebuild::duration(q.rebuild_budget_s)
    ));
    for a in onboarding::answer(&measured, &machine, q) {
        say(format!("  {}", a.render(q.today)));
    }
}

/// Whether rill's replay in `result` read a store partitioned by school (`[store] layout`), as
/// results before `replay.rill.one_table` did: each of its pages then merged every school's
/// partition.
fn partitioned(result: &RunResult) -> bool {
    result.scenario.get("layout").and_then(|l| l.as_str()) == Some("partitioned")
        && !result.figures.contains_key("replay.rill.one_table")
}

/// The machine a result was measured on, with the disk rate it measured, if any.
fn here(result: &RunResult) -> Machine {
    let env = &result.environment;
    Machine {
        cores: env.cores as f64,
        ram_bytes: env.memory_bytes as f64,
        disk_mb_s: result.figures.get("replay.cold.mb_per_s").map(|x| x.value),
    }
}

/// Each closed-loop step's point moved from its nominal writer count to the concurrency it
/// reached (`…c<W>.concurrency`, Little's law), where the step recorded one.
fn on_concurrency(figures: &Figures, prefix: &str, points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points
        .into_iter()
        .map(|(w, x)| {
            let n = figures.get(&format!("{prefix}c{w}.concurrency")).map(|c| c.value).filter(|c| *c > 0.0);
            (n.unwrap_or(w), x)
        })
        .collect()
}

/// How well a curve fits, and whether the plan projects it.
fn quality(what: &str, axis: &str, fit: &Fit) -> String {
    let verdict = match fit.refusal() {
        Some(why) => format!("not projected: {why}"),
        None => "projected below".into(),
    };
    format!(
        "{what}: USL fit over {} points, {:.1}–{:.1} {axis} measured: λ = {:.0}/s, R² = {:.3}, largest miss {:.0}%; {verdict}",
        fit.points,
        fit.range.0,
        fit.range.1,
        fit.usl.lambda,
        fit.r2,
        fit.max_residual * 100.0
    )
}

/// The number of schools the result ran.
fn measured_schools(result: &RunResult) -> Option<f64> {
    result.scenario.get("population").and_then(|p| p.get("schools")).and_then(|s| s.as_f64())
}

/// The highest arrival rate up to which every measured rate kept p99 under the SLO,
/// interpolated towards the first rate that did not; and whether every measured rate met it
/// (the rate is then a lower bound). A failing rate below passing ones ends the range there:
/// nothing past a failure counts.
fn rate_within_slo(points: &[(f64, f64)], slo: f64) -> (Option<f64>, bool) {
    match points.iter().position(|(_, p99)| *p99 >= slo) {
        None => (points.last().map(|p| p.0), true),
        Some(0) => (None, false),
        Some(i) => {
            let ((r0, l0), (r1, l1)) = (points[i - 1], points[i]);
            (Some(r0 + (r1 - r0) * (slo - l0) / (l1 - l0)), false)
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
        put("plan.replay.sigma", "", self.replay.map(|u| u.sigma));
        put("plan.replay.kappa", "", self.replay.map(|u| u.kappa));
        put("plan.replay.peak_threads", "threads", self.replay.and_then(|u| u.peak()));
        put("plan.append.sigma", "", self.append.map(|u| u.sigma));
        put("plan.append.kappa", "", self.append.map(|u| u.kappa));
        put("plan.append_headroom_today", "x", self.append_headroom_today);
        put("plan.append_headroom_next_year", "x", self.append_headroom_next_year);
        put("plan.slo_headroom", "x", self.slo_headroom);
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
        assert_eq!(rate_within_slo(&[(100.0, 10.0), (200.0, 30.0)], 50.0), (Some(200.0), true));
        assert_eq!(rate_within_slo(&[(100.0, 10.0), (200.0, 90.0)], 50.0), (Some(150.0), false));
        assert_eq!(rate_within_slo(&[(100.0, 60.0)], 50.0).0, None);
        // A failure at a lower rate ends the range: the passing rates above it do not count.
        assert_eq!(rate_within_slo(&[(50.0, 10.0), (100.0, 90.0), (200.0, 10.0)], 50.0), (Some(75.0), false));
        assert_eq!(rate_within_slo(&[(50.0, 70.0), (100.0, 10.0)], 50.0).0, None);
    }
}
