//! The soak phase: one strategy's open-loop appends (Poisson arrivals, from the busiest hour)
//! at a steady rate for many minutes. Nothing is settled inside the window: checkpoints and
//! autovacuum run as they would in production, and the figures per minute show what they
//! cost. Before the window the store is emptied, loaded with the first day up to 10:00 and
//! settled, as before every append step.

use std::path::Path;

use stroom_reference::{Appender, Schema, Strategy, TransactorConfig};

use super::append::load_until;
use super::feed::{Feed, LOW_WATER_LONG};
use super::open_loop::{open_loop, record_lateness, record_open, Failures, Window};
use super::{all_schools, generator_config};
use crate::error::{Error, Result};
use crate::figures::{Figure, Figures};
use crate::measure::ActivityWatch;
use crate::namespace::fresh_store;
use crate::output::result_file::RunResult;
use crate::progress::{note, Progress};
use crate::scenario::{Arrival, Arrivals, Scenario, SoakPlan, SoakRate};

/// The hour of the first day the soak starts at.
const START_HOUR: f64 = 10.0;

/// Plot series a soak adds to the result: per-minute latency and the checkpoints and autovacuum
/// runs, in minutes from the start of the window.
pub type Series = Vec<(String, Vec<(f64, f64)>)>;

/// The offered rate and where it came from; fails, before anything runs, when a baseline
/// share is asked for and no baseline result has the figure.
pub fn resolve_rate(plan: &SoakPlan) -> Result<(f64, String)> {
    match &plan.rate {
        SoakRate::Fixed(rate) => Ok((*rate, "set in the scenario".into())),
        SoakRate::ShareOfBaseline { share, from } => {
            let figure = format!("append.{}.slo_rate_events_per_s", plan.strategy.name());
            let (file, slo) = newest_with(from, &figure).ok_or_else(|| Error::ReadResult {
                path: from.clone(),
                reason: format!(
                    "no result here has {figure}: run `stroom run scenarios/baseline.toml` first, or set soak.rate"
                ),
            })?;
            Ok((share * slo, format!("{share} × {slo:.0} events/s, {figure} in {}", file.display())))
        }
    }
}

/// The newest result file under `from` (or `from` itself) with `figure` above 0.
fn newest_with(from: &Path, figure: &str) -> Option<(std::path::PathBuf, f64)> {
    let mut files: Vec<std::path::PathBuf> = if from.is_file() {
        vec![from.to_path_buf()]
    } else {
        std::fs::read_dir(from).ok()?.flatten().map(|e| e.path().join("result.json")).filter(|p| p.is_file()).collect()
    };
    // Run directories are named by their UTC start time, so the newest sorts last.
    files.sort();
    files.into_iter().rev().find_map(|f| {
        let r: RunResult = serde_json::from_slice(&std::fs::read(&f).ok()?).ok()?;
        let v = r.figures.get(figure)?.value;
        (v > 0.0).then_some((f, v))
    })
}

/// Runs the soak at `rate` events/s; figures go into `figures`, plot series are returned.
pub async fn run(url: &str, scenario: &Scenario, plan: &SoakPlan, rate: f64, figures: &mut Figures) -> Result<Series> {
    let strategy = plan.strategy;
    let name = strategy.name();
    let schema = Schema::new(strategy.layout(), scenario.payload).with_hash_partitions(scenario.hash_partitions);
    // As in the append phase: a connection per user for the one-by-one strategies, a few shared
    // ones for the group-committing strategies.
    let connections = match strategy {
        Strategy::Rill | Strategy::Single => 90,
        Strategy::Batched | Strategy::PerSchool | Strategy::MessageDb => 16,
    };
    let store = fresh_store(url, "soak", schema, connections).await?;
    store.add_schools(&all_schools(scenario)).await?;
    let mut feed = Feed::start_with(generator_config(scenario, 1), START_HOUR, LOW_WATER_LONG);
    load_until(strategy, &store, &mut feed, START_HOUR).await?;
    let appender = Appender::start(strategy, &store, TransactorConfig::default()).await?;
    feed.ready().await;
    let window_s = plan.minutes * 60.0;
    let before = store.count().await?;
    let progress = Progress::phase(&format!(
        "soak {name}: {rate:.0} events/s offered for {} min, nothing settled inside the window",
        plan.minutes
    ));
    let watch = ActivityWatch::start(store.pool().clone());
    let failures = Failures::default();
    let Window { recorded, saturated, host, lateness } = open_loop(
        &appender,
        &mut feed,
        (Arrival::Constant(rate), Arrivals::Poisson, scenario.seed),
        plan.users,
        (plan.warmup_s, window_s),
        &failures,
        None,
    )
    .await;
    let activity = watch.stop().await;
    progress.done(recorded.served, window_s);
    drop(feed);
    appender.stop().await;
    let written = (store.count().await? - before).max(0) as f64;
    store.pool().close().await;
    failures.report(name);

    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    figures.insert("soak.rate_events_per_s".into(), one("events/s", rate));
    record_open(figures, "soak", &recorded, saturated, host);
    record_lateness(figures, "soak", &lateness);
    let minutes = recorded.per_minute();
    let mut series: Series = vec![
        ("soak.p50_per_minute".into(), Vec::new()),
        ("soak.p99_per_minute".into(), Vec::new()),
        ("soak.max_per_minute".into(), Vec::new()),
    ];
    for (i, (p50, p99, max)) in minutes.iter().enumerate() {
        figures.insert(format!("soak.m{}.p50_ms", i + 1), one("ms", *p50));
        figures.insert(format!("soak.m{}.p99_ms", i + 1), one("ms", *p99));
        figures.insert(format!("soak.m{}.max_ms", i + 1), one("ms", *max));
        let m = (i + 1) as f64;
        series[0].1.push((m, *p50));
        series[1].1.push((m, *p99));
        series[2].1.push((m, *max));
    }
    let worst = minutes.iter().map(|m| m.1).fold(0.0, f64::max);
    figures.insert("soak.worst_minute_p99_ms".into(), one("ms", worst));
    // Only what fell inside the measured window, in minutes from its start.
    let inside = |at: &[f64]| -> Vec<f64> {
        at.iter().map(|t| (t - plan.warmup_s) / 60.0).filter(|m| (0.0..=plan.minutes).contains(m)).collect()
    };
    let (checkpoints, autovacuums) = (inside(&activity.checkpoints_at), inside(&activity.autovacuums_at));
    figures.insert("soak.checkpoints".into(), one("count", checkpoints.len() as f64));
    figures.insert("soak.autovacuums".into(), one("count", autovacuums.len() as f64));
    if written > 0.0 && activity.known {
        figures.insert("soak.wal_bytes_per_event".into(), one("bytes", activity.wal_bytes / written));
    }
    series.push(("soak.checkpoints".into(), checkpoints.iter().map(|m| (*m, 0.0)).collect()));
    series.push(("soak.autovacuums".into(), autovacuums.iter().map(|m| (*m, 0.0)).collect()));
    note(format_args!(
        "soak {name}: worst minute p99 {worst:.1} ms; {} checkpoints and {} autovacuum runs inside the window{}",
        checkpoints.len(),
        autovacuums.len(),
        if saturated { "; SATURATED" } else { "" }
    ));
    Ok(series)
}
