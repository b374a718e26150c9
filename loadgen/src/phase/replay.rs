//! The replay phase: rebuild the read model from the loaded history, sequentially and on a
//! sweep of worker counts, repeated; through a peer's read path (`message-db`,
//! `replay_peer.rs`); then the same log from memory, for the fold's ceiling. Every rebuild must
//! give the same digest.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use stroom_reference::read_model::Fold;
use stroom_reference::replay::{self, MemoryLog, Replayed};
use stroom_reference::{Store, StoredEvent};

use super::cpu_reference::paired;
use super::{generator_config, settle};
use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::generator::Generator;
use crate::progress::{note, Progress};
use crate::scenario::{ReplayPlan, Scenario};

/// The in-memory mode holds the log as rows; past this many events it is skipped.
pub const MEMORY_MODE_MAX_EVENTS: u64 = 12_000_000;

/// What the phase measured, for plots and the capacity plan.
#[derive(Debug, Clone, Default)]
pub struct ReplayOutcome {
    /// (threads, events/s, median) for parallel replay from PostgreSQL.
    pub parallel: Vec<(f64, f64)>,
    /// (threads, events/s) for the in-memory replay.
    pub memory: Vec<(f64, f64)>,
    /// Distinct digests seen, with the modes that produced them.
    pub digests: BTreeMap<String, Vec<String>>,
}

/// Runs the phase over `history`, which holds `days` generated days.
pub async fn run(
    scenario: &Scenario,
    plan: &ReplayPlan,
    history: &Store,
    days: u32,
    server: super::replay_cold::Server<'_>,
    figures: &mut Figures,
    notes: &mut Vec<String>,
) -> Result<ReplayOutcome> {
    let fold = Fold { handlers: plan.handlers, extra_ns_per_event: plan.extra_ns_per_event };
    prepare_read(history).await?;
    let total = history.count().await? as u64;
    reset_peak_rss();
    let mut outcome = ReplayOutcome::default();
    let mut best_threads: Option<usize> = None;
    let remember = |outcome: &mut ReplayOutcome, mode: String, r: &Replayed| {
        outcome.digests.entry(r.digest.clone()).or_default().push(mode);
    };

    if plan.modes.iter().any(|m| m == "rill") {
        super::replay_rill::run(plan, (history, server.url), total, fold, &mut outcome, figures).await?;
    }
    if plan.modes.iter().any(|m| m == "sequential") {
        let (mut rates, mut ratios) = (Vec::new(), Vec::new());
        for rep in 1..=plan.repetitions {
            let progress =
                Progress::with_total(&format!("replay sequential, repetition {rep}/{}", plan.repetitions), total);
            let reference = copy_out_rate(history, None, total).await?;
            let counter = Arc::new(AtomicU64::new(0));
            let follow = progress.follow(counter.clone());
            let r = replay::sequential_counted(history, fold, &counter).await?;
            drop(follow);
            progress.done(r.events, r.elapsed.as_secs_f64());
            rates.push(r.events_per_s());
            ratios.push(r.events_per_s() / reference);
            remember(&mut outcome, "sequential".into(), &r);
        }
        figures.insert("replay.sequential.events_per_s".into(), Figure::from_repetitions("events/s", rates));
        figures.insert("replay.sequential.per_copy_out".into(), Figure::from_repetitions("x", ratios));
    }
    if plan.modes.iter().any(|m| m == "parallel") {
        let (mut best, mut best_ratios) = (0.0f64, Vec::new());
        for &threads in &plan.threads {
            let (mut rates, mut ratios) = (Vec::new(), Vec::new());
            for rep in 1..=plan.repetitions {
                let reference = copy_out_rate(history, Some(threads), total).await?;
                let progress = Progress::with_total(
                    &format!("replay parallel on {threads} workers, repetition {rep}/{}", plan.repetitions),
                    total,
                );
                let counter = Arc::new(AtomicU64::new(0));
                let follow = progress.follow(counter.clone());
                let r = replay::parallel_counted(history, fold, threads, counter).await?;
                drop(follow);
                progress.done(r.events, r.elapsed.as_secs_f64());
                rates.push(r.events_per_s());
                ratios.push(r.events_per_s() / reference);
                remember(&mut outcome, format!("parallel t{threads}"), &r);
            }
            let figure = Figure::from_repetitions("events/s", rates);
            if figure.value > best {
                best = figure.value;
                best_ratios = ratios;
                best_threads = Some(threads);
            }
            outcome.parallel.push((threads as f64, figure.value));
            figures.insert(format!("replay.parallel.t{threads}.events_per_s"), figure);
        }
        figures.insert("replay.parallel.events_per_s".into(), Figure::from_repetitions("events/s", vec![best]));
        figures.insert("replay.parallel.per_copy_out".into(), Figure::from_repetitions("x", best_ratios));
    }
    figures.insert("replay.events".into(), Figure::from_repetitions("events", vec![total as f64]));
    figures.insert("replay.peak_rss_mb".into(), Figure::from_repetitions("MB", vec![peak_rss_mb()]));
    if plan.modes.iter().any(|m| m == "message-db") {
        // After the peak RSS is taken: the copy into Message DB generates the history here.
        // On the worker count the parallel replay did best at, else the most the plan names.
        let workers = best_threads.or(plan.threads.iter().copied().max()).unwrap_or(1);
        super::replay_peer::run(
            (scenario, plan),
            (history, server.url),
            (days, total, workers),
            fold,
            &mut outcome,
            figures,
        )
        .await?;
    }

    if plan.modes.iter().any(|m| m == "memory") {
        if total > MEMORY_MODE_MAX_EVENTS {
            note(format_args!("replay memory: skipped, {total} events exceed {MEMORY_MODE_MAX_EVENTS}"));
        } else {
            memory(scenario, plan, fold, days, &mut outcome, figures)?;
        }
    }
    // Last: it restarts the server, and `history`'s connections with it.
    if plan.modes.iter().any(|m| m == "cold") {
        super::replay_cold::run(scenario, plan, server, fold, &mut outcome, figures, notes).await?;
    }
    // Agreement needs two replays at least: one alone agrees with nothing, so the figure is
    // absent rather than a 1 that says nothing.
    let replays: usize = outcome.digests.values().map(Vec::len).sum();
    if replays >= 2 {
        let equal = outcome.digests.len() == 1;
        if !equal {
            note(format_args!("replay: digests differ: {:?}", outcome.digests));
        }
        figures
            .insert("replay.digests_equal".into(), Figure::from_repetitions("flag", vec![f64::from(u8::from(equal))]));
    } else {
        note(format_args!("replay: one replay, so no replay.digests_equal (it needs two to compare)"));
    }
    Ok(outcome)
}

/// What every read of the history is measured after, replays and the COPY out references
/// alike: the history settled (vacuumed, analyzed, checkpointed, so hint bits are set and
/// nothing is dirty) and read once unmeasured, so every measured read finds the same cache.
pub async fn prepare_read(history: &Store) -> Result<()> {
    settle(history).await?;
    let progress = Progress::phase("replay: warming the cache with one unmeasured read of the history");
    let started = std::time::Instant::now();
    history.raw_copy_out().await?;
    progress.done(history.count().await? as u64, started.elapsed().as_secs_f64());
    Ok(())
}

fn memory(
    scenario: &Scenario,
    plan: &ReplayPlan,
    fold: Fold,
    days: u32,
    outcome: &mut ReplayOutcome,
    figures: &mut Figures,
) -> Result<()> {
    let mut generator = Generator::new(generator_config(scenario, 2));
    let mut events: Vec<StoredEvent> = generator.course_material().iter().map(|e| e.to_stored()).collect();
    for _ in 0..days {
        let day = generator.next_day();
        events.extend(day.schools.iter().flat_map(|(_, evs)| evs.iter().map(|e| e.to_stored())));
    }
    let log = MemoryLog::new(events);
    let upcasters = stroom_reference::Upcasters::standard();
    let mut best = 0.0f64;
    let mut best_ratios = Vec::new();
    for &threads in &plan.threads {
        let (rates, ratios) = paired(plan.repetitions, || {
            let r = log.parallel(fold, &upcasters, threads)?;
            outcome.digests.entry(r.digest.clone()).or_default().push(format!("memory t{threads}"));
            Ok(r.events_per_s())
        })?;
        let figure = Figure::from_repetitions("events/s", rates);
        note(format_args!("replay memory on {threads} threads: {:.0} events/s (decode + fold)", figure.value));
        if figure.value > best {
            best = figure.value;
            best_ratios = ratios;
        }
        outcome.memory.push((threads as f64, figure.value));
        figures.insert(format!("replay.memory.t{threads}.events_per_s"), figure);
    }
    figures.insert("replay.memory.events_per_s".into(), Figure::from_repetitions("events/s", vec![best]));
    figures.insert("replay.memory.per_cpu_fold".into(), Figure::from_repetitions("x", best_ratios));

    // The fold alone, on events decoded beforehand: the handlers' own ceiling per thread. A
    // small history folds in milliseconds, where one scheduler tick is most of the figure, so
    // each repetition folds it afresh until at least FOLD_AT_LEAST has passed.
    let decoded = log.decode_all(&upcasters)?;
    let (rates, ratios) = paired(plan.repetitions, || {
        let started = std::time::Instant::now();
        let mut folded = 0usize;
        while folded == 0 || started.elapsed() < FOLD_AT_LEAST {
            let mut model = stroom_reference::read_model::ReadModel::default();
            for e in &decoded {
                fold.apply(&mut model, e);
            }
            std::hint::black_box(&model);
            folded += decoded.len();
        }
        Ok(folded as f64 / started.elapsed().as_secs_f64())
    })?;
    let figure = Figure::from_repetitions("events/s", rates);
    note(format_args!("replay fold alone, 1 thread: {:.0} events/s", figure.value));
    figures.insert("replay.fold.events_per_s".into(), figure);
    figures.insert("replay.fold.per_cpu_fold".into(), Figure::from_repetitions("x", ratios));
    Ok(())
}

/// The least time one repetition of the fold alone takes.
const FOLD_AT_LEAST: std::time::Duration = std::time::Duration::from_millis(250);

/// One raw COPY out of `history` just before a replay repetition, read as that replay reads
/// it (by school on `threads` connections, or in global order on one): its events/s are the
/// reference the repetition is divided by (`…per_copy_out`), taken seconds, not minutes, apart.
pub(super) async fn copy_out_rate(history: &Store, threads: Option<usize>, total: u64) -> Result<f64> {
    let started = std::time::Instant::now();
    match threads {
        Some(k) => stroom_reference::replay::copy_out_parallel(history, k).await?,
        None => history.raw_copy_out().await?,
    };
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Resets the peak-RSS mark, so `replay.peak_rss_mb` covers the replays, not the load phase
/// before them (Linux 4.0+; elsewhere the mark keeps the whole run's peak).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory of this process since the last reset (VmHWM), in MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
