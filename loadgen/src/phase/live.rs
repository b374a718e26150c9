//! The live phase: a window of a simulated school day, replayed as commands on a clock
//! accelerated `speedup` times, through the write side's command path and an append strategy.
//!
//! Day 0's events before the window are bulk-loaded first, so the window starts where a real
//! morning would. Each command is due at its simulated time divided by the speedup; latency
//! runs from that moment (no coordinated omission). Answers load their section test by
//! replaying its stream; that load is timed on its own (`live.<s>.load_p99_ms`).
//!
//! With `project`, a live projector folds the feed beside the commands and the phase reports
//! how long after each acknowledgement its event was in the model (`live.<s>.lag_p99_ms`).
//! With `stall_s`, a transaction is held open that long in another database of the cluster
//! (`stall.rs`); the lag of what was acknowledged from a second before it started until the
//! backlog it left was folded is reported on its own (`live.<s>.stall_lag_max_ms`) and left out
//! of the rest.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use stroom_reference::read_model::Fold;
use stroom_reference::{Appender, CommandHandler, Error as StoreError, TransactorConfig};
use tokio::sync::mpsc;

use super::ticker::Ticker;
use super::{all_schools, generator_config};
use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::generator::{Generator, DAY_SECS, START_UNIX_SECS};
use crate::live::{schedule, LiveCommand, Scheduled};
use crate::measure::latency::{aggregate, Readiness, Recorded};
use crate::measure::{HostCpu, LagMeter, LagWatch};
use crate::namespace::fresh_store;
use crate::progress::{note, Progress};
use crate::scenario::{LivePlan, Scenario};

/// What the phase measured, per strategy, for plots.
#[derive(Debug, Default)]
pub struct LiveOutcome {
    /// (strategy, latency) of each run.
    pub runs: Vec<(String, Recorded)>,
    /// Interval logs, relative to the result directory.
    pub logs: Vec<(String, Vec<u8>)>,
}

/// Runs the phase; figures go into `figures`.
pub async fn run(url: &str, scenario: &Scenario, plan: &LivePlan, figures: &mut Figures) -> Result<LiveOutcome> {
    let mut outcome = LiveOutcome::default();
    let day_start_us = START_UNIX_SECS * 1_000_000;
    let window_start_us = day_start_us + (plan.start_hour * 3600.0 * 1e6) as i64;
    let window_end_us = window_start_us + (plan.hours * 3600.0 * 1e6) as i64;
    debug_assert!(window_end_us <= day_start_us + DAY_SECS * 1_000_000);

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut generator = Generator::new(generator_config(scenario, cores));
    let course: Vec<_> = generator.course_material().iter().map(|e| e.to_stored()).collect();
    let day = generator.next_day();
    let mut before = Vec::new();
    let mut window = Vec::new();
    for (_, events) in day.schools {
        for e in events {
            if e.recorded_at_us < window_start_us {
                before.push(e.to_stored());
            } else if e.recorded_at_us < window_end_us {
                window.push(e);
            }
        }
    }
    window.sort_by_key(|e| e.recorded_at_us);
    let commands = schedule(&window);
    let total_events = commands.len();
    let peak = peak_rate(&commands, plan.speedup);
    note(format_args!(
        "live: {} commands ({total_events} events) from {:02}:00 for {} h at x{}: {:.0} s, peaking at {peak:.0} events/s",
        commands.len(),
        plan.start_hour,
        plan.hours,
        plan.speedup,
        plan.wall_seconds()
    ));
    figures.insert("live.scheduled_events".into(), Figure::from_repetitions("events", vec![total_events as f64]));
    figures.insert("live.peak_events_per_s".into(), Figure::from_repetitions("events/s", vec![peak]));

    for &strategy in &plan.strategies {
        let name = strategy.name();
        let schema = stroom_reference::Schema::new(strategy.layout(), scenario.payload)
            .with_hash_partitions(scenario.hash_partitions);
        // Few connections: on 250 partitions every extra backend warms its own caches, and
        // with 120 of them p99 at x100 went from 32 ms to about 1 s on 2 cores.
        let connections = 16;
        let store = fresh_store(url, &format!("live_{name}"), schema, connections).await?;
        store.add_schools(&all_schools(scenario)).await?;
        store.bulk_load(&course).await?;
        crate::load::bulk_load(&store, &before).await?;
        let appender = Appender::start(strategy, &store, TransactorConfig::default()).await?;
        let handler = CommandHandler::new(store.clone(), appender.clone());

        let lag = match plan.project {
            true => Some(LagWatch::start(&store, Fold::default()).await?),
            false => None,
        };
        let progress = Progress::phase(&format!("live {name}: x{} from {:02}:00", plan.speedup, plan.start_hour));
        let started = SystemTime::now();
        let host = HostCpu::now();
        let stall = match plan.stall_s > 0.0 {
            true => {
                let at = Instant::now() + Duration::from_secs_f64(plan.stall_at_s);
                Some(super::stall::Stall::start(url, at, Duration::from_secs_f64(plan.stall_s))?)
            }
            false => None,
        };
        let meter = lag.as_ref().map(LagWatch::meter);
        let (mut recorded, loads, rejected, saturated) = drive(&handler, &commands, window_start_us, plan, meter).await;
        let host = HostCpu::since(host);
        progress.done(recorded.latency.len(), plan.wall_seconds() - plan.warmup_s);
        let stalled = match stall {
            Some(s) => Some(s.done().await?),
            None => None,
        };
        if let Some((from, to)) = stalled {
            recorded.mark("stall begins", from);
            recorded.mark("stall ends", to);
        }
        if let Some(lag) = lag {
            let lag = lag.stop().await?;
            // What was acknowledged from a second before the stall until the projector had
            // folded everything acknowledged before the stall ended waited on it: the stall
            // itself, then the backlog it left.
            let stalled = stalled.map(|(from, to)| {
                let drained = lag
                    .lags
                    .iter()
                    .filter(|(at, _)| *at <= to)
                    .map(|(at, us)| *at + Duration::from_micros(*us))
                    .max()
                    .unwrap_or(to);
                (from, drained.max(to))
            });
            if let Some((from, to)) = stalled {
                note(format_args!(
                    "live {name}: lag from a second before the stall until its backlog was folded ({:.1} s) is reported as stall_lag_max_ms",
                    (to - from).as_secs_f64() + 1.0
                ));
            }
            let in_stall =
                |at: Instant| stalled.is_some_and(|(from, to)| at + Duration::from_secs(1) >= from && at <= to);
            lag.record_schedule(figures, &format!("live.{name}"), |at| !in_stall(at));
            if stalled.is_some() {
                let max_ms = lag.histogram(in_stall).max() as f64 / 1000.0;
                let figure = Figure::from_repetitions("ms", vec![max_ms]);
                figures.insert(format!("live.{name}.stall_lag_max_ms"), figure.clone());
                if figures.get("project.stall_lag_max_ms").is_none_or(|f| f.value < max_ms) {
                    figures.insert("project.stall_lag_max_ms".into(), figure);
                }
            }
        }
        if saturated {
            note(format_args!("live {name}: the backlog passed five seconds of arrivals; dispatch stopped early"));
        }
        if rejected > 0 {
            note(format_args!("live {name}: {rejected} commands were rejected by their aggregate"));
        }
        record(figures, &format!("live.{name}"), (&recorded, &loads), plan, rejected, (saturated, host));
        let path = std::env::temp_dir().join(format!("stroom-{}-live-{name}.hlog", std::process::id()));
        if recorded.write_interval_log(&path, started).is_ok() {
            outcome.logs.push((format!("hdr/live-{name}.hlog"), std::fs::read(&path).unwrap_or_default()));
            let _ = std::fs::remove_file(&path);
        }
        outcome.runs.push((name.to_string(), recorded));
        appender.stop().await;
        store.pool().close().await;
    }
    Ok(outcome)
}

/// The busiest wall second's scheduled events.
fn peak_rate(commands: &[Scheduled], speedup: f64) -> f64 {
    let Some(first) = commands.first() else { return 0.0 };
    let mut per_second = std::collections::HashMap::<i64, usize>::new();
    for c in commands {
        let wall_s = ((c.due_us - first.due_us) as f64 / 1e6 / speedup) as i64;
        *per_second.entry(wall_s).or_default() += 1;
    }
    per_second.values().copied().max().unwrap_or(0) as f64
}

fn record(
    figures: &mut Figures,
    prefix: &str,
    (r, loads): (&Recorded, &Histogram<u64>),
    plan: &LivePlan,
    rejected: u64,
    (saturated, host): (bool, Option<(f64, f64)>),
) {
    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    let measured_s = plan.wall_seconds() - plan.warmup_s;
    // The open loop's figures (percentiles from the due time, late starts, saturation), then
    // what only commands have.
    super::open_loop::record_open(figures, prefix, r, saturated, host);
    figures.insert(format!("{prefix}.load_p50_ms"), one("ms", loads.value_at_quantile(0.5) as f64 / 1000.0));
    figures.insert(format!("{prefix}.load_p99_ms"), one("ms", loads.value_at_quantile(0.99) as f64 / 1000.0));
    figures.insert(format!("{prefix}.errors"), one("count", r.errors as f64));
    figures.insert(format!("{prefix}.rejected"), one("count", rejected as f64));
    figures.insert(format!("{prefix}.commands_per_s"), one("commands/s", r.served as f64 / measured_s));
}

/// Dispatches every command at its due time; returns the latency record, aggregate load
/// times (µs), commands the aggregate rejected, and whether dispatch gave up on a backlog.
async fn drive(
    handler: &CommandHandler,
    commands: &[Scheduled],
    window_start_us: i64,
    plan: &LivePlan,
    lag: Option<LagMeter>,
) -> (Recorded, Histogram<u64>, u64, bool) {
    let start = Instant::now();
    let from = start + Duration::from_secs_f64(plan.warmup_s);
    let until = start + Duration::from_secs_f64(plan.wall_seconds());
    let (samples_tx, samples_rx) = mpsc::unbounded_channel();
    let aggregator = tokio::spawn(aggregate(samples_rx, from, until));
    let loads = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds")));
    let rejected = Arc::new(AtomicI64::new(0));
    let outstanding = Arc::new(AtomicI64::new(0));
    let mut queues = Vec::with_capacity(plan.users);
    let mut tasks = Vec::with_capacity(plan.users);
    for _ in 0..plan.users {
        let (tx, mut rx) = mpsc::unbounded_channel::<(LiveCommand, Instant)>();
        queues.push(tx);
        let (handler, samples, loads, rejected, outstanding, lag) =
            (handler.clone(), samples_tx.clone(), loads.clone(), rejected.clone(), outstanding.clone(), lag.clone());
        tasks.push(tokio::spawn(async move {
            // This user's turns (see `open_loop`).
            let mut turns = Readiness::default();
            while let Some((command, intended)) = rx.recv().await {
                // The events the command writes, for the lag of the measured ones.
                let ids: Vec<uuid::Uuid> = match (&lag, &command) {
                    (Some(_), LiveCommand::Answer { command, .. }) if intended >= from => vec![command.event_id(0)],
                    (Some(_), LiveCommand::Append(a)) if intended >= from => a.events.iter().map(|e| e.id).collect(),
                    _ => Vec::new(),
                };
                let started = Instant::now();
                let ok = match command {
                    LiveCommand::Answer { school, stream, command, recorded_at_us } => {
                        match handler.answer_question_on(school, stream, &command, recorded_at_us).await {
                            Ok(h) => {
                                if intended >= from {
                                    let us = h.load.as_micros().max(1) as u64;
                                    loads.lock().unwrap_or_else(|p| p.into_inner()).saturating_record(us);
                                }
                                true
                            }
                            Err(StoreError::Rejected { .. }) => {
                                rejected.fetch_add(1, Ordering::Relaxed);
                                false
                            }
                            Err(_) => false,
                        }
                    }
                    LiveCommand::Append(a) => handler.appender().append(a).await.is_ok(),
                };
                if let (true, Some(lag)) = (ok, &lag) {
                    ids.into_iter().for_each(|id| lag.acked(id));
                }
                let _ = samples.send(turns.sample(intended, started, Instant::now(), ok));
                outstanding.fetch_sub(1, Ordering::Relaxed);
            }
        }));
    }
    drop(samples_tx);
    let backlog_limit = (peak_rate(commands, plan.speedup) * 5.0).max(100.0) as i64;
    let mut saturated = false;
    let mut unsent = 0u64;
    let due: Vec<Instant> = commands
        .iter()
        .map(|c| start + Duration::from_secs_f64((c.due_us - window_start_us) as f64 / 1e6 / plan.speedup))
        .take_while(|&t| t < until)
        .collect();
    let mut ticker = Ticker::start(due.into_iter());
    let mut commands = commands.iter();
    while let (Some(intended), Some(c)) = (ticker.next().await, commands.next()) {
        if saturated || outstanding.load(Ordering::Relaxed) > backlog_limit {
            // Past saturation: the commands still due in the window are counted, not sent.
            if !saturated {
                ticker.hurry();
            }
            saturated = true;
            unsent += u64::from(intended >= from);
            continue;
        }
        let k = (c.stream.as_u64_pair().1 % plan.users as u64) as usize;
        outstanding.fetch_add(1, Ordering::Relaxed);
        if queues[k].send((c.command.clone(), intended)).is_err() {
            break;
        }
    }
    drop(queues);
    for t in tasks {
        let _ = t.await;
    }
    let mut recorded = aggregator.await.expect("aggregator task");
    recorded.unsent = unsent;
    let loads = loads.lock().unwrap_or_else(|p| p.into_inner()).clone();
    (recorded, loads, rejected.load(Ordering::Relaxed) as u64, saturated)
}
