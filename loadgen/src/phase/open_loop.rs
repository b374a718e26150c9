//! One open-loop window: arrivals on a schedule whatever the system does, latency from each
//! command's intended start. Each stream belongs to one virtual user, so its appends stay in
//! order.
//!
//! Dispatch stops early once the backlog passes five seconds of arrivals at the peak rate
//! (the system is past saturation and the window would only grow a queue); the arrivals still
//! due in the window are then counted as `unsent`, and the step reports that it saturated.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stroom_reference::{Append, Appender};
use tokio::sync::mpsc;

use super::feed::Feed;
use super::schedule::Schedule;
use super::ticker::Ticker;
use crate::figures::{Figure, Figures};
use crate::measure::latency::{aggregate, Readiness, Recorded};
use crate::measure::{HostCpu, LagMeter, Lateness, Way};
use crate::progress::note;
use crate::scenario::{Arrival, Arrivals};

/// Counts failed appends by kind, so a run says what went wrong, not only how often; and
/// holds the failures a test injects into each window (`[inject] errors`).
#[derive(Debug, Clone, Default)]
pub(super) struct Failures(Arc<std::sync::Mutex<BTreeMap<String, (u64, String)>>>, u64);

impl Failures {
    /// Counts failures, and makes `n` commands fail at the start of each window.
    pub(super) fn injecting(n: u64) -> Self {
        Self(Arc::default(), n)
    }

    pub(super) fn add(&self, e: &stroom_reference::Error) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.entry(e.kind()).or_insert_with(|| (0, e.to_string().chars().take(200).collect())).0 += 1;
    }

    pub(super) fn report(&self, strategy: &str) {
        for (n, example) in self.0.lock().unwrap_or_else(|p| p.into_inner()).values() {
            note(format_args!("append {strategy}: {n} appends failed, e.g. {example}"));
        }
    }
}

fn owner(append: &Append, n: usize) -> usize {
    (append.stream.as_u64_pair().1 % n as u64) as usize
}

/// What one window saw.
pub(super) struct Window {
    /// Latency and counts; `unsent` is set.
    pub recorded: Recorded,
    /// Whether dispatch stopped early at saturation.
    pub saturated: bool,
    /// The whole machine's (busy, steal) shares of CPU over the window, where readable.
    pub host: Option<(f64, f64)>,
    /// Where the measured arrivals' starts were late, stage by stage.
    pub lateness: Lateness,
}

/// Dispatches on the `rate` schedule for the warm-up plus the measured window.
pub(super) async fn open_loop(
    appender: &Appender,
    feed: &mut Feed,
    (rate, arrivals, seed): (Arrival, Arrivals, u64),
    users: usize,
    (warmup_s, duration_s): (f64, f64),
    failures: &Failures,
    lag: Option<&LagMeter>,
) -> Window {
    let host = HostCpu::now();
    let start = Instant::now();
    let from = start + Duration::from_secs_f64(warmup_s);
    let until = from + Duration::from_secs_f64(duration_s);
    let (samples_tx, samples_rx) = mpsc::unbounded_channel();
    let aggregator = tokio::spawn(aggregate(samples_rx, from, until));
    let outstanding = Arc::new(AtomicI64::new(0));
    let lateness = Lateness::default();
    let mut queues = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..users {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Append, Way)>();
        queues.push(tx);
        let (appender, samples, outstanding, failures, lag, lateness) = (
            appender.clone(),
            samples_tx.clone(),
            outstanding.clone(),
            failures.clone(),
            lag.cloned(),
            lateness.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // A command due before this user's last one ended waited for the store, not for
            // the harness.
            let mut turns = Readiness::default();
            while let Some((a, way)) = rx.recv().await {
                let intended = way.due;
                let ids: Vec<_> = match &lag {
                    Some(_) if intended >= from => a.events.iter().map(|e| e.id).collect(),
                    _ => Vec::new(),
                };
                let started = Instant::now();
                let result = appender.append(a).await;
                if let Err(e) = &result {
                    failures.add(e);
                }
                let ok = result.is_ok();
                if let (true, Some(lag)) = (ok, &lag) {
                    ids.into_iter().for_each(|id| lag.acked(id));
                }
                let sample = turns.sample(intended, started, Instant::now(), ok);
                if intended >= from {
                    lateness.record(&way, sample.ready, started);
                }
                let _ = samples.send(sample);
                outstanding.fetch_sub(1, Ordering::Relaxed);
            }
        }));
    }
    drop(samples_tx);
    let backlog_limit = (rate.peak() * 5.0).max(100.0) as i64;
    let schedule = Schedule::new(rate, arrivals, (warmup_s, duration_s), seed);
    let mut ticker = Ticker::start(
        schedule.map(move |offset| start + Duration::from_secs_f64(offset)).take_while(move |&t| t < until),
    );
    let mut saturated = false;
    let mut unsent = 0u64;
    let mut to_fail = failures.1;
    while let Some(tick) = ticker.next_tick().await {
        let way = Way { due: tick.due, woke: tick.woke, taken: Instant::now() };
        let intended = tick.due;
        if saturated || outstanding.load(Ordering::Relaxed) > backlog_limit {
            if !saturated {
                ticker.hurry();
            }
            saturated = true;
            unsent += u64::from(intended >= from);
            continue;
        }
        let a = feed.next().await;
        let k = owner(&a, users);
        if to_fail > 0 && intended >= from {
            // The injected failure: the same command at a version the stream never had, which
            // the store rejects, sent first on the same queue so the real one still follows.
            to_fail -= 1;
            let stale = Append { expected_version: a.expected_version + 1_000_000, ..a.clone() };
            outstanding.fetch_add(1, Ordering::Relaxed);
            let _ = queues[k].send((stale, way));
        }
        outstanding.fetch_add(1, Ordering::Relaxed);
        if queues[k].send((a, way)).is_err() {
            break;
        }
    }
    lateness.set_ticker_realtime(ticker.realtime());
    drop(queues);
    for t in tasks {
        let _ = t.await;
    }
    let mut recorded = aggregator.await.expect("aggregator task");
    recorded.unsent = unsent;
    let host = HostCpu::since(host);
    Window { recorded, saturated, host, lateness }
}

/// The arrival rate reached before the first second whose p99 latency broke the SLO; the
/// ramp's top rate when none did (then only a lower bound).
pub(super) fn slo_held_to(r: &Recorded, rate: Arrival, duration_s: f64, slo_ms: f64) -> f64 {
    let broke = r.intervals.iter().position(|h| !h.is_empty() && h.value_at_quantile(0.99) as f64 / 1000.0 > slo_ms);
    match broke {
        Some(second) => rate.rate_at(second as f64, duration_s),
        None => rate.rate_at(duration_s, duration_s),
    }
}

/// The figures of one window under `prefix`. `host` is the machine's (busy, steal) shares over
/// it: shown, and the gate's judge of whether the window measured stroom or the VM's
/// neighbours (`analysis::compare::rule::STEAL_LIMIT`).
pub(crate) fn record_open(
    figures: &mut Figures,
    prefix: &str,
    r: &Recorded,
    saturated: bool,
    host: Option<(f64, f64)>,
) {
    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    let ms = |q| one("ms", r.latency_ms(q));
    figures.insert(format!("{prefix}.p50_ms"), ms(0.5));
    figures.insert(format!("{prefix}.p90_ms"), ms(0.9));
    figures.insert(format!("{prefix}.p99_ms"), ms(0.99));
    figures.insert(format!("{prefix}.p999_ms"), ms(0.999));
    figures.insert(format!("{prefix}.max_ms"), ms(1.0));
    figures.insert(format!("{prefix}.service_p99_ms"), one("ms", r.service_ms(0.99)));
    figures.insert(format!("{prefix}.late_starts"), one("count", r.late_starts as f64));
    figures.insert(format!("{prefix}.late_start_share"), one("share", r.late_start_share()));
    figures.insert(format!("{prefix}.harness_late_share"), one("share", r.harness_late_share()));
    figures.insert(format!("{prefix}.harness_bound"), one("flag", f64::from(u8::from(r.harness_bound()))));
    figures.insert(format!("{prefix}.errors"), one("count", r.errors as f64));
    figures.insert(format!("{prefix}.unsent"), one("count", r.unsent as f64));
    figures.insert(format!("{prefix}.saturated"), one("flag", f64::from(u8::from(saturated))));
    figures.insert(format!("{prefix}.throughput_events_per_s"), one("events/s", r.served_per_s()));
    figures.insert(format!("{prefix}.offered_events_per_s"), one("events/s", r.offered_per_s()));
    if let Some((busy, steal)) = host {
        figures.insert(format!("{prefix}.host_busy_share"), one("share", busy));
        figures.insert(format!("{prefix}.host_steal_share"), one("share", steal));
    }
}

/// Where the window's arrivals started late, stage by stage
/// ([`crate::measure::Lateness`]): `<prefix>.late_<stage>_share` (over the harness's 1 ms) and
/// `<prefix>.late_<stage>_p99_ms`; and `<prefix>.ticker_realtime`, 1 when the arrivals were
/// timed by a thread in the real-time class ([`super::ticker`]), 0 when it was not allowed.
pub(crate) fn record_lateness(figures: &mut Figures, prefix: &str, lateness: &Lateness) {
    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    for (stage, share, p99_ms, _) in lateness.stages() {
        figures.insert(format!("{prefix}.late_{stage}_share"), one("share", share));
        figures.insert(format!("{prefix}.late_{stage}_p99_ms"), one("ms", p99_ms));
    }
    if let Some(realtime) = lateness.ticker_realtime() {
        figures.insert(format!("{prefix}.ticker_realtime"), one("flag", f64::from(u8::from(realtime))));
    }
}

/// The figures of one window that [`worst_of`] takes the worst of across schedules.
pub(crate) const WORST_OF: &[&str] = &[
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "service_p99_ms",
    "late_starts",
    "late_start_share",
    "harness_late_share",
    "harness_bound",
    "errors",
    "unsent",
    "saturated",
    "host_busy_share",
    "host_steal_share",
    "lag_p50_ms",
    "lag_p99_ms",
    "lag_max_ms",
    "lag_unseen",
];

/// Sets `<prefix>.<figure>` to the worst (largest) of `<prefix>.<label>.<figure>` over the
/// schedules' `labels`, for every figure in [`WORST_OF`]: a headline p99 is the worst
/// schedule's, not the first (easiest) one's.
pub(crate) fn worst_of(figures: &mut Figures, prefix: &str, labels: &[String]) {
    for name in WORST_OF {
        let worst = labels
            .iter()
            .filter_map(|l| figures.get(&format!("{prefix}.{l}.{name}")))
            .max_by(|a, b| a.value.total_cmp(&b.value))
            .cloned();
        if let Some(w) = worst {
            figures.insert(format!("{prefix}.{name}"), w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_is_the_worst_schedule_for_every_figure() {
        let mut f = Figures::new();
        let one = |v: f64| Figure::from_repetitions("ms", vec![v]);
        f.insert("append.x.r500.p99_ms".into(), one(4.0));
        f.insert("append.x.r5000.p99_ms".into(), one(80.0));
        f.insert("append.x.r500.late_starts".into(), one(7.0));
        f.insert("append.x.r5000.late_starts".into(), one(2.0));
        f.insert("append.x.r500.saturated".into(), one(0.0));
        f.insert("append.x.r5000.saturated".into(), one(1.0));
        worst_of(&mut f, "append.x", &["r500".into(), "r5000".into()]);
        assert_eq!(f["append.x.p99_ms"].value, 80.0);
        assert_eq!(f["append.x.late_starts"].value, 7.0);
        assert_eq!(f["append.x.saturated"].value, 1.0);
        assert!(!f.contains_key("append.x.max_ms"), "nothing to take the worst of");
    }
}
