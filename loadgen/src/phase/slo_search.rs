//! The stepped search for the highest offered rate a strategy serves within the SLO: a
//! coarse ramp (doubling from a start rate while steps pass, quartering while they fail), then
//! bisection between the highest passing rate and the lowest failing one above it.
//!
//! The answer is the highest passing rate *below every failing rate*: a rate that passed
//! above one that failed is noise, not capacity. A harness-bound step (the load generator
//! fell behind its own schedule) neither passes nor fails: it bounds the search from above
//! like a failure, and the search reports it as the harness's own limit. Nothing here touches
//! a database; the append phase hands it a step that runs one real open-loop window.

/// One step's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Offered events/s.
    pub rate: f64,
    /// p99 latency from intended start, failures included, in ms.
    pub p99_ms: f64,
    /// Whether the step held the SLO with no error and no saturation.
    pub passed: bool,
    /// Whether the load generator fell behind (more than 1% of arrivals started over 1 ms
    /// late): then the step measured the harness, and `passed` is false.
    pub harness_bound: bool,
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
    /// The lowest rate that did not pass (failed, or was harness-bound), if any: the SLO rate
    /// lies between `rate` and this.
    pub failed_at: Option<f64>,
    /// The lowest harness-bound rate, if any: the harness's own limit in this run.
    pub harness_bound_at: Option<f64>,
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
        let harness_bound_at = self.steps.iter().filter(|s| s.harness_bound).map(|s| s.rate).min_by(f64::total_cmp);
        Found { rate: pass.unwrap_or(0.0), failed_at: fail, harness_bound_at, steps: self.steps.clone() }
    }
}

/// What a confirming window found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// Every whole minute's p99 held the SLO, with no error and no saturation.
    Held,
    /// A minute's p99 broke the SLO, or an append failed, or dispatch saturated.
    Missed,
    /// The load generator fell behind: the window measured the harness.
    HarnessBound,
}

/// Judges a confirming window by its worst minute, not its whole: a checkpoint's minute
/// that breaks the SLO is what a user running at the rate would see.
pub fn confirmed(minute_p99_ms: &[f64], errors: u64, saturated: bool, harness_bound: bool, slo_ms: f64) -> Confirmed {
    if harness_bound {
        Confirmed::HarnessBound
    } else if errors > 0 || saturated || minute_p99_ms.is_empty() || minute_p99_ms.iter().any(|&p| p > slo_ms) {
        Confirmed::Missed
    } else {
        Confirmed::Held
    }
}

/// The rate a confirmation tries after a miss at `rate`: one search tolerance down.
pub fn step_down(rate: f64, tolerance: f64) -> f64 {
    (rate / (1.0 + tolerance)).floor()
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
            Step { rate, p99_ms, passed: p99_ms <= slo_ms, harness_bound: false }
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
            harness_bound: false,
        });
        assert_eq!(none.rate, 0.0);
        assert_eq!(none.steps.len(), 5);
        // Noise: 400 passed although 200 failed. The answer stays below 200.
        let steps = [(100.0, true), (200.0, false), (400.0, true)].map(|(rate, passed)| Step {
            rate,
            p99_ms: 0.0,
            passed,
            harness_bound: false,
        });
        assert_eq!(found(&steps), (Some(100.0), Some(200.0)));
    }

    #[test]
    fn a_harness_bound_step_bounds_the_search_and_is_reported_as_the_harness_limit() {
        // The store would hold 1900/s, but the load generator falls behind from 1200/s on.
        let mut store = fake(2000.0, 50.0);
        let found = run(Bounds { start: 500.0, max_steps: 12, tolerance: 0.05 }, |rate| {
            let step = store(rate);
            match rate >= 1200.0 {
                true => Step { passed: false, harness_bound: true, ..step },
                false => step,
            }
        });
        let limit = found.harness_bound_at.unwrap();
        assert!(limit >= 1200.0 && found.rate < 1200.0, "{found:?}");
        assert_eq!(found.failed_at, Some(limit), "the harness's limit bounds the rate found");
        assert!(found.rate * 1.05 >= limit, "the search still converges below the limit: {found:?}");
    }

    #[test]
    fn a_confirming_window_holds_only_when_every_minute_held() {
        assert_eq!(confirmed(&[12.0, 30.0, 49.0], 0, false, false, 50.0), Confirmed::Held);
        // One minute with a checkpoint in it broke the SLO: the whole window missed.
        assert_eq!(confirmed(&[12.0, 61.0, 20.0], 0, false, false, 50.0), Confirmed::Missed);
        assert_eq!(confirmed(&[12.0], 1, false, false, 50.0), Confirmed::Missed);
        assert_eq!(confirmed(&[12.0], 0, true, false, 50.0), Confirmed::Missed);
        assert_eq!(confirmed(&[], 0, false, false, 50.0), Confirmed::Missed, "nothing measured holds nothing");
        assert_eq!(confirmed(&[12.0], 0, false, true, 50.0), Confirmed::HarnessBound);
        assert_eq!(step_down(1150.0, 0.15), 1000.0);
    }
}
