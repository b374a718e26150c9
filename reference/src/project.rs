//! The live read side: a projector tails the global feed and folds each event into its
//! in-memory read model, in batches, from a cursor it keeps.
//!
//! A projector starts either from the beginning of the log or where a replay stopped
//! ([`crate::replay::Replayed::snapshot`]): the replayed model holds the events of the
//! transactions that snapshot holds and no others. The projector continues from the
//! snapshot's feed cursor and skips, until the feed passes the snapshot's `xmax`, the events of
//! held transactions it meets again, so going live skips nothing and applies nothing twice.
//! Several projectors may follow one log, each with its own handler set.
//!
//! The feed only passes transactions that have ended (see `store/feed.rs`), so one long
//! transaction anywhere on the cluster holds every projector back until it ends;
//! [`Store::feed_blocker`] names it.

use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use crate::error::{Error, Result};
use crate::event::RecordedEvent;
use crate::read_model::{Fold, ReadModel};
use crate::replay::{recorded, Replayed};
use crate::store::{FeedCursor, FeedSnapshot, Store};

/// Events read from the feed at a time unless [`Projector::with_batch`] says otherwise.
pub const DEFAULT_BATCH: usize = 1000;

/// One poll's read: events below the horizon (each with its transaction id) and the cursor
/// after them.
struct Batch {
    events: Vec<(i64, RecordedEvent)>,
    next: FeedCursor,
    horizon: i64,
}

/// A read model kept up to date from the global feed.
#[derive(Debug)]
pub struct Projector {
    store: Store,
    /// The feed reader's one connection, kept between polls: each return to the pool cost a
    /// round trip (sqlx pings a connection that comes back), two per poll beside its own two.
    /// Dropped after an error, so the next poll starts on a fresh one.
    conn: Option<PoolConnection<Postgres>>,
    fold: Fold,
    model: ReadModel,
    cursor: FeedCursor,
    /// The rebuild's snapshot, while the feed may still bring events it already folded.
    skip: Option<FeedSnapshot>,
    batch: usize,
    /// The horizon at which the feed was last read to its end: until it moves, the feed has
    /// nothing new, and a poll costs one cheap statement instead of the feed's merge.
    exhausted_at: Option<i64>,
}

impl Projector {
    /// An empty model at the start of the feed.
    pub fn from_start(store: Store, fold: Fold) -> Self {
        Self::resume(store, fold, ReadModel::default(), FeedCursor::default())
    }

    /// `model`, which holds exactly the feed's events up to `cursor`, continued from there.
    /// It reads the feed on a connection of its own ([`Store::feed_reader`]).
    pub fn resume(store: Store, fold: Fold, model: ReadModel, cursor: FeedCursor) -> Self {
        let store = store.feed_reader();
        Self { store, conn: None, fold, model, cursor, skip: None, batch: DEFAULT_BATCH, exhausted_at: None }
    }

    /// `model`, which holds exactly the events of the transactions `snapshot` holds, continued
    /// from there.
    pub fn resume_after(store: Store, fold: Fold, model: ReadModel, snapshot: FeedSnapshot) -> Self {
        let mut p = Self::resume(store, fold, model, snapshot.cursor());
        p.skip = Some(snapshot);
        p
    }

    /// Goes live where `replayed` stopped. It must be a replay of `store` folded with `fold`,
    /// and one that ends at a feed cursor (sequential or parallel).
    pub fn after_replay(store: Store, fold: Fold, replayed: Replayed) -> Result<Self> {
        let snapshot = replayed.snapshot.ok_or_else(|| Error::Rejected {
            rule: "only a sequential or parallel replay of stroom's store ends at a feed snapshot".into(),
        })?;
        Ok(Self::resume_after(store, fold, replayed.model, snapshot))
    }

    /// Reads up to `batch` events at a time (at least 1).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Folds the next batch of the feed, calling `seen` with each event after it is folded;
    /// returns how many the feed passed, skipped ones included (0: caught up, for now).
    pub async fn step_observed(&mut self, mut seen: impl FnMut(&RecordedEvent)) -> Result<usize> {
        let began = std::time::Instant::now();
        let Some(Batch { events, next, horizon }) = self.poll().await? else {
            return Ok(0); // no transaction has ended since the feed was read to its end
        };
        crate::slowdown::after_poll(began);
        self.exhausted_at = (events.len() < self.batch).then_some(horizon);
        let n = events.len();
        for (xid, e) in &events {
            if self.skip.as_ref().is_some_and(|s| s.holds(*xid)) {
                continue; // in the rebuilt model already
            }
            self.fold.apply(&mut self.model, &recorded(e)?);
            seen(e);
        }
        self.cursor = next;
        if self.skip.as_ref().is_some_and(|s| self.cursor.xid >= s.xmax) {
            self.skip = None; // past every transaction the snapshot holds
        }
        Ok(n)
    }

    /// The feed's horizon and the next batch below it, on the kept connection; `None` when
    /// the horizon has not moved since the feed was read to its end.
    async fn poll(&mut self) -> Result<Option<Batch>> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(
                self.store.pool().acquire().await.map_err(Error::db("acquiring the feed reader's connection"))?,
            ),
        };
        let read = async {
            let horizon = self.store.feed_horizon_on(conn).await?;
            if self.exhausted_at == Some(horizon) {
                return Ok(None);
            }
            let (events, next) = self.store.read_feed_below_on(conn, self.cursor, horizon, self.batch).await?;
            Ok(Some(Batch { events, next, horizon }))
        };
        let polled = read.await;
        if polled.is_err() {
            self.conn = None;
        }
        polled
    }

    /// [`Self::step_observed`] without an observer.
    pub async fn step(&mut self) -> Result<usize> {
        self.step_observed(|_| {}).await
    }

    /// Folds batches until the feed has nothing more to pass; returns the events folded.
    pub async fn catch_up(&mut self) -> Result<u64> {
        let mut n = 0u64;
        loop {
            match self.step().await? {
                0 => return Ok(n),
                k => n += k as u64,
            }
        }
    }

    /// Whether the last step read the feed to its end (as far as the feed could pass then):
    /// what more there is has ended since. False before the first step and after a full batch.
    pub fn caught_up(&self) -> bool {
        self.exhausted_at.is_some()
    }

    /// The model so far.
    pub fn model(&self) -> &ReadModel {
        &self.model
    }

    /// The model, giving up the projector.
    pub fn into_model(self) -> ReadModel {
        self.model
    }

    /// The feed position of the last event folded.
    pub fn cursor(&self) -> FeedCursor {
        self.cursor
    }

    /// The handler set and fold it applies.
    pub fn fold(&self) -> Fold {
        self.fold
    }
}
