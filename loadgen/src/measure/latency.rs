//! Latency measurement: workers send one sample per command over a channel to a single
//! aggregator, which keeps HdrHistograms (total and per second) so nothing locks on the hot
//! path. Latency runs from the intended start time (no coordinated omission); service time
//! from the actual send.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use tokio::sync::mpsc;

/// A start later than this after the intended time counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// A command that started later than this after it could have ([`Sample::ready`]) was late
/// because of the harness (its timer, its dispatcher, its CPU), not because the store was busy.
pub const HARNESS_LATE_AFTER: Duration = Duration::from_millis(1);

/// A window with more than this share of its arrivals started late
/// ([`HARNESS_LATE_AFTER`]) measured the harness, not the store: harness-bound.
pub const HARNESS_BOUND_SHARE: f64 = 0.01;

/// One command's timing.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When the schedule said it should start.
    pub intended: Instant,
    /// When it could have started: `intended`, or when its virtual user finished the command
    /// before it if that was later (it waited for the store). `started` after `ready` is the
    /// harness's own delay: its timer, its dispatcher, its wake-ups, its CPU.
    pub ready: Instant,
    /// When it was actually sent.
    pub started: Instant,
    /// When it was acknowledged (or failed).
    pub ended: Instant,
    /// Whether it succeeded.
    pub ok: bool,
}

/// One virtual user's turns: it runs one command at a time, so a command due while the one
/// before it still ran could start only when that one ended. Makes each command's [`Sample`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Readiness {
    /// When the user's last command ended.
    free_at: Option<Instant>,
}

impl Readiness {
    /// The sample of a command due at `intended` that ran from `started` to `ended`.
    pub fn sample(&mut self, intended: Instant, started: Instant, ended: Instant, ok: bool) -> Sample {
        let ready = self.free_at.map_or(intended, |f| f.max(intended));
        self.free_at = Some(ended);
        Sample { intended, ready, started, ended, ok }
    }
}

/// What the aggregator saw, measured samples only. A failed command counts in `errors` and
/// enters the latency histograms at its time to failure: a harness that leaves failures out
/// shows a failing system as a fast one.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Latency from intended start, in µs, failures included.
    pub latency: Histogram<u64>,
    /// Service time from actual start, in µs.
    pub service: Histogram<u64>,
    /// When the measured window began: second 0 of `intervals`.
    pub started: Instant,
    /// Latency per one-second interval from the measurement start, in µs.
    pub intervals: Vec<Histogram<u64>>,
    /// Commands acknowledged (successfully) in each second of the window.
    pub served_per_second: Vec<u64>,
    /// What happened during the window, at seconds from its start: checkpoints, autovacuum
    /// runs, a stall's beginning and end. Drawn over the per-second plots.
    pub marks: Vec<(String, f64)>,
    /// Commands that started more than [`LATE_AFTER`] after their intended time.
    pub late_starts: u64,
    /// Commands that started more than [`HARNESS_LATE_AFTER`] after they could have.
    pub harness_late: u64,
    /// Commands that failed.
    pub errors: u64,
    /// Commands whose intended start fell in the window: the offered load.
    pub offered: u64,
    /// Commands acknowledged (successfully) within the window, whenever they were due: the
    /// served load.
    pub served: u64,
    /// Arrivals due in the window that were never sent, because dispatch stopped at
    /// saturation. The open loop sets it; they are in neither histogram nor `offered`.
    pub unsent: u64,
    /// Seconds in the window, to turn counts into rates.
    pub window_s: f64,
}

/// An empty latency histogram in µs, 1 µs to 10 minutes at 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Collects samples whose intended start falls in `[from, until)`, and counts every success
/// acknowledged in that window as served.
pub async fn aggregate(mut samples: mpsc::UnboundedReceiver<Sample>, from: Instant, until: Instant) -> Recorded {
    let mut r = Recorded {
        latency: histogram(),
        service: histogram(),
        started: from,
        intervals: Vec::new(),
        served_per_second: Vec::new(),
        marks: Vec::new(),
        late_starts: 0,
        harness_late: 0,
        errors: 0,
        offered: 0,
        served: 0,
        unsent: 0,
        window_s: until.saturating_duration_since(from).as_secs_f64(),
    };
    while let Some(s) = samples.recv().await {
        if s.ok && s.ended >= from && s.ended < until {
            r.served += 1;
            let second = s.ended.duration_since(from).as_secs() as usize;
            if r.served_per_second.len() <= second {
                r.served_per_second.resize(second + 1, 0);
            }
            r.served_per_second[second] += 1;
        }
        if s.intended < from || s.intended >= until {
            continue;
        }
        r.offered += 1;
        if !s.ok {
            r.errors += 1;
        }
        let latency = s.ended.saturating_duration_since(s.intended).as_micros().max(1) as u64;
        let service = s.ended.saturating_duration_since(s.started).as_micros().max(1) as u64;
        r.latency.saturating_record(latency);
        r.service.saturating_record(service);
        if s.started.saturating_duration_since(s.intended) > LATE_AFTER {
            r.late_starts += 1;
        }
        if s.started.saturating_duration_since(s.ready) > HARNESS_LATE_AFTER {
            r.harness_late += 1;
        }
        let second = s.intended.saturating_duration_since(from).as_secs() as usize;
        while r.intervals.len() <= second {
            r.intervals.push(histogram());
        }
        r.intervals[second].saturating_record(latency);
    }
    r
}

impl Recorded {
    /// Commands due in the window per second: what the schedule offered.
    pub fn offered_per_s(&self) -> f64 {
        (self.offered + self.unsent) as f64 / self.window_s.max(1e-9)
    }

    /// Commands acknowledged in the window per second: what the system served.
    pub fn served_per_s(&self) -> f64 {
        self.served as f64 / self.window_s.max(1e-9)
    }

    /// Late starts as a share of the commands offered in the window (0 when none were): how
    /// far the load generator itself fell behind, comparable between windows of any length.
    pub fn late_start_share(&self) -> f64 {
        if self.offered == 0 {
            0.0
        } else {
            self.late_starts as f64 / self.offered as f64
        }
    }

    /// Arrivals the harness started late ([`HARNESS_LATE_AFTER`]) as a share of
    /// those offered in the window (0 when none were).
    pub fn harness_late_share(&self) -> f64 {
        if self.offered == 0 {
            0.0
        } else {
            self.harness_late as f64 / self.offered as f64
        }
    }

    /// Whether the window measured the harness rather than the store: more than
    /// [`HARNESS_BOUND_SHARE`] of its arrivals started late. Neither pass nor fail.
    pub fn harness_bound(&self) -> bool {
        self.harness_late_share() > HARNESS_BOUND_SHARE
    }

    /// (p50, p99, max) latency in ms per whole minute of the window, from the per-second
    /// histograms; a last partial minute is left out unless it is the only one.
    pub fn per_minute(&self) -> Vec<(f64, f64, f64)> {
        let minutes = (self.intervals.len() / 60).max(usize::from(!self.intervals.is_empty()));
        (0..minutes)
            .map(|m| {
                let mut h = histogram();
                for second in self.intervals.iter().skip(m * 60).take(60) {
                    let _ = h.add(second);
                }
                let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                (ms(0.5), ms(0.99), h.max() as f64 / 1000.0)
            })
            .collect()
    }

    /// A latency percentile in milliseconds.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// Notes `what` happening at `at`, if that falls in the window.
    pub fn mark(&mut self, what: &str, at: Instant) {
        let t = match at.checked_duration_since(self.started) {
            Some(d) => d.as_secs_f64(),
            None => -self.started.duration_since(at).as_secs_f64(),
        };
        if (0.0..=self.window_s).contains(&t) {
            self.marks.push((what.to_string(), t));
        }
    }

    /// Second by second: ("sent", commands due that second and sent), ("served", commands
    /// acknowledged that second), and ("p50" | "p99" | "max", latency in ms of the commands
    /// due that second; seconds with none left out). x is the second's start.
    pub fn per_second(&self) -> Vec<(&'static str, Vec<(f64, f64)>)> {
        let n = (self.window_s.ceil() as usize).max(self.intervals.len());
        let count = |i: usize| self.intervals.get(i).map_or(0, |h| h.len());
        let sent = (0..n).map(|i| (i as f64, count(i) as f64)).collect();
        let served = (0..n).map(|i| (i as f64, self.served_per_second.get(i).copied().unwrap_or(0) as f64)).collect();
        let at = |q: f64| {
            self.intervals
                .iter()
                .enumerate()
                .filter(|(_, h)| !h.is_empty())
                .map(|(i, h)| (i as f64, h.value_at_quantile(q) as f64 / 1000.0))
                .collect()
        };
        vec![("sent", sent), ("served", served), ("p50", at(0.5)), ("p99", at(0.99)), ("max", at(1.0))]
    }

    /// The latency percentile spectrum for plots: (1 / (1 - quantile), ms).
    pub fn spectrum(&self) -> Vec<(f64, f64)> {
        [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999]
            .iter()
            .map(|q| (1.0 / (1.0 - q), self.latency_ms(*q)))
            .collect()
    }

    /// A service-time percentile in milliseconds.
    pub fn service_ms(&self, quantile: f64) -> f64 {
        self.service.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// Writes the per-second latency histograms as an HdrHistogram interval log.
    pub fn write_interval_log(&self, path: &Path, started: SystemTime) -> std::io::Result<()> {
        let mut out = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        {
            let mut log = IntervalLogWriterBuilder::new()
                .add_comment("stroom open-loop latency from intended start, microseconds")
                .with_start_time(started)
                .with_max_value_divisor(1000.0)
                .begin_log_with(&mut out, &mut serializer)?;
            for (i, h) in self.intervals.iter().enumerate() {
                log.write_histogram(h, Duration::from_secs(i as u64), Duration::from_secs(1), None)
                    .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
            }
        }
        std::fs::File::create(path)?.write_all(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_due_while_its_user_was_busy_could_start_only_when_the_one_before_ended() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut turns = Readiness::default();
        // The first command could start when it was due; it ran 40 ms.
        assert_eq!(turns.sample(t0, t0 + ms(1), t0 + ms(40), true).ready, t0);
        // The second was due at 10 ms, while the first still ran: ready at 40 ms.
        assert_eq!(turns.sample(t0 + ms(10), t0 + ms(41), t0 + ms(45), true).ready, t0 + ms(40));
        // The third was due at 60 ms, after the second ended: ready when due.
        assert_eq!(turns.sample(t0 + ms(60), t0 + ms(60), t0 + ms(61), false).ready, t0 + ms(60));
    }

    #[tokio::test]
    async fn latency_runs_from_the_intended_start_and_late_starts_are_counted() {
        let (tx, rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let at = |intended, ready, started, ended, ok| Sample { intended, ready, started, ended, ok };
        // On time: 2 ms of service.
        tx.send(at(t0, t0, t0, t0 + ms(2), true)).unwrap();
        // Started 50 ms late, as soon as its user's command before it finished, then 2 ms of
        // service: late, but the store's doing, not the harness's.
        tx.send(at(t0 + ms(1), t0 + ms(51), t0 + ms(51), t0 + ms(53), true)).unwrap();
        // During warm-up: ignored.
        tx.send(at(t0 - ms(5), t0 - ms(5), t0, t0 + ms(900), true)).unwrap();
        // Its user idle, yet started 2 ms late: the harness's lateness.
        tx.send(at(t0 + ms(3), t0 + ms(3), t0 + ms(5), t0 + ms(6), false)).unwrap();
        drop(tx);
        let r = aggregate(rx, t0, t0 + Duration::from_secs(1)).await;
        // The failure is in the histogram too, at its time to failure.
        assert_eq!((r.latency.len(), r.late_starts, r.errors), (3, 1, 1));
        // One of three started late: a third, far past the 1% that makes it harness-bound.
        assert_eq!(r.harness_late, 1);
        assert!((r.harness_late_share() - 1.0 / 3.0).abs() < 1e-9 && r.harness_bound());
        // Served: the three successes acknowledged in the window, the warm-up's included;
        // offered: the three due in it.
        assert_eq!((r.served, r.offered), (3, 3));
        assert!((r.latency_ms(1.0) - 52.0).abs() < 0.1, "{}", r.latency_ms(1.0));
        assert!((r.service_ms(1.0) - 2.0).abs() < 0.1);
        // Second by second: the same counts, and the slowest command's latency as the max.
        let seconds: std::collections::HashMap<_, _> = r.per_second().into_iter().collect();
        assert_eq!(seconds["sent"], vec![(0.0, 3.0)]);
        assert_eq!(seconds["served"], vec![(0.0, 3.0)]);
        assert!((seconds["max"][0].1 - 52.0).abs() < 0.1, "{:?}", seconds["max"]);
        let mut r = r;
        r.mark("checkpoint", t0 + ms(500));
        r.mark("before", t0 - ms(500));
        r.mark("after", t0 + ms(1500));
        assert_eq!(r.marks, vec![("checkpoint".to_string(), 0.5)]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hlog");
        r.write_interval_log(&path, SystemTime::now()).unwrap();
        assert!(std::fs::read_to_string(path).unwrap().contains("#[StartTime:"));
    }
}

#[cfg(test)]
mod honesty {
    use super::*;

    #[tokio::test]
    async fn a_failed_command_enters_the_histogram_at_its_time_to_failure_and_counts_as_an_error() {
        let (tx, rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        for i in 0..99 {
            tx.send(Sample {
                intended: t0 + ms(i),
                ready: t0 + ms(i),
                started: t0 + ms(i),
                ended: t0 + ms(i + 1),
                ok: true,
            })
            .unwrap();
        }
        // One command failed after 800 ms (a timeout, say).
        tx.send(Sample {
            intended: t0 + ms(100),
            ready: t0 + ms(100),
            started: t0 + ms(100),
            ended: t0 + ms(900),
            ok: false,
        })
        .unwrap();
        drop(tx);
        let r = aggregate(rx, t0, t0 + Duration::from_secs(1)).await;
        assert_eq!(r.errors, 1);
        assert_eq!(r.latency.len(), 100);
        assert!((r.latency_ms(1.0) - 800.0).abs() < 1.0, "max {}", r.latency_ms(1.0));
        assert_eq!(r.served, 99, "a failure is not served");
    }

    #[tokio::test]
    async fn served_throughput_is_what_was_acknowledged_in_the_window_and_never_above_offered() {
        let (tx, rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // 1000 commands due over one second, served ever later: the last third after the window.
        for i in 0..1000u64 {
            let intended = t0 + ms(i);
            let ended = t0 + ms(i + i / 2);
            tx.send(Sample { intended, ready: intended, started: intended, ended, ok: true }).unwrap();
        }
        drop(tx);
        let r = aggregate(rx, t0, t0 + Duration::from_secs(1)).await;
        assert_eq!(r.offered, 1000);
        assert!(r.served < r.offered, "served {} offered {}", r.served, r.offered);
        assert!((r.offered_per_s() - 1000.0).abs() < 1e-6);
        assert!(r.served_per_s() <= r.offered_per_s());
        assert_eq!(r.served, 667);
    }

    #[test]
    fn per_minute_figures_come_from_the_seconds_of_each_minute() {
        let mut intervals = Vec::new();
        for second in 0..120u64 {
            let mut h = histogram();
            h.record(if second == 90 { 400_000 } else { 1_000 }).unwrap();
            intervals.push(h);
        }
        let r = Recorded {
            latency: histogram(),
            service: histogram(),
            started: Instant::now(),
            intervals,
            served_per_second: Vec::new(),
            marks: Vec::new(),
            late_starts: 0,
            harness_late: 0,
            errors: 0,
            offered: 0,
            served: 0,
            unsent: 0,
            window_s: 120.0,
        };
        let m = r.per_minute();
        assert_eq!(m.len(), 2);
        assert!(m[0].2 < 2.0 && m[1].2 > 399.0, "{m:?}");
    }
}
