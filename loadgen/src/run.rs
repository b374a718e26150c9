//! `stroom run`: a scenario's phases, in order, against one database.

use std::path::{Path, PathBuf};

use sqlx::postgres::PgPoolOptions;
use sqlx::Connection;
use stroom_cluster::Database;
use stroom_reference::{Schema, School, Store};

use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::progress::{note, Progress};
use crate::result_file::{write_run_dir, RunResult};
use crate::scenario::Scenario;
use crate::{calibrate, report_md, synthetic};
use std::io::Write;

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

/// Runs every phase of `scenario` on `db` and writes `result.json` and `report.md` under
/// `results_root/<name>/<timestamp>/`.
pub async fn run(scenario: &Scenario, db: &Database, results_root: &Path) -> Result<Outcome> {
    let started = chrono::Utc::now();
    note(format_args!("scenario '{}' on {}", scenario.name, db.describe()));
    // One plain connection first: a refused or misconfigured server fails at once instead of
    // after the pool's acquire timeout.
    sqlx::PgConnection::connect(db.url()).await.map_err(Error::Connect)?.close().await.ok();
    let pool = PgPoolOptions::new().max_connections(32).connect(db.url()).await.map_err(Error::Connect)?;
    let settings = stroom_cluster::effective_settings(&pool).await?;
    let profile = db.profile().map(|p| p.name().to_string()).unwrap_or_else(|| "external".into());
    let environment = Environment::capture(db.describe(), profile, settings);
    let mut result = RunResult::new(scenario, started.to_rfc3339(), environment);

    let store = Store::install(pool, Schema { layout: scenario.layout, payload: scenario.payload }).await?;
    let schools: Vec<School> = (1..=scenario.schools as School).collect();
    store.add_schools(&schools).await?;

    let progress = Progress::phase(&format!("generating {} stand-in events", scenario.events));
    let t = std::time::Instant::now();
    let rows = synthetic::events(scenario.seed, scenario.schools, scenario.events);
    progress.done(scenario.events, t.elapsed().as_secs_f64());

    if let Some(plan) = &scenario.calibrate {
        calibrate::run(&store, &rows, plan, &mut result.figures).await?;
    }
    let stored = store.count().await?;
    if scenario.calibrate.is_some() && stored != rows.len() as i64 {
        return Err(Error::Database {
            action: "checking the calibrated rows",
            source: sqlx::Error::Protocol(format!("{stored} rows stored, {} copied", rows.len())),
        });
    }

    let finished = chrono::Utc::now();
    result.finished_at = finished.to_rfc3339();
    let json = serde_json::to_string_pretty(&result).expect("results serialise");
    let md = report_md::render(&result);
    let stamp = started.format("%Y%m%dT%H%M%SZ").to_string();
    let dir = write_run_dir(results_root, &scenario.name, &stamp, &[("result.json", json), ("report.md", md.clone())])?;
    let _ = writeln!(std::io::stdout().lock(), "{md}");
    note(format_args!("wrote {}", dir.display()));
    Ok(Outcome { dir, passed: true, result })
}
