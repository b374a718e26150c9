//! The load phase: the generator's history, straight into the store through its bulk path.

use std::time::{Duration, Instant};

use stroom_reference::{Store, StoredEvent, GLOBAL_SCHOOL};

use crate::error::Result;
use crate::generator::Generator;
use crate::progress::note;

/// Rows per bulk transaction.
const CHUNK: usize = 50_000;

/// Writes `rows` through the store's bulk path, [`CHUNK`] rows per transaction; returns the
/// rows written.
pub(crate) async fn bulk_load(store: &Store, rows: &[StoredEvent]) -> Result<u64> {
    let mut total = 0;
    for chunk in rows.chunks(CHUNK) {
        total += store.bulk_load(chunk).await?;
    }
    Ok(total)
}

/// What a backfill wrote.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Events written, course material included.
    pub events: u64,
    /// Simulated days.
    pub days: u32,
    /// Wall time.
    pub elapsed: Duration,
    /// Events per simulated day, in order.
    pub per_day: Vec<u64>,
}

/// Registers the schools, loads the course material, then whole simulated days until at
/// least `events` events (or `days` days) are stored. `keep` receives every stored event in
/// load order (global order), for callers that replay the same log in memory.
pub async fn backfill(
    store: &Store,
    generator: &mut Generator,
    events: Option<u64>,
    days: Option<u32>,
    mut keep: Option<&mut Vec<StoredEvent>>,
    mut summary: Option<&mut crate::generator::Summary>,
    progress: Option<&crate::progress::Progress>,
) -> Result<Loaded> {
    let started = Instant::now();
    let mut schools = vec![GLOBAL_SCHOOL];
    schools.extend(generator.schools());
    store.add_schools(&schools).await?;
    let course: Vec<StoredEvent> = generator.course_material().iter().map(|e| e.to_stored()).collect();
    let mut total = store.bulk_load(&course).await?;
    if let Some(k) = keep.as_deref_mut() {
        k.extend(course);
    }
    let (mut day_count, mut per_day) = (0u32, Vec::new());
    let mut last_note = Instant::now();
    loop {
        let done = match (events, days) {
            (Some(n), _) if total >= n => true,
            (_, Some(d)) if day_count >= d => true,
            (None, None) => true,
            _ => false,
        };
        if done {
            break;
        }
        let day = generator.next_day();
        day_count += 1;
        if let Some(s) = summary.as_deref_mut() {
            s.add(&day);
        }
        let rows: Vec<StoredEvent> =
            day.schools.iter().flat_map(|(_, evs)| evs.iter().map(|e| e.to_stored())).collect();
        per_day.push(rows.len() as u64);
        total += bulk_load(store, &rows).await?;
        if let Some(k) = keep.as_deref_mut() {
            k.extend(rows);
        }
        if let Some(p) = progress {
            p.set(total);
        }
        if last_note.elapsed() >= Duration::from_secs(2) {
            last_note = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            let target = events.map(|n| format!(" of {n}")).unwrap_or_default();
            note(format_args!("load: day {day_count}, {total}{target} events ({:.0} events/s)", total as f64 / secs));
        }
    }
    Ok(Loaded { events: total, days: day_count, elapsed: started.elapsed(), per_day })
}
