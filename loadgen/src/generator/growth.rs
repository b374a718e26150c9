//! Growth over simulated years, fitted to the published history: 100M events after 458 days,
//! 200M after another 299, 300M after another 131.
//!
//! The daily rate is continuous and exponential within each of the three periods, and never
//! falls. Those conditions fix it: the first period is flat (100M / 458 days ≈ 218k events a
//! day), and each later period's growth rate is solved so the period adds exactly 100M. The
//! rate it ends at, about 1.13M events a day, is the talk's "1.1M+ events a day".

/// The published checkpoints: (days since start, cumulative events).
pub const PUBLISHED: [(u32, f64); 3] = [(458, 100e6), (757, 200e6), (888, 300e6)];

/// Daily event rate as a function of the simulated day.
#[derive(Debug, Clone)]
pub struct Growth {
    /// (start day, rate at start, growth per day) for each period.
    periods: Vec<(f64, f64, f64)>,
}

impl Growth {
    /// The curve through [`PUBLISHED`].
    pub fn published() -> Self {
        let mut periods = Vec::new();
        let (mut start, mut total, mut rate) = (0.0, 0.0, 0.0);
        for (i, &(day, cumulative)) in PUBLISHED.iter().enumerate() {
            let days = f64::from(day) - start;
            let added = cumulative - total;
            let g = if i == 0 {
                rate = added / days;
                0.0
            } else {
                solve_growth(rate, days, added)
            };
            periods.push((start, rate, g));
            rate *= (g * days).exp();
            start = f64::from(day);
            total = cumulative;
        }
        Self { periods }
    }

    /// Events per day on `day` (the last period's curve continues past its end).
    pub fn rate(&self, day: f64) -> f64 {
        let &(start, r, g) = self.periods.iter().rev().find(|p| p.0 <= day).unwrap_or(&self.periods[0]);
        r * (g * (day - start)).exp()
    }

    /// Events from day 0 to `day`.
    pub fn cumulative(&self, day: f64) -> f64 {
        let mut total = 0.0;
        for (i, &(start, r, g)) in self.periods.iter().enumerate() {
            let end = self.periods.get(i + 1).map_or(f64::INFINITY, |p| p.0).min(day);
            if end <= start {
                break;
            }
            total += period_total(r, g, end - start);
        }
        total
    }
}

fn period_total(r: f64, g: f64, days: f64) -> f64 {
    if g.abs() < 1e-12 {
        r * days
    } else {
        r / g * ((g * days).exp() - 1.0)
    }
}

fn solve_growth(rate: f64, days: f64, added: f64) -> f64 {
    let (mut lo, mut hi) = (-0.1, 0.1);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if period_total(rate, mid, days) < added {
            lo = mid
        } else {
            hi = mid
        }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_passes_through_the_published_checkpoints() {
        let g = Growth::published();
        for (day, total) in PUBLISHED {
            let got = g.cumulative(f64::from(day));
            assert!((got - total).abs() / total < 1e-6, "day {day}: {got}");
        }
    }

    #[test]
    fn the_rate_never_falls_and_ends_near_the_published_daily_rate() {
        let g = Growth::published();
        let rates: Vec<f64> = (0..=888).map(|d| g.rate(f64::from(d))).collect();
        assert!(rates.windows(2).all(|w| w[1] >= w[0] * 0.999_999));
        assert!((1.1e6..1.2e6).contains(&rates[888]), "{}", rates[888]);
    }
}
