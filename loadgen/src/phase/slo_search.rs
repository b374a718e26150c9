//! The stepped search for the highest offered rate a strategy serves within the SLO: a
//! coarse ramp (doubling from a start rate while steps pass, quartering while they fail), then
//! bisection between the highest passing rate and the lowest failing one above it.
//!
//! The answer is the highest passing rate *below every failing rate*: a rate that passed
//! above one that failed is noise, not capacity. Nothing here touches a database; the append
//! phase hands it a step that runs one real open-loop window.

/// One step's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Offered events/s.
    pub rate: f64,
    /// p99 latency from intended start, failures included, in ms.
    pub p99_ms: f64,
    /// Whether the step held the SLO with no error and no saturation.
    pub passed: bool,
}

/// How the search runs.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// The first rate tried.
    pub start: f64,
    /// Steps at most.
    pub max_steps: usize,
    /// Stop once `lowest failing ≤ highest passing × (1 + tolerance)`.
    pub tolerance: f64,
}

/// The highest passing rate below every failing one (0 when none passed), with every step.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Events/s; 0 when no step passed.
    pub rate: f64,
    /// The lowest failing rate, if any step failed: the SLO rate lies between the two.
    pub failed_at: Option<f64>,
    /// The steps in the order they ran.
    pub steps: Vec<Step>,
}

fn found(steps: &[Step]) -> (Option<f64>, Option<f64>) {
    let fail = steps.iter().filter(|s| !s.passed).map(|s| s.rate).min_by(f64::total_cmp);
    let pass =
        steps.iter().filter(|s| s.passed && fail.is_none_or(|f| s.rate < f)).map(|s| s.rate).max_by(f64::total_cmp);
    (pass, fail)
}

/// The search as it goes: ask [`Search::next_rate`], run that step, [`Search::record`] it.
#[derive(Debug, Clone)]
pub struct Search {
    bounds: Bounds,
    steps: Vec<Step>,
    next: Option<f64>,
}

impl Search {
    /// A search that will first try `bounds.start`.
    pub fn new(bounds: Bounds) -> Self {
        Self { bounds, steps: Vec::new(), next: (bounds.start >= 1.0 && bounds.max_steps > 0).then_some(bounds.start) }
    }

    /// The next rate to try; `None` once the search has converged or spent its steps.
    pub fn next_rate(&self) -> Option<f64> {
        self.next
    }

    /// Records a step and chooses the next rate.
    pub fn record(&mut self, step: Step) {
        self.steps.push(step);
        let next = match found(&self.steps) {
            (Some(pass), None) => Some(pass * 2.0),
            (None, Some(fail)) => Some(fail / 4.0),
            (Some(pass), Some(fail)) if fail <= pass * (1.0 + self.bounds.tolerance) => None,
            (Some(pass), Some(fail)) => Some((pass * fail).sqrt()),
            (None, None) => None,
        };
        self.next = next.filter(|&r| r >= 1.0 && self.steps.len() < self.bounds.max_steps);
    }

    /// What the steps so far found.
    pub fn found(&self) -> Found {
        let (pass, fail) = found(&self.steps);
        Found { rate: pass.unwrap_or(0.0), failed_at: fail, steps: self.steps.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Exp1};

    /// A fake appender: one server taking `1 / service_rate` s per append, Poisson arrivals
    /// at `rate` for 60 simulated seconds; the p99 of time from arrival to acknowledgement.
    fn queue_p99_ms(rate: f64, service_rate: f64) -> f64 {
        let mut rng = SmallRng::seed_from_u64(11);
        let (mut t, mut free_at) = (0.0f64, 0.0f64);
        let mut sojourn = Vec::new();
        while t < 60.0 {
            let gap: f64 = Exp1.sample(&mut rng);
            t += gap / rate;
            free_at = free_at.max(t) + 1.0 / service_rate;
            sojourn.push(free_at - t);
        }
        sojourn.sort_by(f64::total_cmp);
        sojourn[sojourn.len() * 99 / 100] * 1000.0
    }

    fn run(bounds: Bounds, mut step: impl FnMut(f64) -> Step) -> Found {
        let mut search = Search::new(bounds);
        while let Some(rate) = search.next_rate() {
            search.record(step(rate));
        }
        search.found()
    }

    fn fake(service_rate: f64, slo_ms: f64) -> impl FnMut(f64) -> Step {
        move |rate| {
            let p99_ms = queue_p99_ms(rate, service_rate);
            Step { rate, p99_ms, passed: p99_ms <= slo_ms }
        }
    }

    /// The true knee of the fake, by a fine scan.
    fn knee(service_rate: f64, slo_ms: f64) -> f64 {
        (1..2000)
            .map(|i| f64::from(i) * service_rate / 2000.0)
            .take_while(|&r| queue_p99_ms(r, service_rate) <= slo_ms)
            .last()
            .unwrap()
    }

    #[test]
    fn the_search_finds_a_known_knee_from_below_or_above() {
        // 2000 appends/s of service and a 50 ms SLO: the knee is near 1900/s.
        let (mu, slo) = (2000.0, 50.0);
        let truth = knee(mu, slo);
        assert!(truth > 1700.0 && truth < 2000.0, "knee {truth}");
        for start in [100.0, 1000.0, 5000.0, 40000.0] {
            let found = run(Bounds { start, max_steps: 12, tolerance: 0.05 }, fake(mu, slo));
            assert!(found.rate <= truth, "from {start}: {} above the knee {truth}", found.rate);
            assert!(found.rate >= truth / 1.05 * 0.99, "from {start}: {} well below the knee {truth}", found.rate);
            let failed = found.failed_at.unwrap();
            assert!(failed > truth && failed <= found.rate * 1.05 + 1e-9, "{found:?}");
        }
    }

    #[test]
    fn nothing_passing_gives_zero_and_a_pass_above_a_failure_is_not_capacity() {
        let none = run(Bounds { start: 100_000.0, max_steps: 5, tolerance: 0.1 }, |rate| Step {
            rate,
            p99_ms: 900.0,
            passed: false,
        });
        assert_eq!(none.rate, 0.0);
        assert_eq!(none.steps.len(), 5);
        // Noise: 400 passed although 200 failed. The answer stays below 200.
        let steps =
            [(100.0, true), (200.0, false), (400.0, true)].map(|(rate, passed)| Step { rate, p99_ms: 0.0, passed });
        assert_eq!(found(&steps), (Some(100.0), Some(200.0)));
    }
}
