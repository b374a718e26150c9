//! Named figures: the flat map every run produces, that thresholds, compare and reports use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One measured quantity with its repetitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The headline value: the median of the repetitions.
    pub value: f64,
    /// Unit, e.g. `events/s`.
    pub unit: String,
    /// Every repetition, in the order measured.
    pub repetitions: Vec<f64>,
    /// Smallest repetition.
    pub min: f64,
    /// Largest repetition.
    pub max: f64,
}

impl Figure {
    /// A figure from its repetitions; the value is their median.
    pub fn from_repetitions(unit: &str, repetitions: Vec<f64>) -> Self {
        let mut sorted = repetitions.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Self {
            value: median,
            unit: unit.to_string(),
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
            repetitions,
        }
    }
}

/// All figures of a run, by dotted name (`calibrate.copy_in.events_per_s`).
pub type Figures = BTreeMap<String, Figure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_the_median() {
        let f = Figure::from_repetitions("events/s", vec![3.0, 1.0, 2.0]);
        assert_eq!((f.value, f.min, f.max), (2.0, 1.0, 3.0));
        assert_eq!(Figure::from_repetitions("x", vec![1.0, 4.0]).value, 2.5);
    }
}
