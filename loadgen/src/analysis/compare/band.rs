//! A figure's normalised value and its noise band, from its own repetitions.
//!
//! Within one run, a ratio's spread combines its figure's and its reference's in quadrature
//! (their noise is independent), each the range of the repetitions over their median. In a baseline that merges whole runs
//! (`stroom baseline`), repetitions are one per run and pair with the reference's by index, so
//! the spread is that of the per-run ratios, widened by [`RUNS_RANGE_FACTOR`]: the run-to-run
//! noise, which is what the gate must see past. A figure measured once has a spread of 0 and
//! gets the floor.

use super::rule::Norm;
use crate::output::result_file::RunResult;

/// What the range of a merged baseline's runs is widened by. Three runs' range is about 1.7
/// standard deviations of the run-to-run noise, and a fourth run strays past it half the
/// time; twice it is about three and a half, so an unchanged commit rarely fails one of two
/// dozen judged figures. (Measured on this 2-core VM: a fourth quick run of one commit against
/// three merged strayed 35% on a single-repetition append ceiling whose three-run range was 25%.)
pub const RUNS_RANGE_FACTOR: f64 = 2.0;

/// A figure made comparable: its value and the relative spread of its repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalised {
    /// The normalised value (median).
    pub value: f64,
    /// (max − min) / median of the normalised repetitions.
    pub spread: f64,
}

/// `name` in `r`, normalised by `norm`'s reference when `r` has it (`None` when not).
pub fn normalised(r: &RunResult, name: &str, norm: Norm) -> Option<Normalised> {
    let f = r.figures.get(name)?;
    let runs = if r.runs > 1 { RUNS_RANGE_FACTOR } else { 1.0 };
    let Some(reference) = norm.reference() else {
        return Some(Normalised { value: f.value, spread: runs * spread(&f.repetitions) });
    };
    let rf = r.figures.get(reference).filter(|rf| rf.value > 0.0)?;
    if r.runs > 1 && f.repetitions.len() == rf.repetitions.len() && f.repetitions.len() > 1 {
        let ratios: Vec<f64> = f.repetitions.iter().zip(&rf.repetitions).map(|(v, rv)| norm.apply(*v, *rv)).collect();
        return Some(Normalised { value: median(&ratios), spread: RUNS_RANGE_FACTOR * spread(&ratios) });
    }
    let spread = spread(&f.repetitions).hypot(spread(&rf.repetitions));
    Some(Normalised { value: norm.apply(f.value, rf.value), spread })
}

/// The widest band a figure gets. A change is relative and a fall cannot pass −100%, so a
/// band of 100% or more would let the figure fall to nothing unflagged: the three runs of
/// 0590b77 spread per-school's SLO rate (÷ COPY in) over 0.036 to 0.074, a band of ±159%,
/// and a quick run perturbed by a build beside it fell 97.7% there and passed. At 75% a fall
/// to a quarter always counts; the gate's second run ([`super::confirm`]) keeps such a wide
/// figure's noise from failing CI on one run.
pub const MAX_BAND: f64 = 0.75;

/// The band a change must exceed to count: the larger spread of the two, at least `floor`,
/// at most [`MAX_BAND`].
pub fn band(baseline: Normalised, current: Normalised, floor: f64) -> f64 {
    floor.max(baseline.spread).max(current.spread).min(MAX_BAND.max(floor))
}

/// (max − min) / median; 0 for fewer than two values or a median of 0.
pub fn spread(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let m = median(values);
    if m.abs() > 0.0 {
        (hi - lo) / m.abs()
    } else {
        0.0
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_the_range_over_the_median() {
        assert_eq!(spread(&[90.0, 100.0, 110.0]), 0.2);
        assert_eq!(spread(&[5.0]), 0.0);
        assert_eq!(band(Normalised { value: 1.0, spread: 0.02 }, Normalised { value: 1.0, spread: 0.0 }, 0.1), 0.1);
        assert_eq!(band(Normalised { value: 1.0, spread: 0.3 }, Normalised { value: 1.0, spread: 0.1 }, 0.1), 0.3);
        let wide = Normalised { value: 1.0, spread: 1.59 };
        assert_eq!(band(wide, wide, 0.1), MAX_BAND, "a fall to nothing must be able to fail");
    }
}
