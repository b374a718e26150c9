//! Progress on stderr: a bar with events, rate and ETA on a terminal; lines otherwise.

use std::io::Write;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Prints one `stroom: …` line on stderr. A closed stderr (e.g. `| head`) is not an error.
pub fn note(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "stroom: {message}");
}

/// One phase's progress.
#[derive(Debug)]
pub struct Progress {
    name: String,
    started: Instant,
    bar: ProgressBar,
}

impl Progress {
    /// Announces a phase with no known total.
    pub fn phase(name: &str) -> Self {
        Self::with_total(name, 0)
    }

    /// Announces a phase of `total` events (0: unknown); a bar shows on a terminal.
    pub fn with_total(name: &str, total: u64) -> Self {
        note(format_args!("{name} …"));
        let bar = if total > 0 {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("  {bar:30} {human_pos}/{human_len} events  {per_sec}  ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        Self { name: name.to_string(), started: Instant::now(), bar }
    }

    /// Sets how many events are done.
    pub fn set(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// Keeps the bar at `counter` until the returned guard is dropped.
    pub fn follow(&self, counter: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Follow {
        let bar = self.bar.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
            loop {
                tick.tick().await;
                bar.set_position(counter.load(std::sync::atomic::Ordering::Relaxed));
            }
        });
        Follow(task)
    }

    /// Reports `events` done in `secs` (the measured interval, not the wall time of the phase).
    pub fn done(self, events: u64, secs: f64) {
        self.bar.finish_and_clear();
        note(format_args!(
            "{}: {events} events in {secs:.2} s ({:.0} events/s; phase took {:.1} s)",
            self.name,
            events as f64 / secs.max(1e-9),
            self.started.elapsed().as_secs_f64()
        ));
    }
}

/// Stops following a counter when dropped.
#[derive(Debug)]
pub struct Follow(tokio::task::JoinHandle<()>);

impl Drop for Follow {
    fn drop(&mut self) {
        self.0.abort();
    }
}
