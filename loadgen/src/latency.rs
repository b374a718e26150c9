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

/// One command's timing.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When the schedule said it should start.
    pub intended: Instant,
    /// When it was actually sent.
    pub started: Instant,
    /// When it was acknowledged (or failed).
    pub ended: Instant,
    /// Whether it succeeded.
    pub ok: bool,
}

/// What the aggregator saw, measured samples only.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Latency from intended start, in µs.
    pub latency: Histogram<u64>,
    /// Service time from actual start, in µs.
    pub service: Histogram<u64>,
    /// Latency per one-second interval from the measurement start, in µs.
    pub intervals: Vec<Histogram<u64>>,
    /// Commands that started more than [`LATE_AFTER`] after their intended time.
    pub late_starts: u64,
    /// Commands that failed.
    pub errors: u64,
}

/// An empty latency histogram in µs, 1 µs to 10 minutes at 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Collects samples whose intended start falls in `[from, until)`.
pub async fn aggregate(mut samples: mpsc::UnboundedReceiver<Sample>, from: Instant, until: Instant) -> Recorded {
    let mut r =
        Recorded { latency: histogram(), service: histogram(), intervals: Vec::new(), late_starts: 0, errors: 0 };
    while let Some(s) = samples.recv().await {
        if s.intended < from || s.intended >= until {
            continue;
        }
        if !s.ok {
            r.errors += 1;
            continue;
        }
        let latency = s.ended.saturating_duration_since(s.intended).as_micros().max(1) as u64;
        let service = s.ended.saturating_duration_since(s.started).as_micros().max(1) as u64;
        r.latency.saturating_record(latency);
        r.service.saturating_record(service);
        if s.started.saturating_duration_since(s.intended) > LATE_AFTER {
            r.late_starts += 1;
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
    /// A latency percentile in milliseconds.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
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

    #[tokio::test]
    async fn latency_runs_from_the_intended_start_and_late_starts_are_counted() {
        let (tx, rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // On time: 2 ms of service.
        tx.send(Sample { intended: t0, started: t0, ended: t0 + ms(2), ok: true }).unwrap();
        // Started 50 ms late (queued behind others), then 2 ms of service.
        tx.send(Sample { intended: t0 + ms(1), started: t0 + ms(51), ended: t0 + ms(53), ok: true }).unwrap();
        // During warm-up: ignored.
        tx.send(Sample { intended: t0 - ms(5), started: t0, ended: t0 + ms(900), ok: true }).unwrap();
        tx.send(Sample { intended: t0 + ms(3), started: t0 + ms(3), ended: t0 + ms(4), ok: false }).unwrap();
        drop(tx);
        let r = aggregate(rx, t0, t0 + Duration::from_secs(1)).await;
        assert_eq!((r.latency.len(), r.late_starts, r.errors), (2, 1, 1));
        assert!((r.latency_ms(1.0) - 52.0).abs() < 0.1, "{}", r.latency_ms(1.0));
        assert!((r.service_ms(1.0) - 2.0).abs() < 0.1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hlog");
        r.write_interval_log(&path, SystemTime::now()).unwrap();
        assert!(std::fs::read_to_string(path).unwrap().contains("#[StartTime:"));
    }
}
