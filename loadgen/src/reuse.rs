//! `[load] reuse = true`: a history loaded once and used again. A large log (100M events) takes
//! longer to load than to measure, so a run that finds the history an earlier run left, of
//! the same seed, population, size and store, uses it as it is.
//!
//! The earlier run leaves a marker row in the history's namespace once the load has finished:
//! the spec it loaded, the days it holds, the figures the load measured, and the commit and
//! time of the load. A run that fails mid-load leaves no marker, so the next run loads afresh.
//! The result of a run that reuses says so in its notes, naming the load's commit.

use sqlx::Connection;

use crate::error::{Error, Result};
use crate::figures::Figures;
use crate::namespace::open_store;
use crate::scenario::Scenario;

const NAMESPACE: &str = "stroom_history";

/// A history found from an earlier run.
#[derive(Debug)]
pub struct Found {
    /// The store, open.
    pub store: stroom_reference::Store,
    /// Simulated days it holds.
    pub days: u32,
    /// The load's figures (`load.*`, `generate.*`), as the loading run measured them.
    pub figures: Figures,
    /// One sentence for the result's notes.
    pub note: String,
}

/// What must match for a history to be reused.
fn spec(scenario: &Scenario) -> String {
    let v = serde_json::to_value(scenario).unwrap_or_default();
    let pick = |k: &str| v.get(k).cloned().unwrap_or_default();
    let load = serde_json::json!({ "events": scenario.load.events, "days": scenario.load.days });
    serde_json::json!({
        "seed": pick("seed"),
        "population": pick("population"),
        "load": load,
        "layout": pick("layout"),
        "payload": pick("payload"),
        "hash_partitions": pick("hash_partitions"),
    })
    .to_string()
}

/// The history an earlier run left for `scenario`, if there is one.
pub async fn find(url: &str, scenario: &Scenario, connections: u32) -> Result<Option<Found>> {
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(Error::Connect)?;
    let exists: Option<String> = sqlx::query_scalar(&format!("SELECT to_regclass('{NAMESPACE}.stroom_loaded')::text"))
        .fetch_one(&mut conn)
        .await
        .map_err(|source| Error::Database { action: "looking for a kept history", source })?;
    if exists.is_none() {
        return Ok(None);
    }
    let row: Option<(String, i32, serde_json::Value, String, String)> = sqlx::query_as(&format!(
        "SELECT spec, days, figures, git_commit, loaded_at::text FROM {NAMESPACE}.stroom_loaded LIMIT 1"
    ))
    .fetch_optional(&mut conn)
    .await
    .map_err(|source| Error::Database { action: "reading the kept history's marker", source })?;
    conn.close().await.ok();
    let Some((_, days, figures, commit, at)) = row.filter(|r| r.0 == spec(scenario)) else {
        return Ok(None);
    };
    let figures: Figures =
        serde_json::from_value(figures).map_err(|e| Error::Reuse(format!("its marker has unreadable figures: {e}")))?;
    let store = open_store(url, "history", scenario.schema(), connections).await?;
    let events = store.count().await?;
    let note = format!(
        "history reused: {events} events over {days} days, loaded at {at} by commit {commit}; its load.* and generate.* figures are that run's"
    );
    Ok(Some(Found { store, days: u32::try_from(days).unwrap_or(0), figures, note }))
}

/// Marks `store` as holding `scenario`'s history of `days` days, whose load measured `figures`.
pub async fn mark(store: &stroom_reference::Store, scenario: &Scenario, days: u32, figures: &Figures) -> Result<()> {
    let figures = serde_json::to_value(figures).unwrap_or_default();
    let mut tx =
        store.pool().begin().await.map_err(|source| Error::Database { action: "marking the history", source })?;
    for sql in [
        format!(
            "CREATE TABLE IF NOT EXISTS {NAMESPACE}.stroom_loaded (spec text NOT NULL, days int NOT NULL, \
             figures jsonb NOT NULL, git_commit text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())"
        ),
        format!("DELETE FROM {NAMESPACE}.stroom_loaded"),
    ] {
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(|source| Error::Database { action: "marking the history", source })?;
    }
    sqlx::query(&format!(
        "INSERT INTO {NAMESPACE}.stroom_loaded (spec, days, figures, git_commit) VALUES ($1, $2, $3, $4)"
    ))
    .bind(spec(scenario))
    .bind(i32::try_from(days).unwrap_or(i32::MAX))
    .bind(figures)
    .bind(crate::environment::git_commit())
    .execute(&mut *tx)
    .await
    .map_err(|source| Error::Database { action: "marking the history", source })?;
    tx.commit().await.map_err(|source| Error::Database { action: "marking the history", source })
}
