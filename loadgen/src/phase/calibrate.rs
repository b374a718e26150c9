//! The calibrate phase: a raw binary COPY of generated rows into a fresh store of the same
//! schema, and a raw `COPY (SELECT …) TO STDOUT` of the loaded history with the columns a
//! replay reads. These same-run reference rates are what headline figures are divided by.
//!
//! The rows are copied twice: grouped by school (how a bulk load would send them, and the
//! headline reference, `calibrate.copy_in`), and in arrival order across schools, as appends
//! meet them (`calibrate.copy_in_arrival`). The gap between the two is what interleaving
//! schools costs the server's indexes, before any per-command work.

use std::time::Instant;

use stroom_reference::{Store, StoredEvent};

use super::{all_schools, generator_config, settle};
use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::generator::Generator;
use crate::namespace::fresh_store;
use crate::progress::Progress;
use crate::scenario::{Calibrate, Scenario};

/// Measures COPY in and COPY out `plan.repetitions` times each.
pub async fn run(
    url: &str,
    scenario: &Scenario,
    history: &Store,
    plan: &Calibrate,
    figures: &mut Figures,
) -> Result<()> {
    let rows = sample_rows(scenario, plan.rows);
    let store = fresh_store(url, "calibrate", scenario.schema(), 4).await?;
    store.add_schools(&all_schools(scenario)).await?;
    let out_rows = history.count().await? as f64;
    let mut arrival = rows.clone();
    arrival.sort_by_key(|(e, _)| e.recorded_at_us);
    let (mut copy_in, mut copy_out, mut mb_out) = (Vec::new(), Vec::new(), Vec::new());
    let mut copy_in_arrival = Vec::new();
    for rep in 1..=plan.repetitions {
        store.truncate().await?;
        settle(&store).await?;
        let progress = Progress::phase(&format!("calibrate: COPY in, repetition {rep}/{}", plan.repetitions));
        let started = Instant::now();
        store.raw_copy_in(&rows).await?;
        let secs = started.elapsed().as_secs_f64();
        progress.done(rows.len() as u64, secs);
        copy_in.push(rows.len() as f64 / secs);

        store.truncate().await?;
        settle(&store).await?;
        let progress =
            Progress::phase(&format!("calibrate: COPY in, arrival order, repetition {rep}/{}", plan.repetitions));
        let started = Instant::now();
        store.raw_copy_in(&arrival).await?;
        let secs = started.elapsed().as_secs_f64();
        progress.done(arrival.len() as u64, secs);
        copy_in_arrival.push(arrival.len() as f64 / secs);

        let progress = Progress::phase(&format!("calibrate: COPY out, repetition {rep}/{}", plan.repetitions));
        let started = Instant::now();
        let bytes = history.raw_copy_out().await?;
        let secs = started.elapsed().as_secs_f64();
        progress.done(out_rows as u64, secs);
        copy_out.push(out_rows / secs);
        mb_out.push(bytes as f64 / secs / 1e6);
    }
    figures.insert("calibrate.copy_in.events_per_s".into(), Figure::from_repetitions("events/s", copy_in));
    figures
        .insert("calibrate.copy_in_arrival.events_per_s".into(), Figure::from_repetitions("events/s", copy_in_arrival));
    figures.insert("calibrate.copy_out.events_per_s".into(), Figure::from_repetitions("events/s", copy_out));
    figures.insert("calibrate.copy_out.mb_per_s".into(), Figure::from_repetitions("MB/s", mb_out));
    store.pool().close().await;
    Ok(())
}

/// The first `n` generated events (course material, then whole days), with their positions
/// in their schools.
fn sample_rows(scenario: &Scenario, n: u64) -> Vec<(StoredEvent, i64)> {
    let mut generator = Generator::new(generator_config(scenario, 2));
    let mut events: Vec<StoredEvent> = generator.course_material().iter().map(|e| e.to_stored()).collect();
    while (events.len() as u64) < n {
        let day = generator.next_day();
        events.extend(day.schools.iter().flat_map(|(_, evs)| evs.iter().map(|e| e.to_stored())));
    }
    events.truncate(n as usize);
    let mut next = std::collections::HashMap::new();
    events
        .into_iter()
        .map(|e| {
            let p = next.entry(e.school).or_insert(0i64);
            *p += 1;
            let position = *p;
            (e, position)
        })
        .collect()
}
