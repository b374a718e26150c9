//! The CPU reference for figures bound by this process's CPU (the fold, the memory replay, the
//! generator): a fold of a fixed event set, the same whatever the scenario, with the standard
//! handlers on one thread, so a faster or slower core moves it as it moves them.
//!
//! Calibrate records it (`calibrate.cpu_fold.events_per_s`), but the gate divides by the
//! measurement taken just before each repetition ([`paired`]): on a shared VM the core's speed
//! moves within minutes (three quick runs of one commit measured 8.5M, 14.7M and 18.0M in
//! calibrate while the replay's fold, minutes later, measured 10.6M to 12.0M).

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

/// The fixed event set, decoded once per process.
fn fixed_set() -> Result<&'static [stroom_reference::read_model::Envelope]> {
    static SET: std::sync::OnceLock<Vec<stroom_reference::read_model::Envelope>> = std::sync::OnceLock::new();
    if let Some(set) = SET.get() {
        return Ok(set);
    }
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
    Ok(SET.get_or_init(|| decoded))
}

/// One measurement of the fixed fold, events/s.
pub fn once() -> Result<f64> {
    let (events, seconds) = passes(PASSES)?;
    Ok(events / seconds)
}

/// One pass of the fixed fold (~20 ms here): the events folded and the seconds it took. A
/// stepped A/B run interleaves the arms' passes one by one (`fold-slice`), because this
/// core's speed moves within a tenth of a second.
pub fn slice() -> Result<(f64, f64)> {
    passes(1)
}

/// The fixed fold `n` times over, each into a new model: events folded and seconds taken.
fn passes(n: usize) -> Result<(f64, f64)> {
    let set = fixed_set()?;
    let fold = Fold::default();
    let started = Instant::now();
    for _ in 0..n {
        let mut model = ReadModel::default();
        for e in set {
            fold.apply(&mut model, e);
        }
        std::hint::black_box(&model);
    }
    Ok(((set.len() * n) as f64, started.elapsed().as_secs_f64()))
}

/// Measures the fixed fold and records `calibrate.cpu_fold.events_per_s`.
pub fn run(figures: &mut Figures) -> Result<()> {
    let rates = (0..REPETITIONS).map(|_| once()).collect::<Result<Vec<_>>>()?;
    let figure = Figure::from_repetitions("events/s", rates);
    note(format_args!(
        "calibrate: the fixed fold ({} events, one thread): {:.0} events/s",
        fixed_set()?.len(),
        figure.value
    ));
    figures.insert("calibrate.cpu_fold.events_per_s".into(), figure);
    Ok(())
}

/// `measure` (a rate) `repetitions` times, each right after one measurement of the fixed fold:
/// the rates, and each over its own reference (the figure `<name>.per_cpu_fold` the gate judges).
pub fn paired(repetitions: u32, mut measure: impl FnMut() -> Result<f64>) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut rates, mut ratios) = (Vec::new(), Vec::new());
    for _ in 0..repetitions.max(1) {
        let reference = once()?;
        let rate = measure()?;
        rates.push(rate);
        ratios.push(rate / reference);
    }
    Ok((rates, ratios))
}
