//! `calibrate.cpu_fold`: the same-run reference for figures bound by this process's CPU (the
//! fold, the memory replay, the generator). It folds a fixed event set, the same whatever the
//! scenario, with the standard handlers on one thread, so a faster or slower core moves it
//! exactly as it moves them, and the gate can divide it out.

use std::time::Instant;

use stroom_reference::read_model::{Fold, ReadModel};
use stroom_reference::replay::MemoryLog;
use stroom_reference::{StoredEvent, Upcasters};

use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::generator::{Generator, GeneratorConfig};
use crate::progress::note;

/// Schools and students of the fixed event set: one day of it is about 100k events.
const SCHOOLS: u32 = 20;
const STUDENTS: u32 = 2_000;
/// How often each repetition folds the set, so one repetition takes ~0.1 s, not a timer tick.
const PASSES: usize = 10;
/// Repetitions; the figure is their median.
const REPETITIONS: usize = 5;

/// Measures the fixed fold and records `calibrate.cpu_fold.events_per_s`.
pub fn run(figures: &mut Figures) -> Result<()> {
    let config = GeneratorConfig {
        schools: SCHOOLS,
        students: STUDENTS,
        events_per_school_day: 100_000.0,
        ..GeneratorConfig::default()
    };
    let mut generator = Generator::new(config);
    let mut events: Vec<StoredEvent> = generator.course_material().iter().map(|e| e.to_stored()).collect();
    let day = generator.next_day();
    events.extend(day.schools.iter().flat_map(|(_, evs)| evs.iter().map(|e| e.to_stored())));
    let decoded = MemoryLog::new(events).decode_all(&Upcasters::standard())?;
    let fold = Fold::default();
    let mut rates = Vec::with_capacity(REPETITIONS);
    for _ in 0..REPETITIONS {
        let started = Instant::now();
        for _ in 0..PASSES {
            let mut model = ReadModel::default();
            for e in &decoded {
                fold.apply(&mut model, e);
            }
            std::hint::black_box(&model);
        }
        rates.push((decoded.len() * PASSES) as f64 / started.elapsed().as_secs_f64());
    }
    let figure = Figure::from_repetitions("events/s", rates);
    note(format_args!(
        "calibrate: the fixed fold ({} events, one thread): {:.0} events/s",
        decoded.len(),
        figure.value
    ));
    figures.insert("calibrate.cpu_fold.events_per_s".into(), figure);
    Ok(())
}
