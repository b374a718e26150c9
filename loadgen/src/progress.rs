//! Progress lines on stderr for long phases.

use std::io::Write;
use std::time::Instant;

/// Prints one `stroom: …` line on stderr. A closed stderr (e.g. `| head`) is not an error.
pub fn note(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "stroom: {message}");
}

/// One phase's progress: a start line, then a line with its rate when it ends.
#[derive(Debug)]
pub struct Progress {
    name: String,
    started: Instant,
}

impl Progress {
    /// Announces a phase.
    pub fn phase(name: &str) -> Self {
        note(format_args!("{name} …"));
        Self { name: name.to_string(), started: Instant::now() }
    }

    /// Reports `events` done in `secs` (the measured interval, not the wall time of the phase).
    pub fn done(self, events: u64, secs: f64) {
        note(format_args!(
            "{}: {events} events in {secs:.2} s ({:.0} events/s; phase took {:.1} s)",
            self.name,
            events as f64 / secs,
            self.started.elapsed().as_secs_f64()
        ));
    }
}
