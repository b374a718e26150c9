//! The `[append]` section: closed-loop sweeps and open-loop arrivals per strategy.

use std::collections::BTreeMap;

use serde::Deserialize;
use stroom_reference::append::{default_commit_lanes, RowWriter};
use stroom_reference::Strategy;
use toml::Spanned;

use super::{below, span, value, Problems};
use crate::error::Result;

const MIN_APPEND_SECONDS: f64 = 1.0;

/// The append phase: closed-loop sweeps and open-loop runs per strategy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppendPlan {
    /// Strategies, in order.
    #[serde(serialize_with = "ser_strategies")]
    pub strategies: Vec<Strategy>,
    /// Closed loop: concurrent writers to sweep over, for strategies without a sweep of
    /// their own in `writers_by_strategy`.
    pub writers: Vec<usize>,
    /// Closed loop: sweeps for single strategies, by name, e.g. to push the group-committing
    /// strategies to far more writers than rill can drain in a step.
    pub writers_by_strategy: BTreeMap<String, Vec<usize>>,
    /// Closed loop: measured seconds per step.
    pub duration_s: f64,
    /// Seconds of warm-up excluded from every measurement.
    pub warmup_s: f64,
    /// Closed loop: how many times each writer count is measured.
    pub repetitions: u32,
    /// Open loop, if any: arrival schedules.
    pub open_rates: Vec<Arrival>,
    /// Open loop: measured seconds per schedule.
    pub open_duration_s: f64,
    /// Open loop: virtual users (each owns a share of the streams).
    pub open_users: usize,
    /// Open loop: the simulated hour of the first day each schedule starts at; the day's
    /// earlier events are bulk-loaded first (0: from midnight on an empty store).
    pub open_start_hour: f64,
    /// Strategies the open loop runs (default: all but rill).
    #[serde(serialize_with = "ser_strategies")]
    pub open_strategies: Vec<Strategy>,
    /// How transactors write a batch: `unnest` (one statement) or `copy` (a transaction).
    #[serde(serialize_with = "ser_writer")]
    pub row_writer: RowWriter,
    /// Per-school: how the commit lanes write (`copy`, the default, or `unnest`).
    #[serde(serialize_with = "ser_writer")]
    pub lane_writer: RowWriter,
    /// Per-school: statements committing at once (default: one per core of this machine).
    pub commit_lanes: usize,
    /// Closed loop: pgbench runs each one-by-one strategy's statements right after its step
    /// (`calibrate.pgbench.…`, `vs_pgbench`); off where only the strategies are compared
    /// (the gate).
    pub pgbench: bool,
    /// The simulated hour of the first day every closed-loop step starts at, on a store
    /// bulk-loaded with the day up to then (default 10, the busiest hour; 0: from midnight).
    pub start_hour: f64,
    /// Open loop: how arrivals are spaced (Poisson by default).
    pub arrivals: Arrivals,
    /// The stepped search for the highest rate within the SLO, if any.
    pub slo_search: Option<SloSearch>,
    /// Open loop and SLO search: a live projector folds the feed beside the appenders and
    /// each window reports its lag (`[append.open] project = true`; not for peers, whose
    /// log is not stroom's feed).
    pub project: bool,
}

/// How open-loop arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Exponential gaps, as `pgbench -R` schedules them (the default).
    Poisson,
    /// Evenly spaced.
    Uniform,
}

/// `[append.slo_search]`: for each strategy, the highest constant offered rate whose open-loop
/// p99 (from intended start, failures included) stays within `[slo] p99_ms`, with no error and
/// no saturation, found by doubling from a start rate and then bisecting.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SloSearch {
    /// Strategies searched (default: the open loop's).
    #[serde(serialize_with = "ser_strategies")]
    pub strategies: Vec<Strategy>,
    /// Measured seconds per step: long enough for a checkpoint and an autovacuum run to fall
    /// inside (60 in `baseline.toml`).
    pub step_s: f64,
    /// Steps at most per strategy.
    pub max_steps: usize,
    /// The search stops once the failing rate is within this fraction above the passing one.
    pub tolerance: f64,
    /// The first rate tried as a share of the strategy's closed-loop ceiling (default 0.5);
    /// 1000 events/s when there is no ceiling.
    pub start_share: f64,
    /// Strategies whose rate found is confirmed in a sustained window before it is reported
    /// (default: per-school and batched, where searched); the others' are marked unconfirmed.
    #[serde(serialize_with = "ser_strategies")]
    pub confirm: Vec<Strategy>,
    /// Seconds of a confirming window; `None` (the default) for two of the server's
    /// checkpoint intervals (`checkpoint_timeout`), read when the run starts.
    pub confirm_s: Option<f64>,
    /// Confirming windows at most per strategy, each a step down after a failure (default 3).
    pub confirm_tries: usize,
}

impl AppendPlan {
    /// The closed-loop sweep for `strategy`: its own, or the shared `writers`.
    pub fn writers_for(&self, strategy: Strategy) -> &[usize] {
        self.writers_by_strategy.get(strategy.name()).unwrap_or(&self.writers)
    }
}

/// An open-loop arrival schedule, in events/s.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Arrival {
    /// The same rate throughout (`500` in a file).
    Constant(f64),
    /// `from` during the warm-up, then rising linearly to `to` at the end of the measured
    /// window (`"500..5000"` in a file).
    Ramp {
        /// Events/s at the start.
        from: f64,
        /// Events/s at the end.
        to: f64,
    },
}

impl Arrival {
    /// The name figures use: `r500` or `r500-5000`.
    pub fn label(self) -> String {
        match self {
            Self::Constant(r) => format!("r{r}"),
            Self::Ramp { from, to } => format!("r{from}-{to}"),
        }
    }

    /// The highest rate it reaches.
    pub fn peak(self) -> f64 {
        match self {
            Self::Constant(r) => r,
            Self::Ramp { from, to } => from.max(to),
        }
    }

    /// The rate `t` seconds into the measured window (after the warm-up) of `duration_s`.
    pub fn rate_at(self, t: f64, duration_s: f64) -> f64 {
        match self {
            Self::Constant(r) => r,
            Self::Ramp { from, to } => from + (to - from) * (t / duration_s).clamp(0.0, 1.0),
        }
    }

    /// When the `i`-th arrival (from 0) is due, in seconds from the start of the warm-up.
    pub fn offset(self, i: u64, warmup_s: f64, duration_s: f64) -> f64 {
        let i = i as f64;
        match self {
            Self::Constant(r) => i / r,
            Self::Ramp { from, to } => {
                let in_warmup = from * warmup_s;
                if i < in_warmup {
                    return i / from;
                }
                // Arrivals by t into the ramp: n(t) = from·t + slope·t²/2; solve n(t) = k.
                let k = i - in_warmup;
                let slope = (to - from) / duration_s;
                let t = if slope.abs() < 1e-12 {
                    k / from
                } else {
                    (-from + (from * from + 2.0 * slope * k).max(0.0).sqrt()) / slope
                };
                warmup_s + t
            }
        }
    }
}

impl std::fmt::Display for Arrival {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Constant(r) => write!(f, "{r} events/s"),
            Self::Ramp { from, to } => write!(f, "ramping {from} → {to} events/s"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAppend {
    strategies: Spanned<Vec<String>>,
    writers: Option<Spanned<Vec<usize>>>,
    writers_by_strategy: Option<Spanned<BTreeMap<String, Vec<usize>>>>,
    duration_s: Option<Spanned<f64>>,
    warmup_s: Option<Spanned<f64>>,
    repetitions: Option<Spanned<u32>>,
    row_writer: Option<Spanned<String>>,
    lane_writer: Option<Spanned<String>>,
    commit_lanes: Option<Spanned<usize>>,
    pgbench: Option<Spanned<bool>>,
    start_hour: Option<Spanned<f64>>,
    open: Option<RawOpen>,
    slo_search: Option<RawSloSearch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSloSearch {
    strategies: Option<Spanned<Vec<String>>>,
    step_s: Option<Spanned<f64>>,
    max_steps: Option<Spanned<usize>>,
    tolerance: Option<Spanned<f64>>,
    start_share: Option<Spanned<f64>>,
    confirm: Option<Spanned<Vec<String>>>,
    confirm_s: Option<Spanned<f64>>,
    confirm_tries: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpen {
    rates: Spanned<Vec<RawRate>>,
    duration_s: Option<Spanned<f64>>,
    users: Option<Spanned<usize>>,
    start_hour: Option<Spanned<f64>>,
    strategies: Option<Spanned<Vec<String>>>,
    arrivals: Option<Spanned<String>>,
    project: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRate {
    Number(f64),
    Text(String),
}

fn parse_rate(r: &RawRate) -> std::result::Result<Arrival, String> {
    let positive =
        |v: f64| if below(v, f64::MIN_POSITIVE) { Err(format!("{v} is not a positive rate")) } else { Ok(v) };
    match r {
        RawRate::Number(v) => positive(*v).map(Arrival::Constant),
        RawRate::Text(t) => {
            let (a, b) =
                t.split_once("..").ok_or_else(|| format!("'{t}' is neither a rate nor a ramp like \"500..5000\""))?;
            let num = |s: &str| s.trim().parse::<f64>().map_err(|_| format!("'{t}': '{}' is not a number", s.trim()));
            Ok(Arrival::Ramp { from: positive(num(a)?)?, to: positive(num(b)?)? })
        }
    }
}

pub(super) fn parse_strategies(p: &Problems<'_>, v: &Spanned<Vec<String>>, field: &str) -> Result<Vec<Strategy>> {
    if v.get_ref().is_empty() {
        return Err(p.at(Some(v.span()), field, "name at least one strategy"));
    }
    v.get_ref()
        .iter()
        .map(|s| {
            Strategy::parse(s).ok_or_else(|| {
                p.at(
                    Some(v.span()),
                    field,
                    format!("unknown strategy '{s}' (expected rill, single, batched, per-school or message-db)"),
                )
            })
        })
        .collect()
}

pub(super) fn append_plan(p: &Problems<'_>, a: &RawAppend) -> Result<AppendPlan> {
    let strategies = parse_strategies(p, &a.strategies, "append.strategies")?;
    let writers = value(&a.writers, vec![1, 4, 16]);
    if writers.is_empty() || writers.contains(&0) {
        return Err(p.at(span(&a.writers), "append.writers", "give one or more writer counts, each at least 1"));
    }
    let writers_by_strategy = value(&a.writers_by_strategy, BTreeMap::new());
    for (name, sweep) in &writers_by_strategy {
        let field = "append.writers_by_strategy";
        if !strategies.iter().any(|s| s.name() == name) {
            return Err(p.at(
                span(&a.writers_by_strategy),
                field,
                format!("'{name}' is not one of append.strategies ({})", a.strategies.get_ref().join(", ")),
            ));
        }
        if sweep.is_empty() || sweep.contains(&0) {
            return Err(p.at(
                span(&a.writers_by_strategy),
                field,
                format!("{name}: give one or more writer counts, each at least 1"),
            ));
        }
    }
    let duration_s = value(&a.duration_s, 5.0);
    if below(duration_s, MIN_APPEND_SECONDS) {
        return Err(p.at(
            span(&a.duration_s),
            "append.duration_s",
            format!("{duration_s} s is too short to mean anything (at least {MIN_APPEND_SECONDS} s)"),
        ));
    }
    let warmup_s = value(&a.warmup_s, 1.0);
    if below(warmup_s, 0.0) {
        return Err(p.at(span(&a.warmup_s), "append.warmup_s", "must not be negative"));
    }
    let repetitions = value(&a.repetitions, 3);
    if repetitions == 0 {
        return Err(p.at(span(&a.repetitions), "append.repetitions", "must be at least 1"));
    }
    let start_hour = value(&a.start_hour, 10.0);
    if below(start_hour, 0.0) || start_hour >= 24.0 {
        return Err(p.at(span(&a.start_hour), "append.start_hour", format!("{start_hour} is not an hour of the day")));
    }
    let (mut open_rates, mut open_duration_s, mut open_users, mut open_start_hour) = (Vec::new(), 0.0, 0, start_hour);
    let mut arrivals = Arrivals::Poisson;
    let mut project = false;
    let mut open_strategies: Vec<Strategy> = strategies.iter().copied().filter(|s| *s != Strategy::Rill).collect();
    if let Some(o) = &a.open {
        if o.rates.get_ref().is_empty() {
            return Err(p.at(Some(o.rates.span()), "append.open.rates", "give one or more rates in events/s"));
        }
        open_rates = o
            .rates
            .get_ref()
            .iter()
            .map(|r| parse_rate(r).map_err(|e| p.at(Some(o.rates.span()), "append.open.rates", e)))
            .collect::<Result<_>>()?;
        open_duration_s = value(&o.duration_s, 5.0);
        if below(open_duration_s, MIN_APPEND_SECONDS) {
            return Err(p.at(
                span(&o.duration_s),
                "append.open.duration_s",
                format!("{open_duration_s} s is too short (at least {MIN_APPEND_SECONDS} s)"),
            ));
        }
        open_users = value(&o.users, 256);
        if open_users == 0 {
            return Err(p.at(span(&o.users), "append.open.users", "must be at least 1"));
        }
        project = value(&o.project, false);
        open_start_hour = value(&o.start_hour, start_hour);
        if below(open_start_hour, 0.0) || open_start_hour >= 24.0 {
            let why = format!("{open_start_hour} is not an hour of the day");
            return Err(p.at(span(&o.start_hour), "append.open.start_hour", why));
        }
        if let Some(s) = &o.strategies {
            open_strategies = parse_strategies(p, s, "append.open.strategies")?;
        }
        if let Some(a) = &o.arrivals {
            arrivals = match a.get_ref().as_str() {
                "poisson" => Arrivals::Poisson,
                "uniform" => Arrivals::Uniform,
                other => {
                    let why = format!("unknown arrivals '{other}' (expected poisson or uniform)");
                    return Err(p.at(Some(a.span()), "append.open.arrivals", why));
                }
            };
        }
    }
    let slo_search = match &a.slo_search {
        None => None,
        Some(r) => Some(slo_search(p, r, &open_strategies)?),
    };
    let row_writer = writer(p, &a.row_writer, "append.row_writer", RowWriter::Unnest)?;
    let lane_writer = writer(p, &a.lane_writer, "append.lane_writer", RowWriter::Copy)?;
    let commit_lanes = value(&a.commit_lanes, default_commit_lanes());
    if commit_lanes == 0 {
        return Err(p.at(span(&a.commit_lanes), "append.commit_lanes", "must be at least 1"));
    }
    Ok(AppendPlan {
        strategies,
        writers,
        writers_by_strategy,
        duration_s,
        warmup_s,
        repetitions,
        open_rates,
        open_duration_s,
        open_users,
        open_start_hour,
        open_strategies,
        row_writer,
        lane_writer,
        commit_lanes,
        pgbench: value(&a.pgbench, true),
        start_hour,
        arrivals,
        slo_search,
        project,
    })
}

fn slo_search(p: &Problems<'_>, r: &RawSloSearch, open_strategies: &[Strategy]) -> Result<SloSearch> {
    let strategies = match &r.strategies {
        Some(s) => parse_strategies(p, s, "append.slo_search.strategies")?,
        None => open_strategies.to_vec(),
    };
    let step_s = value(&r.step_s, 60.0);
    if below(step_s, MIN_APPEND_SECONDS) {
        let why = format!("{step_s} s is too short (at least {MIN_APPEND_SECONDS} s; 60 s holds a checkpoint)");
        return Err(p.at(span(&r.step_s), "append.slo_search.step_s", why));
    }
    let max_steps = value(&r.max_steps, 6);
    if max_steps < 2 {
        return Err(p.at(span(&r.max_steps), "append.slo_search.max_steps", "give at least 2 steps"));
    }
    let tolerance = value(&r.tolerance, 0.1);
    if below(tolerance, 0.01) || tolerance > 1.0 {
        return Err(p.at(span(&r.tolerance), "append.slo_search.tolerance", "give a fraction from 0.01 to 1"));
    }
    let start_share = value(&r.start_share, 0.5);
    if below(start_share, 1e-6) || start_share > 4.0 {
        return Err(p.at(span(&r.start_share), "append.slo_search.start_share", "give a share of the ceiling, 0 to 4"));
    }
    let confirm = match &r.confirm {
        Some(c) if c.get_ref().is_empty() => Vec::new(),
        Some(c) => parse_strategies(p, c, "append.slo_search.confirm")?,
        None => strategies.iter().copied().filter(|s| matches!(s, Strategy::PerSchool | Strategy::Batched)).collect(),
    };
    if let Some(stray) = confirm.iter().find(|c| !strategies.contains(c)) {
        let why =
            format!("{} is not searched (append.slo_search.strategies), so it has no rate to confirm", stray.name());
        return Err(p.at(span(&r.confirm), "append.slo_search.confirm", why));
    }
    let confirm_s = r.confirm_s.as_ref().map(|v| *v.get_ref());
    if confirm_s.is_some_and(|c| below(c, MIN_APPEND_SECONDS)) {
        let why = format!("too short (at least {MIN_APPEND_SECONDS} s; leave it out for two checkpoint intervals)");
        return Err(p.at(span(&r.confirm_s), "append.slo_search.confirm_s", why));
    }
    let confirm_tries = value(&r.confirm_tries, 3);
    if confirm_tries < 1 {
        return Err(p.at(span(&r.confirm_tries), "append.slo_search.confirm_tries", "give at least 1"));
    }
    Ok(SloSearch { strategies, step_s, max_steps, tolerance, start_share, confirm, confirm_s, confirm_tries })
}

fn writer(p: &Problems<'_>, w: &Option<Spanned<String>>, key: &str, default: RowWriter) -> Result<RowWriter> {
    let Some(w) = w else { return Ok(default) };
    match w.get_ref().as_str() {
        "copy" => Ok(RowWriter::Copy),
        "unnest" => Ok(RowWriter::Unnest),
        other => Err(p.at(Some(w.span()), key, format!("unknown row writer '{other}' (expected unnest or copy)"))),
    }
}

fn ser_writer<S: serde::Serializer>(w: &RowWriter, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(w.name())
}

pub(super) fn ser_strategies<S: serde::Serializer>(v: &[Strategy], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_rate_spaces_arrivals_evenly() {
        let a = Arrival::Constant(100.0);
        assert!((a.offset(250, 1.0, 5.0) - 2.5).abs() < 1e-9);
        assert_eq!(a.label(), "r100");
    }

    #[test]
    fn a_ramp_holds_its_start_rate_in_the_warmup_then_rises_to_its_end_rate() {
        let a = Arrival::Ramp { from: 100.0, to: 300.0 };
        // 1 s warm-up at 100/s: arrival 50 is due at 0.5 s.
        assert!((a.offset(50, 1.0, 10.0) - 0.5).abs() < 1e-9);
        // The ramp's 10 s carry (100 + 300) / 2 · 10 = 2000 arrivals after the warm-up's 100.
        assert!((a.offset(2100, 1.0, 10.0) - 11.0).abs() < 1e-6);
        // Arrivals get closer together as the rate rises.
        let gap = |i| a.offset(i + 1, 1.0, 10.0) - a.offset(i, 1.0, 10.0);
        assert!(gap(2090) < gap(200));
        assert!((1.0 / gap(2090) - 300.0).abs() < 2.0);
        assert_eq!(a.label(), "r100-300");
        assert_eq!(a.rate_at(5.0, 10.0), 200.0);
    }

    #[test]
    fn rates_parse_as_numbers_or_ramps() {
        assert_eq!(parse_rate(&RawRate::Number(5.0)), Ok(Arrival::Constant(5.0)));
        assert_eq!(parse_rate(&RawRate::Text("5 .. 50".into())), Ok(Arrival::Ramp { from: 5.0, to: 50.0 }));
        assert!(parse_rate(&RawRate::Text("fast".into())).unwrap_err().contains("neither a rate nor a ramp"));
        assert!(parse_rate(&RawRate::Text("0..5".into())).unwrap_err().contains("not a positive rate"));
        assert!(parse_rate(&RawRate::Number(-1.0)).is_err());
    }
}
