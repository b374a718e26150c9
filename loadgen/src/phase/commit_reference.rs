//! `calibrate.commit_p50_ms`: the same-run reference for latencies. It is the median time of a
//! one-row INSERT committed on its own, durable as the server is configured: the round trip
//! plus the WAL flush that every acknowledged append pays at least once. A disk or network
//! that is twice as slow moves it as it moves append latencies, and the gate divides it out.

use std::time::Instant;

use hdrhistogram::Histogram;
use stroom_reference::Store;

use crate::error::{Error, Result};
use crate::figures::{Figure, Figures};
use crate::progress::note;

/// Commits per repetition; each repetition's median is one repetition of the figure.
const COMMITS: usize = 200;

/// Measures `repetitions` × [`COMMITS`] one-row commits on one connection of `store`.
pub async fn run(store: &Store, repetitions: usize, figures: &mut Figures) -> Result<()> {
    let db = |action| move |source| Error::Database { action, source };
    let mut conn = store.pool().acquire().await.map_err(db("connecting for the commit reference"))?;
    sqlx::query("CREATE TABLE IF NOT EXISTS stroom_commit_probe (n bigint NOT NULL)")
        .execute(&mut *conn)
        .await
        .map_err(db("creating the commit probe table"))?;
    let mut medians = Vec::with_capacity(repetitions);
    for _ in 0..repetitions.max(1) {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
        for n in 0..COMMITS {
            let started = Instant::now();
            sqlx::query("INSERT INTO stroom_commit_probe (n) VALUES ($1)")
                .bind(n as i64)
                .execute(&mut *conn)
                .await
                .map_err(db("committing one row for the commit reference"))?;
            h.saturating_record(started.elapsed().as_micros().max(1) as u64);
        }
        medians.push(h.value_at_quantile(0.5) as f64 / 1000.0);
    }
    sqlx::query("DROP TABLE stroom_commit_probe").execute(&mut *conn).await.map_err(db("dropping the probe table"))?;
    let figure = Figure::from_repetitions("ms", medians);
    note(format_args!("calibrate: a one-row durable commit takes {:.3} ms (p50)", figure.value));
    figures.insert("calibrate.commit_p50_ms".into(), figure);
    Ok(())
}
