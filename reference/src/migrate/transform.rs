//! The talk's own passive migration: the single log of 2017 rewritten into the partitioned
//! layout on another server, school by school, each school's rows numbered in global order,
//! then the same checks as a move. The source is only read; deciding to switch to the copy is
//! the team's, once every school's checks agree.

use std::time::{Duration, Instant};

use super::check::{self, Check};
use super::copy::copy_round;
use crate::error::{Error, Result};
use crate::event::School;
use crate::store::{Layout, Store};

/// What a transforming migration did.
#[derive(Debug, Clone, Default)]
pub struct Transformed {
    /// Rows copied.
    pub rows: u64,
    /// Wall time of the copy, checks excluded.
    pub copying: Duration,
    /// Wall time in all.
    pub elapsed: Duration,
    /// Each school's checks.
    pub checks: Vec<(School, Vec<Check>)>,
}

impl Transformed {
    /// Schools with at least one failed check.
    pub fn mismatches(&self) -> usize {
        self.checks.iter().filter(|(_, c)| c.iter().any(|c| !c.passed())).count()
    }

    /// Rows copied per second of copying.
    pub fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.copying.as_secs_f64().max(1e-9)
    }
}

/// Copies every school of the single log `source` into the partitioned store `target` (whose
/// schools must hold nothing yet) and checks each; `progress` hears each school done.
pub async fn transform(source: &Store, target: &Store, mut progress: impl FnMut(usize, usize)) -> Result<Transformed> {
    if !source.schema().layout.single_table() || target.schema().layout != Layout::Partitioned {
        return Err(Error::Migration {
            reason: format!(
                "a transforming migration goes from a single log to the partitioned layout, not from the {} to the {}",
                source.schema().layout.name(),
                target.schema().layout.name()
            ),
        });
    }
    let started = Instant::now();
    let schools = source.schools().await?;
    target.add_schools(&schools).await?;
    let mut out = Transformed::default();
    for (i, &school) in schools.iter().enumerate() {
        let copying = Instant::now();
        out.rows += copy_round(source, target, school).await?.rows;
        out.copying += copying.elapsed();
        out.checks.push((school, check::run(source, target, school).await?));
        progress(i + 1, schools.len());
    }
    out.elapsed = started.elapsed();
    Ok(out)
}
