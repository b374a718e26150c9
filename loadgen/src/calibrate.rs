//! The calibrate phase: raw binary COPY of the scenario's rows into the same schema and back
//! out. These same-run reference rates are what every headline figure is divided by.

use std::time::Instant;

use stroom_reference::{Store, StoredEvent};

use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::progress::Progress;
use crate::scenario::Calibrate;

/// Measures COPY in and COPY out `plan.repetitions` times each. Leaves the rows loaded.
pub async fn run(store: &Store, rows: &[(StoredEvent, i64)], plan: &Calibrate, figures: &mut Figures) -> Result<()> {
    let n = rows.len() as f64;
    let (mut copy_in, mut copy_out, mut mb_out) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 1..=plan.repetitions {
        store.truncate().await?;
        let progress = Progress::phase(&format!("calibrate: COPY in, repetition {rep}/{}", plan.repetitions));
        let started = Instant::now();
        store.raw_copy_in(rows).await?;
        let secs = started.elapsed().as_secs_f64();
        progress.done(rows.len() as u64, secs);
        copy_in.push(n / secs);

        let progress = Progress::phase(&format!("calibrate: COPY out, repetition {rep}/{}", plan.repetitions));
        let started = Instant::now();
        let bytes = store.raw_copy_out().await?;
        let secs = started.elapsed().as_secs_f64();
        progress.done(rows.len() as u64, secs);
        copy_out.push(n / secs);
        mb_out.push(bytes as f64 / secs / 1e6);
    }
    figures.insert("calibrate.copy_in.events_per_s".into(), Figure::from_repetitions("events/s", copy_in));
    figures.insert("calibrate.copy_out.events_per_s".into(), Figure::from_repetitions("events/s", copy_out));
    figures.insert("calibrate.copy_out.mb_per_s".into(), Figure::from_repetitions("MB/s", mb_out));
    Ok(())
}
