//! The moves: schools moved one after another while the routed writers append, each a
//! checked passive migration (`stroom_reference::migrate`).

use std::time::{Duration, Instant};

use stroom_reference::migrate::Migrator;
use stroom_reference::placement::{PlacementMap, Server};
use stroom_reference::{Error as StoreError, School};

use crate::error::Result;
use crate::progress::note;

/// One finished move.
#[derive(Debug, Clone)]
pub(super) struct Moved {
    pub school: School,
    pub rows: u64,
    pub copying: Duration,
    pub elapsed: Duration,
    /// From taking the source's head to the switch, by the journal's clock.
    pub fence: Duration,
    /// Whether it started after the measured window had ended.
    pub after_window: bool,
    /// When it started and ended.
    pub span: (Instant, Instant),
}

/// What the moves did.
#[derive(Debug, Default)]
pub(super) struct Moves {
    pub moved: Vec<Moved>,
    /// Moves whose checks found the copy unlike the source (aborted, nothing switched).
    pub mismatches: usize,
}

/// Which `n` schools to move: taken from each server in turn, spread evenly over the
/// schools there, so moves go every way.
pub(super) fn pick(map: &PlacementMap, servers: Server, n: usize) -> Vec<School> {
    let per_server: Vec<Vec<School>> =
        (0..servers).map(|s| spread(&map.schools_on(s), n.div_ceil(servers as usize))).collect();
    let mut out = Vec::new();
    for i in 0.. {
        if out.len() == n || per_server.iter().all(|s| s.len() <= i / servers as usize) {
            break;
        }
        if let Some(school) = per_server[i % servers as usize].get(i / servers as usize) {
            out.push(*school);
        }
    }
    out
}

/// `n` of `schools`, evenly spaced.
fn spread(schools: &[School], n: usize) -> Vec<School> {
    let step = (schools.len() as f64 / n.max(1) as f64).max(1.0);
    (0..n.min(schools.len())).map(|i| schools[((i as f64 + 0.5) * step) as usize]).collect()
}

/// Moves each school to the next server, one after another, starting after `start_after`
/// and pausing `pause` between moves.
pub(super) async fn run(
    migrator: &Migrator,
    schools: Vec<School>,
    servers: Server,
    (start_after, pause, window_ends): (Duration, Duration, Instant),
) -> Result<Moves> {
    tokio::time::sleep(start_after).await;
    let mut out = Moves::default();
    let total = schools.len();
    for (i, school) in schools.into_iter().enumerate() {
        let map = migrator.placement().load().await?;
        let from = map.server_of(school).unwrap_or(0);
        let to = (from + 1) % servers;
        let begun = Instant::now();
        let after_window = begun >= window_ends;
        let migration = migrator.start(school, to).await?;
        match migration.finish().await {
            Ok(report) => {
                let fence = report.fence.unwrap_or_default();
                note(format_args!(
                    "migrate: move {}/{total}: school {school}, server {from} → {to}: {} rows in {:.2} s, fenced {:.0} ms, {} checks agree",
                    i + 1,
                    report.rows_copied,
                    report.elapsed.as_secs_f64(),
                    fence.as_secs_f64() * 1e3,
                    report.checks.len()
                ));
                out.moved.push(Moved {
                    school,
                    rows: report.rows_copied,
                    copying: report.copying,
                    elapsed: report.elapsed,
                    fence,
                    after_window,
                    span: (begun, Instant::now()),
                });
            }
            Err(e @ StoreError::Mismatch { .. }) => {
                note(format_args!("migrate: move {}/{total}: {e}", i + 1));
                out.mismatches += 1;
            }
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(pause).await;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_are_taken_from_every_server_in_turn() {
        let map = PlacementMap { version: 6, schools: (1..=6).map(|s| (s, (s as u32 - 1) % 2)).collect() };
        assert_eq!(pick(&map, 2, 4), vec![1, 2, 5, 6]);
        assert_eq!(pick(&map, 2, 9), vec![1, 2, 3, 4, 5, 6]);
        assert!(pick(&map, 2, 0).is_empty());
    }
}
