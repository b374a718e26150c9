//! The append phase: every strategy in a store of its own, fed the same generated events.
//! Every measured step starts on an empty store, with the generator back at its first day.
//!
//! * Closed loop: up to C appends in flight, a new one as soon as one is acknowledged; the
//!   figure is the acknowledged events per second over the measured window, warm-up excluded.
//!   A stream's appends wait behind each other, so they stay in order (`closed_loop.rs`).
//! * Open loop: commands arrive at a constant rate whatever the system does; latency runs
//!   from each command's intended start, so a slow system cannot hide its queueing. Each
//!   stream belongs to one virtual user, so its appends stay in order. A schedule may start
//!   later in the day (`start_hour`), on a store bulk-loaded with the day up to then.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use stroom_reference::{Append, Appender, Schema, Store, Strategy, TransactorConfig};
use tokio::sync::mpsc;

use super::closed_loop::closed_loop;
use super::feed::Feed;
use super::{all_schools, generator_config, settle};
use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::latency::{aggregate, Recorded, Sample};
use crate::namespace::fresh_store;
use crate::progress::{note, Progress};
use crate::scenario::{AppendPlan, Arrival, Scenario};

/// What the phase measured, for plots and the capacity plan.
#[derive(Debug, Clone, Default)]
pub struct AppendOutcome {
    /// Closed loop: (writers, events/s) per strategy.
    pub throughput: BTreeMap<String, Vec<(f64, f64)>>,
    /// Open loop: (schedule, latency) per strategy.
    pub open: BTreeMap<String, Vec<(Arrival, Recorded)>>,
    /// Interval logs written, relative to the result directory.
    pub logs: Vec<(String, Vec<u8>)>,
}

/// Runs the phase; figures go into `figures`.
pub async fn run(url: &str, scenario: &Scenario, plan: &AppendPlan, figures: &mut Figures) -> Result<AppendOutcome> {
    let mut outcome = AppendOutcome::default();
    let schools = all_schools(scenario);
    for &strategy in &plan.strategies {
        let name = strategy.name();
        let sweep = plan.writers_for(strategy);
        let max_writers = sweep.iter().copied().max().unwrap_or(1).max(plan.open_users);
        let schema = Schema::new(strategy.layout(), scenario.payload).with_hash_partitions(scenario.hash_partitions);
        // rill and single hold a connection per writer; transactors share a few, since every
        // extra backend warms its own caches of partitions and shared buffers.
        let connections = match strategy {
            Strategy::Rill | Strategy::Single => (max_writers as u32 + 8).clamp(8, 120),
            Strategy::Batched | Strategy::PerSchool => 16,
        };
        let store = fresh_store(url, &format!("append_{name}"), schema, connections).await?;
        store.add_schools(&schools).await?;
        let config = TransactorConfig {
            writer: plan.row_writer,
            lane_writer: plan.lane_writer,
            commit_lanes: plan.commit_lanes,
            ..TransactorConfig::default()
        };
        let mut running: Option<(Appender, Feed)> = None;
        let mut best: Option<Figure> = None;
        let mut errors = 0u64;
        let failures = Failures::default();
        for &writers in sweep {
            let (mut rates, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
            for rep in 1..=plan.repetitions {
                let (appender, feed) = restart(strategy, &store, &config, scenario, 0.0, &mut running).await?;
                let progress = Progress::phase(&format!(
                    "append {name}: closed loop, {writers} writers, repetition {rep}/{}",
                    plan.repetitions
                ));
                let step = closed_loop(appender, feed, writers, plan.warmup_s, plan.duration_s, &failures).await;
                progress.done(step.events, plan.duration_s);
                rates.push(step.events as f64 / plan.duration_s);
                p50.push(step.latency_ms(0.5));
                p99.push(step.latency_ms(0.99));
                errors += step.failed;
            }
            figures.insert(format!("append.{name}.c{writers}.p50_ms"), Figure::from_repetitions("ms", p50));
            figures.insert(format!("append.{name}.c{writers}.p99_ms"), Figure::from_repetitions("ms", p99));
            let figure = Figure::from_repetitions("events/s", rates);
            outcome.throughput.entry(name.to_string()).or_default().push((writers as f64, figure.value));
            if best.as_ref().is_none_or(|b| figure.value > b.value) {
                best = Some(figure.clone());
            }
            figures.insert(format!("append.{name}.c{writers}.events_per_s"), figure);
        }
        if let Some(best) = best {
            // The best writer count's repetitions, so its spread travels with the headline.
            figures.insert(format!("append.{name}.events_per_s"), best);
        }

        if plan.open_strategies.contains(&strategy) {
            for (i, &rate) in plan.open_rates.iter().enumerate() {
                let label = rate.label();
                let (appender, feed) =
                    restart(strategy, &store, &config, scenario, plan.open_start_hour, &mut running).await?;
                let progress = Progress::phase(&format!("append {name}: open loop, {rate}"));
                let started = SystemTime::now();
                let (recorded, saturated) =
                    open_loop(appender, feed, rate, plan.open_users, (plan.warmup_s, plan.open_duration_s), &failures)
                        .await;
                progress.done(recorded.latency.len(), plan.open_duration_s);
                if saturated {
                    note(format_args!("append {name}: {rate} is past saturation; dispatch stopped early"));
                }
                errors += recorded.errors;
                let prefix = format!("append.{name}.{label}");
                record_open(figures, &prefix, &recorded, plan.open_duration_s, saturated);
                if let Arrival::Ramp { .. } = rate {
                    let held = slo_held_to(&recorded, rate, plan.open_duration_s, scenario.slo_p99_ms);
                    figures.insert(
                        format!("{prefix}.slo_held_to_events_per_s"),
                        Figure::from_repetitions("events/s", vec![held]),
                    );
                }
                if i == 0 {
                    record_open(figures, &format!("append.{name}"), &recorded, plan.open_duration_s, saturated);
                }
                let mut log = Vec::new();
                let path = std::env::temp_dir().join(format!("stroom-{}-{name}-{label}.hlog", std::process::id()));
                if recorded.write_interval_log(&path, started).is_ok() {
                    log = std::fs::read(&path).unwrap_or_default();
                    let _ = std::fs::remove_file(&path);
                }
                outcome.logs.push((format!("hdr/{name}-{label}.hlog"), log));
                outcome.open.entry(name.to_string()).or_default().push((rate, recorded));
            }
        }
        failures.report(name);
        figures.insert(format!("append.{name}.errors"), Figure::from_repetitions("count", vec![errors as f64]));
        stop(running).await;
        store.pool().close().await;
    }
    Ok(outcome)
}

/// Stops what `running` holds, empties the store and starts the strategy and the generator
/// over. Every measured step so begins where the COPY reference does, on an empty store, and
/// is fed the same events: a step's figure does not depend on which steps ran before it.
/// (Before, the per-school store grew by millions of events over the sweep, and its best step
/// ran on deeper indexes than the COPY reference: 63.8k events/s there, against 76–84k for
/// the same step alone.) With `from_hour` above 0 (the open loop's `start_hour`), the first
/// day's events before that hour are bulk-loaded, and the appends start there.
async fn restart<'a>(
    strategy: Strategy,
    store: &Store,
    config: &TransactorConfig,
    scenario: &Scenario,
    from_hour: f64,
    running: &'a mut Option<(Appender, Feed)>,
) -> Result<&'a mut (Appender, Feed)> {
    stop(running.take()).await;
    // The first day generates while the store empties and settles.
    let mut feed = Feed::start_at(generator_config(scenario, 1), from_hour);
    store.truncate().await?;
    let earlier = feed.earlier().await;
    if !earlier.is_empty() {
        note(format_args!(
            "append {}: loading the {} events before {from_hour:02}:00 …",
            strategy.name(),
            earlier.len()
        ));
        crate::load::bulk_load(store, &earlier).await?;
    }
    settle(store).await?;
    let appender = Appender::start(strategy, store, config.clone()).await?;
    feed.ready().await;
    Ok(running.insert((appender, feed)))
}

/// Stops what `running` holds: the feed first, so its thread stops making appends.
async fn stop(running: Option<(Appender, Feed)>) {
    if let Some((appender, feed)) = running {
        drop(feed);
        appender.stop().await;
    }
}

/// The arrival rate reached before the first second whose p99 latency broke the SLO; the
/// ramp's top rate when none did (then only a lower bound).
fn slo_held_to(r: &Recorded, rate: Arrival, duration_s: f64, slo_ms: f64) -> f64 {
    let broke = r.intervals.iter().position(|h| !h.is_empty() && h.value_at_quantile(0.99) as f64 / 1000.0 > slo_ms);
    match broke {
        Some(second) => rate.rate_at(second as f64, duration_s),
        None => rate.rate_at(duration_s, duration_s),
    }
}

pub(super) fn record_open(figures: &mut Figures, prefix: &str, r: &Recorded, duration_s: f64, saturated: bool) {
    let ms = |q| Figure::from_repetitions("ms", vec![r.latency_ms(q)]);
    figures.insert(format!("{prefix}.p50_ms"), ms(0.5));
    figures.insert(format!("{prefix}.p90_ms"), ms(0.9));
    figures.insert(format!("{prefix}.p99_ms"), ms(0.99));
    figures.insert(format!("{prefix}.p999_ms"), ms(0.999));
    figures.insert(format!("{prefix}.max_ms"), ms(1.0));
    figures.insert(format!("{prefix}.service_p99_ms"), Figure::from_repetitions("ms", vec![r.service_ms(0.99)]));
    figures.insert(format!("{prefix}.late_starts"), Figure::from_repetitions("count", vec![r.late_starts as f64]));
    figures
        .insert(format!("{prefix}.saturated"), Figure::from_repetitions("flag", vec![f64::from(u8::from(saturated))]));
    figures.insert(
        format!("{prefix}.throughput_events_per_s"),
        Figure::from_repetitions("events/s", vec![r.latency.len() as f64 / duration_s]),
    );
}

/// Counts failed appends by kind, so a run says what went wrong, not only how often.
#[derive(Debug, Clone, Default)]
pub(super) struct Failures(Arc<std::sync::Mutex<BTreeMap<String, (u64, String)>>>);

impl Failures {
    pub(super) fn add(&self, e: &stroom_reference::Error) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.entry(e.kind()).or_insert_with(|| (0, e.to_string().chars().take(200).collect())).0 += 1;
    }

    fn report(&self, strategy: &str) {
        for (n, example) in self.0.lock().unwrap_or_else(|p| p.into_inner()).values() {
            note(format_args!("append {strategy}: {n} appends failed, e.g. {example}"));
        }
    }
}

fn owner(append: &Append, n: usize) -> usize {
    (append.stream.as_u64_pair().1 % n as u64) as usize
}

/// Dispatches on the `rate` schedule for the warm-up plus the measured window. Returns the
/// recorded samples and whether dispatch stopped early because the backlog grew past five
/// seconds of arrivals at the peak rate.
async fn open_loop(
    appender: &Appender,
    feed: &mut Feed,
    rate: Arrival,
    users: usize,
    (warmup_s, duration_s): (f64, f64),
    failures: &Failures,
) -> (Recorded, bool) {
    let start = Instant::now();
    let from = start + Duration::from_secs_f64(warmup_s);
    let until = from + Duration::from_secs_f64(duration_s);
    let (samples_tx, samples_rx) = mpsc::unbounded_channel();
    let aggregator = tokio::spawn(aggregate(samples_rx, from, until));
    let outstanding = Arc::new(AtomicI64::new(0));
    let mut queues = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..users {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Append, Instant)>();
        queues.push(tx);
        let (appender, samples, outstanding, failures) =
            (appender.clone(), samples_tx.clone(), outstanding.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            while let Some((a, intended)) = rx.recv().await {
                let started = Instant::now();
                let result = appender.append(a).await;
                if let Err(e) = &result {
                    failures.add(e);
                }
                let ok = result.is_ok();
                let _ = samples.send(Sample { intended, started, ended: Instant::now(), ok });
                outstanding.fetch_sub(1, Ordering::Relaxed);
            }
        }));
    }
    drop(samples_tx);
    let backlog_limit = (rate.peak() * 5.0).max(100.0) as i64;
    let mut saturated = false;
    for i in 0u64.. {
        let intended = start + Duration::from_secs_f64(rate.offset(i, warmup_s, duration_s));
        if intended >= until {
            break;
        }
        if outstanding.load(Ordering::Relaxed) > backlog_limit {
            saturated = true;
            break;
        }
        tokio::time::sleep_until(intended.into()).await;
        let a = feed.next().await;
        let k = owner(&a, users);
        outstanding.fetch_add(1, Ordering::Relaxed);
        if queues[k].send((a, intended)).is_err() {
            break;
        }
    }
    drop(queues);
    for t in tasks {
        let _ = t.await;
    }
    (aggregator.await.expect("aggregator task"), saturated)
}
