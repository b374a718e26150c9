//! `stroom compare` and the `cargo bench` gate: every headline figure of a result against a
//! baseline, each normalised by a reference measured in its own run (the table in [`rule`]),
//! so a baseline from another machine of the same kind still means something.
//!
//! A change regresses when it is worse than the figure's noise band: the spread of its own
//! repetitions ([`band`]), never less than the floor (`--noise`, default ±10%). Latencies and
//! late starts are held to a limit instead (the SLO, a share of arrivals; [`rule`] says why).
//! A judged figure of the baseline that the current run lacks fails; so do wrong outcomes
//! where there were none, and digests that stopped agreeing.

mod band;
mod render;
pub mod rule;

pub use band::MAX_BAND;
use band::{band, normalised};
use rule::{rule, Rule};

use crate::output::result_file::RunResult;

/// What became of one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// Within its band.
    Same,
    /// Better by more than its band.
    Better,
    /// Worse by more than its band, or a wrong outcome.
    Regression,
    /// In the baseline, not in the current run.
    Missing,
    /// Past its band or limit in one of two runs, within it in the other: the machine's noise
    /// until a second run says otherwise ([`confirm`]).
    Unconfirmed,
    /// Past its limit or band while the hypervisor took more than [`rule::STEAL_LIMIT`] of the
    /// CPU (the row's `steal`): not judged, and named in the summary.
    Starved,
    /// Shown, not judged.
    Info,
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Figure name.
    pub name: String,
    /// Baseline value (normalised when `reference` is set).
    pub baseline: f64,
    /// Current value (likewise); NaN when missing.
    pub current: f64,
    /// The figure both were normalised by, if any.
    pub reference: Option<&'static str>,
    /// Relative change, positive = better (for a share: the fall in percentage points).
    pub change: f64,
    /// The band the change had to exceed.
    pub band: f64,
    /// The limit the current value had to stay under, for figures held to one.
    pub limit: Option<f64>,
    /// The hypervisor's largest share of the CPU while the current value or its reference was
    /// measured, for the figures [`rule::steal_figures`] names.
    pub steal: Option<f64>,
    /// The outcome.
    pub verdict: Judgement,
}

impl Row {
    /// Whether the row fails the gate.
    pub fn fails(&self) -> bool {
        matches!(self.verdict, Judgement::Regression | Judgement::Missing)
    }
}

/// Every figure of the baseline, compared.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// The rows, by name.
    pub rows: Vec<Row>,
    /// The band's floor.
    pub floor: f64,
}

impl Comparison {
    /// Rows that fail the gate.
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.fails())
    }

    /// Rows the gate judged.
    pub fn judged(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| !matches!(r.verdict, Judgement::Info | Judgement::Starved))
    }

    /// Rows past their limit or band on a starved host, not judged.
    pub fn starved(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.verdict == Judgement::Starved)
    }
}

/// Compares `current` against `baseline`; `floor` is the least noise band. `only` keeps
/// figures whose names start with one of its prefixes (all when empty). A failure measured
/// with more than [`rule::STEAL_LIMIT`] stolen is not judged ([`compare_with_steal_limit`]).
pub fn compare(baseline: &RunResult, current: &RunResult, floor: f64, only: &[String]) -> Comparison {
    compare_with_steal_limit(baseline, current, floor, only, rule::STEAL_LIMIT)
}

/// [`compare`], with failures excused past `steal_limit` instead of [`rule::STEAL_LIMIT`]
/// (1 excuses none: every failure is judged whatever the hypervisor took).
pub fn compare_with_steal_limit(
    baseline: &RunResult,
    current: &RunResult,
    floor: f64,
    only: &[String],
    steal_limit: f64,
) -> Comparison {
    let mut rows = Vec::new();
    for name in baseline.figures.keys() {
        if !only.is_empty() && !only.iter().any(|p| name.starts_with(p.as_str())) {
            continue;
        }
        let r = rule(name);
        if r == Rule::Skip {
            continue;
        }
        if !current.figures.contains_key(name) {
            let verdict = if r.judged() { Judgement::Missing } else { Judgement::Info };
            let b = baseline.figures[name].value;
            rows.push(Row {
                name: name.clone(),
                baseline: b,
                current: f64::NAN,
                reference: None,
                change: 0.0,
                band: 0.0,
                limit: None,
                steal: None,
                verdict,
            });
            continue;
        }
        // Normalise only when both runs have the reference; else both raw, said by `reference`.
        let norm = match (normalised(baseline, name, r.norm()), normalised(current, name, r.norm())) {
            (Some(_), Some(_)) => r.norm(),
            _ => rule::Norm::None,
        };
        let (b, c) = (
            normalised(baseline, name, norm).expect("baseline has the figure"),
            normalised(current, name, norm).expect("current has the figure"),
        );
        let band = band(b, c, floor);
        let limit = match r {
            Rule::UnderSlo => Some(rule::slo_p99_ms(&current.scenario)),
            Rule::LateShare => Some(rule::LATE_START_LIMIT),
            _ => None,
        };
        let (change, mut verdict) = judge(r, b.value, c.value, band, limit);
        let steal = rule::steal_figures(name)
            .iter()
            .filter_map(|s| current.figures.get(s))
            .map(|f| f.value)
            .max_by(f64::total_cmp);
        if verdict == Judgement::Regression && steal.is_some_and(|s| s > steal_limit) {
            verdict = Judgement::Starved;
        }
        rows.push(Row {
            name: name.clone(),
            baseline: b.value,
            current: c.value,
            reference: norm.reference(),
            change,
            band,
            limit,
            steal,
            verdict,
        });
    }
    Comparison { rows, floor }
}

/// The verdict of a first run's comparison (`first`) checked against a second run of the
/// same commit (`second`). Wrong outcomes, digests that disagree and missing figures fail in
/// either run: a lost event is never noise. A figure judged against a band or a limit fails
/// only when both runs put it past; past in one run only, or past in one and measured on a
/// starved host in the other, it is [`Judgement::Unconfirmed`]. Rows carry the second run's
/// values.
pub fn confirm(first: &Comparison, second: &Comparison) -> Comparison {
    let in_first = |name: &str| first.rows.iter().find(|r| r.name == name).map(|r| r.verdict);
    let rows = second
        .rows
        .iter()
        .map(|r| {
            let hard = matches!(rule(&r.name), Rule::WrongOutcomes | Rule::MustStay);
            let before = in_first(&r.name);
            let failed_first = before.is_some_and(|v| v == Judgement::Regression);
            let mut row = r.clone();
            row.verdict = match (r.verdict, before) {
                (Judgement::Missing, _) | (_, Some(Judgement::Missing)) => Judgement::Missing,
                (Judgement::Regression, _) if hard => Judgement::Regression,
                _ if hard && failed_first => Judgement::Regression,
                (Judgement::Regression, Some(Judgement::Regression)) => Judgement::Regression,
                (Judgement::Regression, _) => Judgement::Unconfirmed,
                _ if failed_first => Judgement::Unconfirmed,
                (v, _) => v,
            };
            row
        })
        .collect();
    Comparison { rows, floor: second.floor }
}

/// The change (positive = better) and the verdict for one figure under `rule`.
fn judge(rule: Rule, b: f64, c: f64, band: f64, limit: Option<f64>) -> (f64, Judgement) {
    let over = |c: f64| limit.is_some_and(|l| c > l);
    let by_change = |change: f64| {
        let verdict = if change < -band {
            Judgement::Regression
        } else if change > band {
            Judgement::Better
        } else {
            Judgement::Same
        };
        (change, verdict)
    };
    match rule {
        Rule::Higher(_) if b > 0.0 => by_change(c / b - 1.0),
        Rule::Lower(_) if b > 0.0 && c > 0.0 => by_change(b / c - 1.0),
        Rule::Higher(_) | Rule::Lower(_) => (0.0, Judgement::Same),
        Rule::UnderSlo => {
            let change = if b > 0.0 && c > 0.0 { b / c - 1.0 } else { 0.0 };
            (change, if over(c) { Judgement::Regression } else { Judgement::Same })
        }
        Rule::LateShare => (b - c, if over(c) { Judgement::Regression } else { Judgement::Same }),
        Rule::WrongOutcomes => {
            let worse = if b == 0.0 { c > 0.0 } else { c > b * (1.0 + band) };
            let change = if c > 0.0 && b > 0.0 {
                b / c - 1.0
            } else if c > b {
                -1.0
            } else {
                0.0
            };
            (change, if worse { Judgement::Regression } else { Judgement::Same })
        }
        Rule::MustStay => (if c < b { -1.0 } else { 0.0 }, if c < b { Judgement::Regression } else { Judgement::Same }),
        Rule::Info | Rule::Skip => (if b != 0.0 { c / b - 1.0 } else { 0.0 }, Judgement::Info),
    }
}

#[cfg(test)]
mod tests;
