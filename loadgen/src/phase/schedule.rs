//! When open-loop arrivals are due. Poisson by default, as `pgbench -R` schedules them:
//! exponential gaps whose mean follows the rate, so bursts happen as they do when many
//! independent users act; `uniform` spaces them evenly (a kinder load that hides queueing).

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};

use crate::scenario::{Arrival, Arrivals};

/// Arrival offsets, in seconds from the start of the warm-up.
#[derive(Debug)]
pub struct Schedule {
    rate: Arrival,
    arrivals: Arrivals,
    warmup_s: f64,
    duration_s: f64,
    rng: SmallRng,
    i: u64,
    t: f64,
}

impl Schedule {
    /// The schedule of `rate` over a warm-up and a measured window of `duration_s`.
    pub fn new(rate: Arrival, arrivals: Arrivals, (warmup_s, duration_s): (f64, f64), seed: u64) -> Self {
        Self { rate, arrivals, warmup_s, duration_s, rng: SmallRng::seed_from_u64(seed), i: 0, t: 0.0 }
    }

    /// The rate in force `t` seconds after the warm-up started.
    fn rate_at(&self, t: f64) -> f64 {
        match self.rate {
            Arrival::Ramp { from, .. } if t < self.warmup_s => from,
            rate => rate.rate_at(t - self.warmup_s, self.duration_s),
        }
    }
}

impl Iterator for Schedule {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        let at = match self.arrivals {
            Arrivals::Uniform => self.rate.offset(self.i, self.warmup_s, self.duration_s),
            Arrivals::Poisson => {
                let gap: f64 = Exp1.sample(&mut self.rng);
                self.t += gap / self.rate_at(self.t);
                self.t
            }
        };
        self.i += 1;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_arrivals_have_the_rate_as_mean_and_counts_as_variable_as_their_mean() {
        let (rate, seconds) = (1000.0, 200.0);
        let offsets: Vec<f64> = Schedule::new(Arrival::Constant(rate), Arrivals::Poisson, (0.0, seconds), 7)
            .take_while(|&t| t < seconds)
            .collect();
        let n = offsets.len() as f64;
        // The count over 200 s: mean 200000, standard deviation about 447.
        assert!((n - rate * seconds).abs() < 5.0 * (rate * seconds).sqrt(), "{n} arrivals");
        // Gaps are exponential: their standard deviation equals their mean (1 ms).
        let gaps: Vec<f64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!((mean - 1e-3).abs() < 2e-5, "mean gap {mean}");
        assert!((sd / mean - 1.0).abs() < 0.02, "coefficient of variation {}", sd / mean);
        // Per-second counts vary as a Poisson count does: variance about equal to the mean.
        let mut per_second = vec![0f64; seconds as usize];
        offsets.iter().for_each(|t| per_second[*t as usize] += 1.0);
        let m = per_second.iter().sum::<f64>() / seconds;
        let var = per_second.iter().map(|c| (c - m).powi(2)).sum::<f64>() / (seconds - 1.0);
        assert!((var / m - 1.0).abs() < 0.3, "index of dispersion {}", var / m);
    }

    #[test]
    fn uniform_arrivals_are_evenly_spaced() {
        let offsets: Vec<f64> =
            Schedule::new(Arrival::Constant(100.0), Arrivals::Uniform, (0.0, 1.0), 1).take(5).collect();
        assert_eq!(offsets, vec![0.0, 0.01, 0.02, 0.03, 0.04]);
    }

    #[test]
    fn a_poisson_ramp_rises_from_its_start_rate_to_its_end_rate() {
        let ramp = Arrival::Ramp { from: 100.0, to: 1000.0 };
        let offsets: Vec<f64> =
            Schedule::new(ramp, Arrivals::Poisson, (10.0, 100.0), 3).take_while(|&t| t < 110.0).collect();
        let in_window = |a: f64, b: f64| offsets.iter().filter(|&&t| t >= a && t < b).count() as f64;
        // Warm-up at 100/s; the last ten seconds of the ramp near 955/s on average.
        assert!((in_window(0.0, 10.0) - 1000.0).abs() < 150.0);
        assert!((in_window(100.0, 110.0) / 10.0 - 955.0).abs() < 60.0);
    }
}
