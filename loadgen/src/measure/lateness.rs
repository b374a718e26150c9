//! Where an open-loop arrival's start was late, stage by stage: the ticker's thread waking
//! after the arrival was due (`tick`), the dispatcher task taking the tick after the ticker
//! woke (`handover`), and the virtual user starting the command after the dispatcher took the
//! tick, or after the user's command before it ended (`queue`: taking the append from the
//! feed and handing it over included). A window is harness-bound on the sum
//! ([`super::latency::HARNESS_LATE_AFTER`]); these say which part of the load generator to
//! mend.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::latency::HARNESS_LATE_AFTER;

/// The stages, in the order an arrival passes them.
pub const STAGES: [&str; 3] = ["tick", "handover", "queue"];

/// One arrival's way from its due instant to its start.
#[derive(Debug, Clone, Copy)]
pub struct Way {
    /// When the schedule said it should start.
    pub due: Instant,
    /// When the ticker's thread woke for it.
    pub woke: Instant,
    /// When the dispatcher task took it from the ticker.
    pub taken: Instant,
}

impl Way {
    /// The three stages' delays, for a command that could start at `ready` (its due instant,
    /// or later when its user was still busy) and started at `started`.
    fn delays(&self, ready: Instant, started: Instant) -> [Duration; 3] {
        [
            self.woke.saturating_duration_since(self.due),
            self.taken.saturating_duration_since(self.woke),
            started.saturating_duration_since(self.taken.max(ready)),
        ]
    }
}

/// Each stage's delay over a window's measured arrivals, in µs; shared by the virtual users.
#[derive(Debug, Clone)]
pub struct Lateness(Arc<Mutex<Stages>>);

#[derive(Debug)]
struct Stages {
    delays: [Histogram<u64>; 3],
    /// Whether the ticker's thread ran in the real-time class, once known.
    ticker_realtime: Option<bool>,
}

impl Default for Lateness {
    fn default() -> Self {
        let h = || Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid histogram bounds");
        Self(Arc::new(Mutex::new(Stages { delays: [h(), h(), h()], ticker_realtime: None })))
    }
}

impl Lateness {
    /// Records one measured arrival.
    pub fn record(&self, way: &Way, ready: Instant, started: Instant) {
        let delays = way.delays(ready, started);
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for (h, d) in s.delays.iter_mut().zip(delays) {
            h.saturating_record(d.as_micros().max(1) as u64);
        }
    }

    /// Notes whether the ticker's thread ran in the real-time class.
    pub fn set_ticker_realtime(&self, realtime: Option<bool>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).ticker_realtime = realtime;
    }

    /// Whether the ticker's thread ran in the real-time class, once known.
    pub fn ticker_realtime(&self) -> Option<bool> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).ticker_realtime
    }

    /// Per stage: (name, share of arrivals over [`HARNESS_LATE_AFTER`], p99 in ms, max in ms).
    pub fn stages(&self) -> Vec<(&'static str, f64, f64, f64)> {
        let s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let limit = HARNESS_LATE_AFTER.as_micros() as u64;
        STAGES
            .iter()
            .zip(s.delays.iter())
            .map(|(name, h)| {
                let n = h.len();
                let over = if n == 0 { 0 } else { n - h.count_between(0, limit) };
                let share = if n == 0 { 0.0 } else { over as f64 / n as f64 };
                (*name, share, h.value_at_quantile(0.99) as f64 / 1000.0, h.max() as f64 / 1000.0)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_is_charged_with_its_own_wait() {
        let t0 = Instant::now();
        let us = Duration::from_micros;
        let l = Lateness::default();
        // The ticker woke 2 ms late, the dispatcher took it at once, the user started 100 µs on.
        let way = Way { due: t0, woke: t0 + us(2000), taken: t0 + us(2010) };
        l.record(&way, t0, t0 + us(2110));
        // On time up to the user, who was busy until 5 ms: waiting for it is the store's.
        let way = Way { due: t0, woke: t0 + us(50), taken: t0 + us(60) };
        l.record(&way, t0 + us(5000), t0 + us(5020));
        // The dispatcher took it 1.5 ms after the ticker woke.
        let way = Way { due: t0, woke: t0 + us(40), taken: t0 + us(1540) };
        l.record(&way, t0, t0 + us(1600));
        let s = l.stages();
        let names: Vec<_> = s.iter().map(|s| s.0).collect();
        assert_eq!(names, STAGES);
        let third = 1.0 / 3.0;
        assert!((s[0].1 - third).abs() < 1e-9, "{s:?}");
        assert!((s[1].1 - third).abs() < 1e-9, "{s:?}");
        assert_eq!(s[2].1, 0.0, "{s:?}");
        assert!((s[0].3 - 2.0).abs() < 0.05, "{s:?}");
    }
}
