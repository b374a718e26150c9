//! `stroom generate`: run the generator on its own, print a summary and write a sample.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::generator::{Generator, GeneratorConfig, Summary};
use crate::progress::note;

/// How much to generate.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// This many simulated days.
    Days(u32),
    /// At least this many events (whole days).
    Events(u64),
}

/// What `stroom generate` was asked.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// Generator settings.
    pub config: GeneratorConfig,
    /// How much.
    pub until: Until,
    /// Write the first events here as JSON lines.
    pub sample: Option<PathBuf>,
    /// How many events the sample holds.
    pub sample_size: usize,
}

/// What it produced.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Totals.
    pub summary: Summary,
    /// Generation rate, events per second of wall time (all threads).
    pub events_per_s: f64,
    /// The v2 read model's learning analytics over the sample's events, to check by hand.
    pub sample_analytics: Vec<String>,
}

/// Runs the generator as asked, with a progress line per simulated week.
pub fn generate(req: &GenerateRequest) -> Result<Generated> {
    let mut generator = Generator::new(req.config.clone());
    let mut summary = Summary::default();
    let mut sample = match &req.sample {
        Some(path) => Some((
            std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|source| Error::WriteResults { path: path.clone(), source })?,
            ),
            path.clone(),
        )),
        None => None,
    };
    let mut written = 0usize;
    let mut sampled = Vec::new();
    let envelope = |e: &crate::generator::GeneratedEvent| stroom_reference::read_model::Envelope {
        school: e.school,
        recorded_at_us: e.recorded_at_us,
        event: e.event.clone(),
    };
    if let Some((out, path)) = &mut sample {
        for e in generator.course_material().iter().take(req.sample_size) {
            write_line(out, path, e)?;
            sampled.push(envelope(e));
            written += 1;
        }
    }
    let started = Instant::now();
    let mut last_note = Instant::now();
    loop {
        let done = match req.until {
            Until::Days(d) => summary.days >= d,
            Until::Events(n) => summary.events >= n,
        };
        if done {
            break;
        }
        let day = generator.next_day();
        summary.add(&day);
        if let Some((out, path)) = &mut sample {
            for (_, events) in &day.schools {
                for e in events.iter().take(req.sample_size.saturating_sub(written)) {
                    write_line(out, path, e)?;
                    sampled.push(envelope(e));
                    written += 1;
                }
            }
        }
        if last_note.elapsed().as_secs() >= 2 {
            last_note = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            note(format_args!(
                "generate: day {} … {} events ({:.0} events/s)",
                summary.days,
                summary.events,
                summary.events as f64 / secs
            ));
        }
    }
    if let Some((mut out, path)) = sample {
        out.flush().map_err(|source| Error::WriteResults { path, source })?;
    }
    let secs = started.elapsed().as_secs_f64();
    let sample_analytics = crate::analysis::sample::describe(&sampled, 5);
    Ok(Generated { events_per_s: summary.events as f64 / secs.max(1e-9), summary, sample_analytics })
}

fn write_line(out: &mut impl Write, path: &std::path::Path, e: &crate::generator::GeneratedEvent) -> Result<()> {
    let line = serde_json::json!({
        "school": e.school,
        "stream": e.stream,
        "version": e.version,
        "id": e.id,
        "recorded_at": chrono::DateTime::from_timestamp_micros(e.recorded_at_us).map(|t| t.to_rfc3339()),
        "type": e.event.event_type(),
        "payload": serde_json::from_str::<serde_json::Value>(&e.payload()).unwrap_or_default(),
    });
    writeln!(out, "{line}").map_err(|source| Error::WriteResults { path: path.to_path_buf(), source })
}
