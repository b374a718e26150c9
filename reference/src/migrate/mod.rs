//! Passive migration: moving one school to another server with its writers running.
//!
//! The steps, each recorded in the journal (`journal.rs`) when it finishes:
//!
//! 1. **started**: the journal row is written; nothing else has changed.
//! 2. **copied**: the target holds the school's partition and head (fenced for the
//!    migration, so nobody writes there yet) and the history up to the copy's snapshot,
//!    by binary COPY (`copy.rs`).
//! 3. **caught-up**: further rounds copied what committed meanwhile until a round was small.
//! 4. **fenced**: the migration holds the school's head on the source, so no write can
//!    commit there any more (`fence.rs`); writers see their appends refused from here on.
//! 5. **checked**: the last rows are copied and every consistency check agrees
//!    (`check.rs`). A mismatch aborts instead.
//! 6. **switched**: the placement map names the target, recorded in the same transaction as
//!    this step; the target's head is handed to writers.
//! 7. **done**: the source's rows are removed. Its head row stays fenced, so a writer that
//!    still routes by an old map can never commit there.
//!
//! Until the switch the source is authoritative: aborting removes the copy and lifts the
//! fence, losing nothing. After it the target is, and only going on makes sense. A process
//! killed anywhere leaves the journal at the last finished step, and every step can be
//! redone from there.

mod check;
mod copy;
mod fence;
mod journal;
mod transform;

use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

pub use check::{Check, NAMES as CHECKS};
pub use copy::{copy_round, last_position, Copied};
pub use journal::{Entry, Journal};
pub use transform::{transform, Transformed};

use crate::error::{Error, Result};
use crate::event::{School, GLOBAL_SCHOOL};
use crate::placement::{Placement, Server};
use crate::store::{Layout, Schema, Store};

/// Catch-up stops once a round copies this few rows: the rest is copied under the fence.
const SMALL_ROUND: u64 = 500;
/// Catch-up gives up shrinking after this many rounds and fences anyway.
const MAX_ROUNDS: u32 = 20;

/// The last finished step of a migration; see the module's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// The journal row is written.
    Started,
    /// The history is copied.
    Copied,
    /// Catch-up rounds brought the copy close.
    CaughtUp,
    /// No write can commit on the source.
    Fenced,
    /// The last rows are copied and every check agreed.
    Checked,
    /// The placement map names the target.
    Switched,
    /// The source's rows are removed; finished.
    Done,
    /// Undone before the switch; finished, the source authoritative.
    Aborted,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 8] = [
        Step::Started,
        Step::Copied,
        Step::CaughtUp,
        Step::Fenced,
        Step::Checked,
        Step::Switched,
        Step::Done,
        Step::Aborted,
    ];

    /// The name the journal and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Copied => "copied",
            Self::CaughtUp => "caught-up",
            Self::Fenced => "fenced",
            Self::Checked => "checked",
            Self::Switched => "switched",
            Self::Done => "done",
            Self::Aborted => "aborted",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.name() == s)
    }

    /// Whether the migration is over.
    pub fn finished(self) -> bool {
        matches!(self, Self::Done | Self::Aborted)
    }
}

/// What one process did of a migration.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Rows copied, all rounds.
    pub rows_copied: u64,
    /// Time spent copying, all rounds.
    pub copying: Duration,
    /// Copy rounds (the first, catch-up and the last under the fence).
    pub rounds: u32,
    /// How long the source was fenced before the switch, as the journal recorded it.
    pub fence: Option<Duration>,
    /// The consistency checks, when they ran.
    pub checks: Vec<Check>,
    /// Wall time of this process's part.
    pub elapsed: Duration,
}

impl Report {
    /// Rows copied per second of copying.
    pub fn rows_per_s(&self) -> f64 {
        self.rows_copied as f64 / self.copying.as_secs_f64().max(1e-9)
    }
}

/// Moves schools between the servers the placement map knows.
#[derive(Debug, Clone)]
pub struct Migrator {
    placement: Placement,
    journal: Journal,
    servers: Vec<PgPool>,
}

impl Migrator {
    /// A migrator over `servers` (server i at index i; the map is on server 0).
    pub async fn new(servers: Vec<PgPool>) -> Result<Self> {
        let first = servers.first().ok_or_else(|| Error::Migration { reason: "no servers given".into() })?;
        let placement = Placement::install(first.clone()).await?;
        let journal = Journal::install(first.clone()).await?;
        Ok(Self { placement, journal, servers })
    }

    /// A migrator over the servers recorded on the first server (`stroom db start --servers`
    /// records them).
    pub async fn connect(first_url: &str) -> Result<Self> {
        let first = pool(first_url).await?;
        let placement = Placement::install(first.clone()).await?;
        let urls = placement.servers().await?;
        if urls.len() < 2 {
            return Err(Error::Migration {
                reason: format!(
                    "the first server records {} server(s); moving a school needs at least 2 \
                     (`stroom db start --servers 2` starts and records them)",
                    urls.len()
                ),
            });
        }
        let mut servers = vec![first];
        for url in &urls[1..] {
            servers.push(pool(url).await?);
        }
        Self::new(servers).await
    }

    /// The placement map.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Opens a migration of `school` to server `to`; nothing moves until it is advanced.
    pub async fn start(&self, school: School, to: Server) -> Result<Migration> {
        if school == GLOBAL_SCHOOL {
            return Err(Error::Migration {
                reason: format!("school {GLOBAL_SCHOOL} holds the course material every server reads; it is not moved"),
            });
        }
        if to as usize >= self.servers.len() {
            return Err(Error::Migration {
                reason: format!("there is no server {to}: the servers are 0 to {}", self.servers.len() - 1),
            });
        }
        let map = self.placement.load().await?;
        let from = map.server_of(school).ok_or_else(|| Error::Migration {
            reason: format!("school {school} is not in the placement map (version {})", map.version),
        })?;
        if from == to {
            return Err(Error::Migration { reason: format!("school {school} is on server {to} already") });
        }
        let entry = self.journal.open(school, from, to).await?;
        self.migration(entry, false).await
    }

    /// The unfinished migrations, to resume or abort.
    pub async fn unfinished(&self) -> Result<Vec<Migration>> {
        let mut out = Vec::new();
        for entry in self.journal.open_entries().await? {
            out.push(self.migration(entry, true).await?);
        }
        Ok(out)
    }

    async fn migration(&self, entry: Entry, resumed: bool) -> Result<Migration> {
        let server = |s: Server| {
            self.servers.get(s as usize).cloned().ok_or_else(|| Error::Migration {
                reason: format!("migration {} names server {s}, which is not among the servers", entry.id),
            })
        };
        let (source_pool, target_pool) = (server(entry.from)?, server(entry.to)?);
        let schema = Schema::detect(&source_pool)
            .await?
            .ok_or_else(|| Error::Migration { reason: format!("server {} holds no stroom store", entry.from) })?;
        if schema.layout != Layout::Partitioned {
            return Err(Error::Migration {
                reason: format!(
                    "moving one school needs the partitioned layout; server {} holds the {}",
                    entry.from,
                    schema.layout.name()
                ),
            });
        }
        let target = match Schema::detect(&target_pool).await? {
            Some(found) => Store::open(target_pool, found),
            None => Store::install(target_pool, schema).await?,
        };
        Ok(Migration {
            journal: self.journal.clone(),
            source: Store::open(source_pool, schema),
            target,
            entry,
            resumed,
            report: Report::default(),
        })
    }
}

async fn pool(url: &str) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(Error::db("connecting to a server"))
}

/// One migration in progress.
#[derive(Debug)]
pub struct Migration {
    journal: Journal,
    source: Store,
    target: Store,
    entry: Entry,
    /// Picked up from the journal rather than started here: the checks run again before a
    /// switch, as whoever ran them last may have died long ago.
    resumed: bool,
    report: Report,
}

impl Migration {
    /// The journal's record of it.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The last finished step.
    pub fn step(&self) -> Step {
        self.entry.step
    }

    /// The source store.
    pub fn source(&self) -> &Store {
        &self.source
    }

    /// The target store.
    pub fn target(&self) -> &Store {
        &self.target
    }

    /// What this process did so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Does the next step and records it; returns the step now finished. A failed check
    /// aborts and returns [`Error::Mismatch`].
    pub async fn advance(&mut self) -> Result<Step> {
        let started = Instant::now();
        let (school, owner) = (self.entry.school, self.entry.fence_owner);
        let next = match self.entry.step {
            Step::Started => {
                self.target.add_schools(&[school]).await?;
                fence::take(&self.target, school, owner).await?;
                self.copy().await?;
                Step::Copied
            }
            Step::Copied => {
                for _ in 0..MAX_ROUNDS {
                    if self.copy().await?.rows <= SMALL_ROUND {
                        break;
                    }
                }
                Step::CaughtUp
            }
            Step::CaughtUp => {
                fence::take(&self.source, school, owner).await?;
                Step::Fenced
            }
            Step::Fenced => {
                self.copy().await?;
                self.check().await?;
                Step::Checked
            }
            Step::Checked => {
                if self.resumed {
                    self.copy().await?;
                    self.check().await?;
                }
                let mut tx = self.journal.pool().begin().await.map_err(Error::db("starting the switch"))?;
                crate::placement::change_in(&mut tx, school, Some(self.entry.from), self.entry.to, "migrate").await?;
                journal::record_in(&mut tx, self.entry.id, Step::Switched).await?;
                tx.commit().await.map_err(Error::db("committing the switch"))?;
                self.entry.step = Step::Switched;
                fence::release(&self.target, school, owner).await?;
                self.report.fence = self.journal.fence_duration(self.entry.id).await?;
                self.report.elapsed += started.elapsed();
                return Ok(Step::Switched);
            }
            Step::Switched => {
                fence::release(&self.target, school, owner).await?;
                let removed = remove_school(&self.source, school).await?;
                self.journal.finish(self.entry.id, Step::Done, &format!("{removed} source rows removed")).await?;
                self.entry.step = Step::Done;
                self.report.elapsed += started.elapsed();
                return Ok(Step::Done);
            }
            done @ (Step::Done | Step::Aborted) => return Ok(done),
        };
        self.journal.record(self.entry.id, next).await?;
        self.entry.step = next;
        self.report.elapsed += started.elapsed();
        Ok(next)
    }

    /// Advances until done.
    pub async fn finish(mut self) -> Result<Report> {
        while !self.advance().await?.finished() {}
        Ok(self.report)
    }

    /// Undoes a migration that has not switched: removes the copy, lifts the fence on the
    /// source and closes the journal row with `why`. Refused after the switch, when the
    /// target is authoritative.
    pub async fn abort(&mut self, why: &str) -> Result<()> {
        if self.entry.step >= Step::Switched {
            return Err(Error::Migration {
                reason: format!(
                    "school {} was switched to server {} already; the target is authoritative, and \
                     `stroom migrate --resume` finishes removing the source's rows",
                    self.entry.school, self.entry.to
                ),
            });
        }
        let school = self.entry.school;
        // The target's head stays fenced: the school does not live there.
        if self.target.schools().await?.contains(&school) {
            fence::take(&self.target, school, self.entry.fence_owner).await?;
            remove_school(&self.target, school).await?;
        }
        fence::release(&self.source, school, self.entry.fence_owner).await?;
        self.journal.finish(self.entry.id, Step::Aborted, why).await?;
        self.entry.step = Step::Aborted;
        Ok(())
    }

    async fn copy(&mut self) -> Result<Copied> {
        let started = Instant::now();
        let copied = copy_round(&self.source, &self.target, self.entry.school).await?;
        self.report.copying += started.elapsed();
        self.report.rows_copied += copied.rows;
        self.report.rounds += 1;
        Ok(copied)
    }

    async fn check(&mut self) -> Result<()> {
        let checks = check::run(&self.source, &self.target, self.entry.school).await?;
        let failed: Vec<&str> = checks.iter().filter(|c| !c.passed()).map(|c| c.name).collect();
        self.report.checks = checks.clone();
        if failed.is_empty() {
            return Ok(());
        }
        let failed = failed.join(", ");
        self.abort(&format!("consistency checks failed: {failed}")).await?;
        Err(Error::Mismatch { school: self.entry.school, to: self.entry.to, failed })
    }
}

/// Deletes a school's rows and stream registry on one server, in one transaction, and sets
/// its head back to 0; returns the rows removed.
async fn remove_school(store: &Store, school: School) -> Result<u64> {
    let mut tx = store.pool().begin().await.map_err(Error::db("removing a school's rows"))?;
    let removed = sqlx::query("DELETE FROM events WHERE school = $1")
        .bind(school)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("removing a school's rows"))?
        .rows_affected();
    for sql in ["DELETE FROM streams WHERE school = $1", "UPDATE school_heads SET position = 0 WHERE school = $1"] {
        sqlx::query(sql).bind(school).execute(&mut *tx).await.map_err(Error::db("removing a school's rows"))?;
    }
    tx.commit().await.map_err(Error::db("removing a school's rows"))?;
    Ok(removed)
}
