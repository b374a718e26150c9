//! `stroom ab`: paired, interleaved A/B runs, analysed.
//!
//! The runner (in the binary) runs a scenario with two stroom builds against one cluster, in
//! blocks: A B, then B A, and so on, so both arms share the host, its steal, its cache state and
//! table sizes, and a drift over the run falls on both. Each block gives one ratio head ÷ base per
//! paired figure ([`pairing`]); over the blocks, a 99.9% interval ([`interval`]) and a verdict
//! with the margin δ ([`verdict`]). Wrong outcomes fail whatever the statistics.

pub mod interval;
pub mod outcome;
pub mod pairing;
pub mod verdict;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::compare::rule::{rule, Rule};
use crate::output::result_file::RunResult;
pub use interval::{crossover_t, paired_t, Interval, CONFIDENCE};
pub use outcome::{AbResult, ArmInfo, StepsInfo, AB_VERSION};
pub use pairing::{is_tail, pairing, TAIL_DELTA};
pub use verdict::{judge, Better, Verdict};

/// How the interval is computed, in words, for the result and the report.
pub const METHOD: &str = "paired t interval (99.9% a figure, 95% over up to 50 figures) on the log of each block's or round's head ÷ base, the order the arms ran in taken out (an AB/BA crossover's period effect)";

/// One paired figure over the blocks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pair {
    /// Figure name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// `true` when lower is better.
    pub lower_is_better: bool,
    /// Base's value in each block, in block order.
    pub base: Vec<f64>,
    /// Head's value in each block.
    pub head: Vec<f64>,
    /// head ÷ base of each block.
    pub ratios: Vec<f64>,
    /// The margin it was judged with: δ, or [`TAIL_DELTA`] for a tail latency.
    pub delta: f64,
    /// The 99.9% interval of head ÷ base (none with fewer than two blocks).
    pub interval: Option<IntervalOut>,
    /// The verdict.
    pub verdict: Verdict,
}

/// [`Interval`] as written to the result.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct IntervalOut {
    /// Geometric mean of the block ratios.
    pub ratio: f64,
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// One block: each arm's result.
#[derive(Debug, Clone)]
pub struct Block {
    /// The base arm's result.
    pub base: RunResult,
    /// The head arm's result.
    pub head: RunResult,
    /// Whether base ran first.
    pub base_first: bool,
}

/// One round of steps (or a block's figures): each arm's figures, and for each figure whether
/// base's step ran first.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Base's figures.
    pub base: BTreeMap<String, f64>,
    /// Head's figures.
    pub head: BTreeMap<String, f64>,
    /// Per figure: whether base ran first.
    pub base_first: BTreeMap<String, bool>,
}

/// Pairs every figure both arms produced in every block and judges each with margin `delta`.
pub fn analyse(blocks: &[Block], delta: f64) -> Vec<Pair> {
    let Some(first) = blocks.first() else { return Vec::new() };
    let rows: Vec<Row> = blocks
        .iter()
        .map(|b| {
            let values = |r: &RunResult| r.figures.iter().map(|(n, f)| (n.clone(), f.value)).collect();
            let base_first = b.head.figures.keys().map(|n| (n.clone(), b.base_first)).collect();
            Row { base: values(&b.base), head: values(&b.head), base_first }
        })
        .collect();
    pair_rows(&rows, delta, |name| first.head.figures.get(name).map(|f| f.unit.clone()).unwrap_or_default())
}

/// Pairs every figure of a stepped run's rounds that both arms gave in every round (a round in
/// which neither ran the figure's step does not count), and judges each with margin `delta`. A
/// step figure is named `step.<figure>` and paired as `<figure>` is.
pub fn analyse_rows(rows: &[Row], delta: f64) -> Vec<Pair> {
    pair_rows(rows, delta, |name| {
        let unit = if name.ends_with("events_per_s") {
            "events/s"
        } else if name.ends_with("us_per_event") {
            "µs"
        } else if name.ends_with("_ms") {
            "ms"
        } else {
            ""
        };
        unit.to_string()
    })
}

/// How a figure is paired: its name, or the run figure a step figure stands for.
fn paired_as(name: &str) -> Option<Better> {
    pairing(name.strip_prefix("step.").unwrap_or(name))
}

fn pair_rows(rows: &[Row], delta: f64, unit: impl Fn(&str) -> String) -> Vec<Pair> {
    let names: std::collections::BTreeSet<&String> = rows.iter().flat_map(|r| r.head.keys()).collect();
    let mut pairs = Vec::new();
    for name in names {
        let Some(better) = paired_as(name) else { continue };
        let value = |m: &BTreeMap<String, f64>| m.get(name).copied().filter(|v| v.is_finite() && *v > 0.0);
        // A round in which neither arm ran the figure's step (a rotating step) is no pair; a
        // figure one arm lacks where the other has it is not paired at all.
        let both: Option<Vec<(f64, f64, bool)>> = rows
            .iter()
            .filter(|r| r.base.contains_key(name) || r.head.contains_key(name))
            .map(|r| Some((value(&r.base)?, value(&r.head)?, r.base_first.get(name).copied().unwrap_or(true))))
            .collect();
        let Some(both) = both.filter(|v| !v.is_empty()) else { continue };
        let ratios: Vec<f64> = both.iter().map(|(b, h, _)| h / b).collect();
        let orders: Vec<bool> = both.iter().map(|p| p.2).collect();
        let interval = crossover_t(&ratios, &orders);
        let delta = if is_tail(name) { delta.max(TAIL_DELTA) } else { delta };
        let verdict = interval.map_or(Verdict::Undecided, |i| judge(&i, better, delta));
        pairs.push(Pair {
            name: name.clone(),
            unit: unit(name),
            lower_is_better: better == Better::Lower,
            base: both.iter().map(|p| p.0).collect(),
            head: both.iter().map(|p| p.1).collect(),
            ratios,
            delta,
            interval: interval.map(|i| IntervalOut { ratio: i.ratio, low: i.low, high: i.high }),
            verdict,
        });
    }
    pairs
}

/// How many pairs got each verdict: slower, faster, same, undecided.
pub fn tally(pairs: &[Pair]) -> [usize; 4] {
    let n = |v| pairs.iter().filter(|p| p.verdict == v).count();
    [n(Verdict::Slower), n(Verdict::Faster), n(Verdict::Same), n(Verdict::Undecided)]
}

/// Whether every pair has a verdict other than undecided.
pub fn all_decided(pairs: &[Pair]) -> bool {
    !pairs.is_empty() && pairs.iter().all(|p| p.verdict != Verdict::Undecided)
}

/// Wrong outcomes in one arm's result, each in words: errors, lost or duplicated events,
/// digests that disagree, failed thresholds.
pub fn wrong_outcomes(r: &RunResult) -> Vec<String> {
    let mut wrong: Vec<String> = r
        .figures
        .iter()
        .filter(|(name, f)| match rule(name) {
            Rule::WrongOutcomes => f.value > 0.0,
            Rule::MustStay => f.value < 1.0,
            _ => false,
        })
        .map(|(name, f)| format!("{name} = {}", f.value))
        .collect();
    wrong.extend(
        r.thresholds.iter().filter(|v| !v.passed).map(|v| format!("threshold failed: {} ({})", v.threshold, v.detail)),
    );
    wrong
}

impl Pair {
    /// The interval's width as a share (high ÷ low − 1), if there is an interval.
    pub fn width(&self) -> Option<f64> {
        self.interval.map(|i| i.high / i.low - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(base: f64, head: f64) -> Block {
        let r = |v| RunResult::for_test("gate", &[("append.per-school.c8.events_per_s", v), ("load.events", 1.0)]);
        Block { base: r(base), head: r(head), base_first: base < 1150.0 }
    }

    #[test]
    fn a_steady_ten_percent_fall_is_slower_and_equal_arms_are_the_same() {
        let blocks: Vec<Block> = [1000.0, 1400.0, 900.0, 1200.0, 1100.0].iter().map(|&b| block(b, b * 0.9)).collect();
        let pairs = analyse(&blocks, 0.05);
        assert_eq!(pairs.len(), 1, "load.events is not paired");
        assert_eq!(pairs[0].verdict, Verdict::Slower);
        assert!((pairs[0].interval.expect("five blocks").ratio - 0.9).abs() < 1e-9);
        let same: Vec<Block> = [1000.0, 1400.0, 900.0].iter().map(|&b| block(b, b * 1.001)).collect();
        assert_eq!(analyse(&same, 0.05)[0].verdict, Verdict::Same);
    }

    #[test]
    fn a_figure_one_arm_lacks_in_any_block_is_not_paired() {
        let mut blocks = vec![block(1000.0, 900.0), block(1000.0, 900.0)];
        blocks[1].base.figures.clear();
        assert!(analyse(&blocks, 0.05).is_empty());
    }

    #[test]
    fn a_tail_latency_is_judged_with_its_own_margin() {
        let r = |v| RunResult::for_test("gate", &[("live.per-school.p99_ms", v)]);
        let blocks: Vec<Block> = [10.0, 12.0, 9.0, 11.0]
            .iter()
            .map(|&b| Block { base: r(b), head: r(b * 1.15), base_first: b < 10.5 })
            .collect();
        let pairs = analyse(&blocks, 0.05);
        assert_eq!(
            (pairs[0].delta, pairs[0].verdict),
            (TAIL_DELTA, Verdict::Same),
            "15% worse is within the tail's 25%"
        );
        let blocks: Vec<Block> =
            [4.0, 5.0, 4.5].iter().map(|&b| Block { base: r(b), head: r(b * 11.0), base_first: b < 4.6 }).collect();
        assert_eq!(analyse(&blocks, 0.05)[0].verdict, Verdict::Slower, "4 ms to 45 ms is slower");
    }

    #[test]
    fn wrong_outcomes_are_named() {
        let r = RunResult::for_test(
            "gate",
            &[("append.per-school.errors", 2.0), ("replay.digests_equal", 0.0), ("append.single.errors", 0.0)],
        );
        let w = wrong_outcomes(&r);
        assert_eq!(w, ["append.per-school.errors = 2", "replay.digests_equal = 0"]);
    }
}
