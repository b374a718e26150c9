//! `stroom run`: a scenario's phases, in order, against one database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sqlx::Connection;
use stroom_cluster::Database;

use crate::analysis::plan;
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::figures::{Figure, Figures};
use crate::generator::{DayKind, Generator, Summary};
use crate::load::backfill;
use crate::measure::{self, ServerCpu};
use crate::namespace::fresh_store;
use crate::output::result_file::{write_run_dir, RunResult};
use crate::output::{over_time, report_html, report_md};
use crate::phase::{self, generator_config};
use crate::progress::{note, Progress};
use crate::scenario::Scenario;

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The result directory.
    pub dir: PathBuf,
    /// Whether every threshold passed (true when there are none).
    pub passed: bool,
    /// The result.
    pub result: RunResult,
}

/// Runs every phase of `scenario` on `db` and writes `result.json`, `report.md`,
/// `report.html` and interval logs under `results_root/<name>/<timestamp>/`.
pub async fn run(scenario: &Scenario, db: &Database, results_root: &Path) -> Result<Outcome> {
    let started = chrono::Utc::now();
    crate::output::result_file::check_writable(results_root, &scenario.name)?;
    note(format_args!("scenario '{}' on {}", scenario.name, db.describe()));
    // One plain connection first: a refused or misconfigured server fails at once.
    let mut conn = sqlx::PgConnection::connect(db.url()).await.map_err(Error::Connect)?;
    let settings = {
        let rows: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)")
                .bind(stroom_cluster::RECORDED_SETTINGS)
                .fetch_all(&mut conn)
                .await
                .map_err(|source| Error::Database { action: "reading the server's settings", source })?;
        rows.into_iter()
            .map(|(n, s, u)| (n, format!("{s}{}", u.map(|u| format!(" × {u}")).unwrap_or_default())))
            .collect()
    };
    // A server on this machine that stroom did not start: its CPU can still be read.
    let local = match db.cluster() {
        None => ServerCpu::watch_local(&mut conn).await,
        Some(_) => None,
    };
    conn.close().await.ok();
    if let Some(pm) = local {
        note(format_args!("the server runs on this machine (postmaster {pm}): its CPU per event is measured"));
    }
    let profile = db.profile().map(|p| p.name().to_string()).unwrap_or_else(|| "external".into());
    // A soak that takes its rate from a baseline result fails here, before anything runs.
    let soak_rate = match &scenario.soak {
        Some(plan) => {
            let (rate, source) = phase::soak::resolve_rate(plan)?;
            note(format_args!("soak: {rate:.0} events/s ({source})"));
            Some(rate)
        }
        None => None,
    };
    // A peer is fetched before anything runs: without npm the run fails here, in one line.
    let peer_appends = scenario.append.as_ref().is_some_and(|a| a.strategies.iter().any(|s| s.is_peer()));
    let peer_replay = scenario.replay.as_ref().is_some_and(|r| r.modes.iter().any(|m| m == "message-db"));
    let peer_note = if peer_appends || peer_replay { Some(phase::fetch_peer()?.1) } else { None };
    let mut environment = Environment::capture(db.describe(), profile, settings);
    if let Some(cluster) = db.cluster() {
        ServerCpu::watch(cluster.pid());
        note(format_args!("environment: the data directory's filesystem and fsync latency (pg_test_fsync, ~15 s) …"));
        if let Ok(binaries) = stroom_cluster::Binaries::discover() {
            let d = measure::probe_durability(cluster.dir(), &binaries.program("pg_test_fsync"));
            let latency = d.fsync_latency_us.map(|us| format!("{us:.0} µs")).unwrap_or_else(|| "unknown".into());
            note(format_args!("environment: data on {}, 8 kB write + fdatasync {latency}", d.filesystem));
            if !d.durable {
                note(format_args!("the data directory is on {}: \"durable\" figures are not durable", d.filesystem));
            }
            environment.durability = Some(d);
        }
    }
    let mut result = RunResult::new(scenario, started.to_rfc3339(), environment);
    result.notes.extend(crate::slowdown::install(&scenario.inject)?);
    if let Some(n) = peer_note {
        note(format_args!("{n}"));
        result.notes.push(n);
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();

    // Load, or find the history an earlier run left (`[load] reuse`).
    let found = if scenario.load.reuse { crate::reuse::find(db.url(), scenario, 16).await? } else { None };
    let (history, days) = match found {
        Some(found) => {
            note(format_args!("load: {}", found.note));
            result.figures.extend(found.figures);
            result.notes.push(found.note);
            (found.store, found.days)
        }
        None => load_history(scenario, db.url(), cores, &mut result).await?,
    };

    if let Some(plan) = &scenario.calibrate {
        let start_hour = scenario.append.as_ref().map_or(10.0, |a| a.start_hour);
        phase::calibrate::run(db.url(), scenario, &history, plan, start_hour, &mut result.figures).await?;
    }
    if let Some(plan) = &scenario.append {
        let outcome = phase::append::run(db.url(), scenario, plan, &mut result.figures).await?;
        for (strategy, runs) in &outcome.open {
            for (rate, recorded) in runs {
                let label = format!("{strategy} @ {rate}");
                result.series.insert(format!("latency.{label}"), recorded.spectrum());
                let offered = |t: f64| rate.rate_at(t, recorded.window_s);
                over_time::insert(&mut result.series, &label, recorded, Some(&offered));
            }
        }
        files.extend(outcome.logs);
    }
    if let Some(plan) = &scenario.live {
        let outcome = phase::live::run(db.url(), scenario, plan, &mut result.figures).await?;
        for (strategy, recorded) in &outcome.runs {
            let label = format!("live {strategy} @ x{}", plan.speedup);
            result.series.insert(format!("latency.{label}"), recorded.spectrum());
            over_time::insert(&mut result.series, &label, recorded, None);
        }
        files.extend(outcome.logs);
    }
    if let (Some(plan), Some(rate)) = (&scenario.soak, soak_rate) {
        let series = phase::soak::run(db.url(), scenario, plan, rate, &mut result.figures).await?;
        result.series.extend(series);
    }
    if let Some(plan) = &scenario.replay {
        let server = phase::replay_cold::Server { cluster: db.cluster(), url: db.url() };
        phase::replay::run(scenario, plan, &history, days, server, &mut result.figures, &mut result.notes).await?;
        if let Some(standby) = &plan.standby {
            let fold = stroom_reference::read_model::Fold {
                handlers: plan.handlers,
                extra_ns_per_event: plan.extra_ns_per_event,
            };
            let windows = phase::replay_standby::run(
                db.cluster(),
                db.url(),
                scenario,
                standby,
                fold,
                &mut result.figures,
                &mut result.notes,
            )
            .await?;
            for (label, recorded) in &windows {
                result.series.insert(format!("latency.{label}"), recorded.spectrum());
                over_time::insert(&mut result.series, label, recorded, None);
            }
        }
    }
    history.pool().close().await;
    if let (Some(plan), Some(servers)) = (&scenario.migrate, &scenario.servers) {
        let windows =
            phase::migrate::run(db.url(), db.profile(), scenario, (plan, servers), &mut result.figures).await?;
        for (label, recorded) in &windows {
            result.series.insert(format!("latency.{label}"), recorded.spectrum());
            over_time::insert(&mut result.series, label, recorded, None);
        }
    }
    // Last: it kills and restarts the server.
    if let Some(plan) = &scenario.faults {
        phase::faults::run(db.cluster(), db.url(), scenario, plan, &mut result.figures, &mut result.notes).await?;
    }

    let capacity = plan::plan(&result, scenario.slo_p99_ms);
    result.figures.extend(capacity.figures());
    result.plan = capacity.lines.clone();
    result.thresholds = scenario.thresholds.iter().map(|t| t.check(&result.figures)).collect();
    result.complete = true;
    result.finished_at = chrono::Utc::now().to_rfc3339();

    let md = report_md::render(&result);
    files.push(("result.json".into(), serde_json::to_vec_pretty(&result).expect("results serialise")));
    files.push(("report.md".into(), md.clone().into_bytes()));
    files.push(("report.html".into(), report_html::render(&result).into_bytes()));
    let stamp = started.format("%Y%m%dT%H%M%SZ").to_string();
    // The report reaches the screen even if the disk then refuses the files.
    let _ = writeln!(std::io::stdout().lock(), "{md}");
    let dir = write_run_dir(results_root, &scenario.name, &stamp, &files)?;
    note(format_args!("wrote {}", dir.display()));
    for v in result.thresholds.iter().filter(|v| !v.passed) {
        note(format_args!("threshold failed: {} ({})", v.threshold, v.detail));
    }
    Ok(Outcome { dir, passed: result.passed(), result })
}

/// Generates the history and loads it into a fresh store; with `[load] reuse`, marks it for
/// the next run. The store and the days it holds.
async fn load_history(
    scenario: &Scenario,
    url: &str,
    cores: usize,
    result: &mut RunResult,
) -> Result<(stroom_reference::Store, u32)> {
    let history = fresh_store(url, "history", scenario.schema(), 16).await?;
    let mut generator = Generator::new(generator_config(scenario, cores));
    let mut summary = Summary::default();
    let progress = Progress::with_total("load: generating history into the store", scenario.load.events.unwrap_or(0));
    let loaded = backfill(
        &history,
        &mut generator,
        scenario.load.events,
        scenario.load.days,
        None,
        Some(&mut summary),
        Some(&progress),
    )
    .await?;
    progress.done(loaded.events, loaded.elapsed.as_secs_f64());
    generate_figures(scenario, &summary, &loaded, result)?;
    if loaded.events > 0 {
        let bytes = crate::namespace::on_disk_bytes(&history).await?;
        result.figures.insert(
            "load.bytes_per_event".into(),
            Figure::from_repetitions("bytes", vec![bytes / loaded.events as f64]),
        );
    }
    if scenario.load.reuse {
        let figures: Figures = result
            .figures
            .iter()
            .filter(|(k, _)| k.starts_with("load.") || k.starts_with("generate."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        crate::reuse::mark(&history, scenario, loaded.days, &figures).await?;
    }
    Ok((history, loaded.days))
}

fn generate_figures(
    scenario: &Scenario,
    summary: &Summary,
    loaded: &crate::load::Loaded,
    result: &mut RunResult,
) -> Result<()> {
    let f: &mut Figures = &mut result.figures;
    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    f.insert("load.events".into(), one("events", loaded.events as f64));
    f.insert("load.events_per_s".into(), one("events/s", loaded.events as f64 / loaded.elapsed.as_secs_f64()));
    let per_day = if summary.school_days > 0 {
        summary.events_per_school_day()
    } else {
        summary.events as f64 / f64::from(summary.days.max(1))
    };
    f.insert("generate.events_per_day".into(), one("events", per_day));
    f.insert("generate.peak_hour_events_per_s".into(), one("events/s", summary.peak_hour_events_per_s()));
    f.insert("generate.peak_second_events_per_s".into(), one("events/s", summary.peak_second_events_per_s()));
    // The generator on its own, one thread, one school day of this population, three times
    // (a day of a small population takes milliseconds, so one timing would be mostly noise).
    debug_assert_eq!(crate::generator::day_kind(0), DayKind::SchoolDay);
    // Each after one measurement of the fixed fold, the gate's CPU reference.
    let (rates, ratios) = phase::cpu_reference::paired(3, || {
        let mut g = Generator::new(generator_config(scenario, 1));
        let started = Instant::now();
        let n = g.next_day().len();
        Ok(n as f64 / started.elapsed().as_secs_f64())
    })?;
    f.insert("generate.events_per_s".into(), Figure::from_repetitions("events/s", rates));
    f.insert("generate.per_cpu_fold".into(), Figure::from_repetitions("x", ratios));
    result.series.insert(
        "generate.events_per_day".into(),
        summary.per_day.iter().enumerate().map(|(d, n)| (d as f64, *n as f64)).collect(),
    );
    Ok(())
}
