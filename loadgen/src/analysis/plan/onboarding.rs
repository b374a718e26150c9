//! "Can we take M more schools?", per constraint, from measured figures only.
//!
//! Today is a day on the published growth curve (day 888, the 300M point, unless asked), the
//! platform has `schools_now` schools, and M more join today. Each constraint is answered yes,
//! no or unmeasured, with the first day on the curve it breaks:
//!
//! - **peak load**: the busiest second of the generated workload per school
//!   (`generate.peak_second_events_per_s` over the schools generated), times the schools,
//!   grown with the curve's daily rate, against the rate p99 held the SLO up to, measured
//!   with at least as many schools as asked about. Busiest seconds of separate schools rarely
//!   coincide, so scaling one linearly errs on the safe side.
//! - **rebuild**: the grown log (the history so far, plus the new schools' share of what
//!   comes), rebuilt in parallel, against the rebuild budget ([`rebuild::parallel`]).
//! - **storage**: the grown log at the measured bytes per event, against the disk.
//!
//! Past what was measured (more schools than any run had, a log past memory with no disk
//! rate), the answer is "unmeasured", never a number.

use super::rebuild::{self, Costs, Machine};
use crate::generator::Growth;

/// How far ahead a constraint is followed before it is said to hold.
const HORIZON_DAYS: f64 = 3650.0;

/// The onboarding question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Onboarding {
    /// Schools on the platform today.
    pub schools_now: f64,
    /// Schools that would join today.
    pub more: f64,
    /// Longest acceptable full rebuild, seconds.
    pub rebuild_budget_s: f64,
    /// Bytes of disk the log may take, if known.
    pub disk_bytes: Option<f64>,
    /// Today, as a day on the published growth curve.
    pub today: f64,
}

impl Default for Onboarding {
    fn default() -> Self {
        Self { schools_now: 250.0, more: 0.0, rebuild_budget_s: 3600.0, disk_bytes: None, today: 888.0 }
    }
}

/// What one constraint says.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The constraint.
    pub name: &'static str,
    /// Yes, no, or `None` for unmeasured.
    pub holds: Option<bool>,
    /// The first day on the growth curve it fails, if within the horizon and measured.
    pub breaks_day: Option<f64>,
    /// The figures behind it.
    pub why: String,
}

impl Answer {
    /// One line a person reads.
    pub fn render(&self, today: f64) -> String {
        let word = match self.holds {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unmeasured",
        };
        let when = match (self.holds, self.breaks_day) {
            (Some(true), Some(d)) => {
                format!("; breaks on day {d:.0} of the growth curve, {:.0} days from today", d - today)
            }
            (Some(true), None) => format!("; holds for the next {HORIZON_DAYS:.0} days of the curve"),
            _ => String::new(),
        };
        format!("{}: {word}: {}{when}", self.name, self.why)
    }
}

/// What the result measured that the answers need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Schools in the measured population.
    pub schools: f64,
    /// The busiest generated second over those schools, events/s.
    pub peak_second: Option<f64>,
    /// The rate p99 held the SLO up to with those schools, and whether every rate tried held
    /// (so it is a lower bound).
    pub slo_rate: Option<(f64, bool)>,
    /// Per-event rebuild costs.
    pub costs: Option<Costs>,
    /// Bytes per event on disk, indexes included.
    pub bytes_per_event: Option<f64>,
}

/// The answers, one per constraint.
pub fn answer(m: &Measured, machine: &Machine, q: &Onboarding) -> Vec<Answer> {
    vec![peak_load(m, q), rebuild_time(m, machine, q), storage(m, q)]
}

/// Schools after onboarding.
fn total(q: &Onboarding) -> f64 {
    q.schools_now + q.more
}

/// Events in the log on `day`: the history to today, plus what comes from then on, grown by
/// the new schools' share.
fn log_events(g: &Growth, q: &Onboarding, day: f64) -> f64 {
    let now = g.cumulative(q.today);
    now + (g.cumulative(day) - now).max(0.0) * total(q) / q.schools_now
}

/// The first day from today, in whole days, on which `fails` says so; `None` within the horizon.
fn first_failing(today: f64, fails: impl Fn(f64) -> bool) -> Option<f64> {
    (0..=HORIZON_DAYS as u32).map(|d| today + f64::from(d)).find(|&d| fails(d))
}

fn peak_load(m: &Measured, q: &Onboarding) -> Answer {
    let name = "peak load";
    let n = total(q);
    let unmeasured = |why: String| Answer { name, holds: None, breaks_day: None, why };
    let Some(second) = m.peak_second else {
        return unmeasured("this result has no busiest second (generate.peak_second_events_per_s); re-run it".into());
    };
    let Some((rate, lower_bound)) = m.slo_rate else {
        return unmeasured("this result measured no rate against the SLO (append.per-school open-loop steps)".into());
    };
    if n > m.schools {
        return unmeasured(format!(
            "{n:.0} schools, more than the {:.0} measured; run a scenario with at least {n:.0} schools (scenarios/onboarding.toml)",
            m.schools
        ));
    }
    let g = Growth::published();
    let peak = |day: f64| second / m.schools * n * g.rate(day) / g.rate(q.today);
    let bound = if lower_bound { "at least " } else { "" };
    let why = format!(
        "busiest second {:.0} events/s ({:.1} per school, from the generator, times {n:.0} schools) against the SLO-held rate of {bound}{rate:.0} events/s, measured with {:.0} schools",
        peak(q.today),
        second / m.schools,
        m.schools
    );
    let holds = peak(q.today) <= rate;
    let breaks_day = if holds { first_failing(q.today, |d| peak(d) > rate) } else { None };
    let why = match (lower_bound, breaks_day) {
        (true, Some(_)) => format!("{why} (every rate tried held, so the day below is the earliest it could break)"),
        _ => why,
    };
    Answer { name, holds: Some(holds), breaks_day, why }
}

fn rebuild_time(m: &Measured, machine: &Machine, q: &Onboarding) -> Answer {
    let name = "rebuild";
    let Some(costs) = m.costs else {
        return Answer {
            name,
            holds: None,
            breaks_day: None,
            why: "this result has no replay costs (run a scenario with a replay phase, such as rebuild.toml)".into(),
        };
    };
    let g = Growth::published();
    let at = |day: f64| rebuild::parallel(&costs, machine, log_events(&g, q, day));
    let budget = rebuild::duration(q.rebuild_budget_s);
    let today = at(q.today);
    let events = log_events(&g, q, q.today);
    let Some(seconds) = today.seconds else {
        return Answer {
            name,
            holds: None,
            breaks_day: None,
            why: format!("{:.0}M events today: {}", events / 1e6, today.render()),
        };
    };
    let holds = seconds <= q.rebuild_budget_s;
    let why = format!("{:.0}M events today rebuild in {} against a budget of {budget}", events / 1e6, today.render());
    if !holds {
        return Answer { name, holds: Some(false), breaks_day: None, why };
    }
    let fails = |d: f64| at(d).seconds.is_none_or(|s| s > q.rebuild_budget_s);
    match first_failing(q.today, fails) {
        Some(d) if at(d).seconds.is_none() => Answer {
            name,
            holds: Some(true),
            breaks_day: None,
            why: format!("{why}; from day {d:.0} unmeasured: {}", at(d).render()),
        },
        breaks_day => Answer { name, holds: Some(true), breaks_day, why },
    }
}

fn storage(m: &Measured, q: &Onboarding) -> Answer {
    let name = "storage";
    let Some(bytes) = m.bytes_per_event else {
        return Answer {
            name,
            holds: None,
            breaks_day: None,
            why: "this result has no bytes per event (load.bytes_per_event); re-run it".into(),
        };
    };
    let g = Growth::published();
    let size = |day: f64| log_events(&g, q, day) * bytes;
    let Some(disk) = q.disk_bytes else {
        return Answer {
            name,
            holds: None,
            breaks_day: None,
            why: format!(
                "{:.0} GB today at {bytes:.0} bytes per event; no disk size to judge it against",
                size(q.today) / 1e9
            ),
        };
    };
    let why = format!(
        "{:.0} GB today at {bytes:.0} bytes per event (table and indexes, as measured) against a {:.0} GB disk",
        size(q.today) / 1e9,
        disk / 1e9
    );
    let holds = size(q.today) <= disk;
    let breaks_day = if holds { first_failing(q.today, |d| size(d) > disk) } else { None };
    Answer { name, holds: Some(holds), breaks_day, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured() -> Measured {
        Measured {
            schools: 1000.0,
            peak_second: Some(200.0),
            slo_rate: Some((2000.0, false)),
            costs: Some(Costs {
                server_us: 2.0,
                client_us: 1.0,
                bytes: 500.0,
                efficiency: 0.5,
                measured: (10e6, 2.0),
                sequential_rate: Some(300_000.0),
                rill_rate: None,
                rill_on_partitions: false,
            }),
            bytes_per_event: Some(500.0),
        }
    }

    fn machine() -> Machine {
        Machine { cores: 2.0, ram_bytes: 24e9, disk_mb_s: Some(500.0) }
    }

    #[test]
    fn peak_load_breaks_when_the_grown_busiest_second_passes_the_slo_rate() {
        // 0.2 events/s per school at 250 + 250 schools: 100 events/s against 2000.
        let q = Onboarding { more: 250.0, ..Onboarding::default() };
        let a = &answer(&measured(), &machine(), &q)[0];
        assert_eq!(a.holds, Some(true), "{a:?}");
        let d = a.breaks_day.expect("a 20x margin runs out on an exponential curve");
        let g = Growth::published();
        assert!(100.0 * g.rate(d) / g.rate(888.0) > 2000.0, "{a:?}");
        assert!(100.0 * g.rate(d - 1.0) / g.rate(888.0) <= 2000.0, "{a:?}");
        assert!(a.render(888.0).contains("breaks on day"), "{}", a.render(888.0));
    }

    #[test]
    fn more_schools_than_measured_is_unmeasured() {
        let q = Onboarding { more: 800.0, ..Onboarding::default() };
        let a = &answer(&measured(), &machine(), &q)[0];
        assert_eq!(a.holds, None);
        assert!(a.render(888.0).starts_with("peak load: unmeasured: 1050 schools, more than the 1000"), "{a:?}");
    }

    #[test]
    fn a_rebuild_over_budget_is_no_and_one_under_says_when_it_breaks() {
        // 300M events × 500 B = 150 GB from a 500 MB/s disk: 300 s, under CPU's 900 s.
        let q = Onboarding::default();
        let a = &answer(&measured(), &machine(), &q)[1];
        assert_eq!(a.holds, Some(true), "{a:?}");
        assert!(a.breaks_day.is_some_and(|d| d > 888.0), "{a:?}");
        let tight = Onboarding { rebuild_budget_s: 600.0, ..q };
        assert_eq!(answer(&measured(), &machine(), &tight)[1].holds, Some(false));
        // No disk rate and a log past memory: unmeasured, not a number.
        let blind = Machine { disk_mb_s: None, ..machine() };
        let a = &answer(&measured(), &blind, &q)[1];
        assert_eq!(a.holds, None, "{a:?}");
        assert!(a.why.contains("unmeasured"), "{a:?}");
    }

    #[test]
    fn storage_is_judged_only_against_a_known_disk() {
        let q = Onboarding::default();
        assert_eq!(answer(&measured(), &machine(), &q)[2].holds, None);
        // 150 GB today against 100 GB: no; against 1 TB: yes, until the log passes 2G events.
        let small = Onboarding { disk_bytes: Some(100e9), ..q };
        assert_eq!(answer(&measured(), &machine(), &small)[2].holds, Some(false));
        let big = Onboarding { disk_bytes: Some(1e12), ..q };
        let a = &answer(&measured(), &machine(), &big)[2];
        assert_eq!(a.holds, Some(true));
        let d = a.breaks_day.expect("2G events come within ten years");
        assert!(Growth::published().cumulative(d) * 500.0 > 1e12, "{a:?}");
    }
}
