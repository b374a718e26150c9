//! The verdict on one paired figure: slower, faster, the same, or undecided.
//!
//! A change smaller than δ (default 5%) is "the same"; the verdict needs the whole 99.9%
//! interval on one side. The interval is of head ÷ base; for a figure where lower is better (a
//! latency, CPU per event, memory) it is turned over first, so "slower" always means head
//! is worse.

use super::interval::Interval;

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Rates: more is better.
    Higher,
    /// Latencies, CPU per event, memory: less is better.
    Lower,
}

/// What the blocks say of one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Head is worse by more than δ: the whole interval says so.
    Slower,
    /// Head is better by more than δ.
    Faster,
    /// The whole interval lies within ±δ.
    Same,
    /// The interval reaches past ±δ and does not lie wholly beyond it: more blocks would tell.
    Undecided,
}

impl Verdict {
    /// The word in reports.
    pub fn word(self) -> &'static str {
        match self {
            Self::Slower => "slower",
            Self::Faster => "faster",
            Self::Same => "same",
            Self::Undecided => "undecided",
        }
    }
}

/// The verdict for `interval` of a figure that is better `better`, with the margin `delta`.
pub fn judge(interval: &Interval, better: Better, delta: f64) -> Verdict {
    // As head's speed relative to base: below 1 is worse, whichever way the figure points.
    let (low, high) = match better {
        Better::Higher => (interval.low, interval.high),
        Better::Lower => (1.0 / interval.high, 1.0 / interval.low),
    };
    if high < 1.0 - delta {
        Verdict::Slower
    } else if low > 1.0 + delta {
        Verdict::Faster
    } else if low >= 1.0 - delta && high <= 1.0 + delta {
        Verdict::Same
    } else {
        Verdict::Undecided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn around(ratio: f64, half: f64) -> Interval {
        Interval { ratio, low: ratio * (1.0 - half), high: ratio * (1.0 + half), blocks: 6 }
    }

    #[test]
    fn a_tight_interval_at_0_90_is_slower_and_at_1_0_the_same() {
        assert_eq!(judge(&around(0.90, 0.02), Better::Higher, 0.05), Verdict::Slower);
        assert_eq!(judge(&around(1.00, 0.02), Better::Higher, 0.05), Verdict::Same);
        assert_eq!(judge(&around(1.10, 0.02), Better::Higher, 0.05), Verdict::Faster);
    }

    #[test]
    fn a_wide_interval_is_undecided() {
        assert_eq!(judge(&around(0.90, 0.20), Better::Higher, 0.05), Verdict::Undecided);
        assert_eq!(judge(&around(1.00, 0.08), Better::Higher, 0.05), Verdict::Undecided);
    }

    #[test]
    fn for_a_latency_a_higher_ratio_is_slower() {
        assert_eq!(judge(&around(1.12, 0.02), Better::Lower, 0.05), Verdict::Slower);
        assert_eq!(judge(&around(0.88, 0.02), Better::Lower, 0.05), Verdict::Faster);
        assert_eq!(judge(&around(1.01, 0.02), Better::Lower, 0.05), Verdict::Same);
    }

    #[test]
    fn an_interval_just_past_the_margin_on_one_side_is_not_yet_a_verdict() {
        // 0.93 to 0.97: entirely below 1, but not entirely below 0.95.
        let i = Interval { ratio: 0.95, low: 0.93, high: 0.97, blocks: 8 };
        assert_eq!(judge(&i, Better::Higher, 0.05), Verdict::Undecided);
    }
}
