//! A small generated history shared by the benches.

use stroom_loadgen::generator::{Generator, GeneratorConfig};
use stroom_reference::StoredEvent;

/// The generator settings the benches use: 20 schools, 4,000 students.
pub fn config() -> GeneratorConfig {
    GeneratorConfig { schools: 20, students: 4_000, events_per_school_day: 48_000.0, threads: 1, ..Default::default() }
}

/// Course material plus `days` school days, in global order.
pub fn history(days: u32) -> Vec<StoredEvent> {
    let mut g = Generator::new(config());
    let mut events: Vec<StoredEvent> = g.course_material().iter().map(|e| e.to_stored()).collect();
    for _ in 0..days {
        events.extend(g.next_day().schools.iter().flat_map(|(_, e)| e.iter().map(|e| e.to_stored())));
    }
    events
}
