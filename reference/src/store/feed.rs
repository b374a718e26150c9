//! The global feed: every event across schools in one order, for consumers such as analytics.
//!
//! Global positions come from a sequence, taken when a row is inserted, so they do not follow
//! commit order: a transaction can hold position 9 uncommitted while 10 is visible. A reader
//! that followed positions would skip 9. The feed therefore orders by (transaction id,
//! global position) and returns only rows whose transaction id is below the xmin of a snapshot
//! taken just before (its horizon): every transaction below xmin has ended, so no row can ever
//! appear behind the cursor.
//!
//! The trade-off: one long-running transaction holds xmin back, and the feed stalls behind it
//! (for every reader, whatever schools they care about) until it ends.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgConnection;

use super::read::select_columns;
use super::Store;
use crate::error::{Error, Result};
use crate::event::RecordedEvent;

/// Where a feed reader is: the (transaction id, global position) of the last event it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct FeedCursor {
    /// Transaction id (`xid8`) of the last event read; 0 at the start.
    pub xid: i64,
    /// Global position of the last event read; 0 at the start.
    pub global_position: i64,
}

/// A snapshot a rebuild read, in transaction ids: everything below `xmin` had ended, `xip`
/// were still running, and everything from `xmax` on had not started. The events it sees are
/// those of the transactions it [`holds`](Self::holds); every snapshot taken later sees the
/// same committed ones among them, so parallel workers each in their own snapshot, all
/// filtered by one `FeedSnapshot`, read exactly one set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedSnapshot {
    /// The oldest transaction still running (or `xmax` if none).
    pub xmin: i64,
    /// The first transaction id not yet assigned.
    pub xmax: i64,
    /// Transactions running, between the two.
    pub xip: Vec<i64>,
}

impl FeedSnapshot {
    /// The snapshot of a fresh statement now.
    pub async fn take(store: &Store) -> Result<Self> {
        let (xmin, xmax, xip): (i64, i64, Vec<i64>) = sqlx::query_as(
            "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,                     ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) x ORDER BY 1)              FROM (SELECT pg_current_snapshot() AS s) q",
        )
        .fetch_one(store.pool())
        .await
        .map_err(Error::db("reading the current snapshot"))?;
        Ok(Self { xmin, xmax, xip })
    }

    /// Whether transaction `xid`'s events are among those this snapshot sees (had it
    /// committed): below `xmin`, or below `xmax` and not running.
    pub fn holds(&self, xid: i64) -> bool {
        xid < self.xmin || (xid < self.xmax && self.xip.binary_search(&xid).is_err())
    }

    /// The same as a SQL condition on the `xid` column.
    pub fn condition(&self) -> String {
        let running = self.xip.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
        format!(
            "(xid < '{}'::xid8 OR (xid < '{}'::xid8 AND NOT xid = ANY('{{{running}}}'::xid8[])))",
            self.xmin, self.xmax
        )
    }

    /// Where the feed continues after what this snapshot holds: the feed only passes ended
    /// transactions in id order, so everything before this cursor is held; after it, the
    /// held transactions from `xmin` to `xmax` must be skipped, not folded again.
    pub fn cursor(&self) -> FeedCursor {
        FeedCursor { xid: self.xmin - 1, global_position: i64::MAX }
    }
}

impl Store {
    /// The same store on a connection of its own whose statements keep one generic plan.
    ///
    /// A partitioned store's pool plans every statement afresh (`force_custom_plan`), so that
    /// a statement about one school prunes the other partitions. The feed's statement names no
    /// school: nothing is pruned, and planning its merge of 251 partitions' feed indexes took
    /// 26–30 ms on each poll, against 6–7.5 ms run from a cached generic plan (see
    /// `results/live.md`). A projector reads the feed through this.
    pub fn feed_reader(&self) -> Store {
        let options = (*self.pool.connect_options()).clone().options([("plan_cache_mode", "force_generic_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(std::time::Duration::from_secs(60))
            .connect_lazy_with(options);
        Store { pool, ..self.clone() }
    }

    /// The feed's horizon now: the oldest transaction still running, below which every
    /// transaction has ended. The feed passes only rows below it, so while it stays where it
    /// was when the feed was last read to its end, the feed has nothing new.
    pub async fn feed_horizon(&self) -> Result<i64> {
        let mut conn = self.pool().acquire().await.map_err(Error::db("acquiring a connection for the feed"))?;
        self.feed_horizon_on(&mut conn).await
    }

    /// [`Self::feed_horizon`] on `conn`: a caller that keeps its connection between polls
    /// saves the round trip sqlx makes (a ping) each time a pooled connection goes back.
    pub async fn feed_horizon_on(&self, conn: &mut PgConnection) -> Result<i64> {
        sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(conn)
            .await
            .map_err(Error::db("reading the feed's horizon"))
    }

    /// Up to `limit` events after `cursor` in feed order, and the cursor after them.
    pub async fn read_feed(&self, cursor: FeedCursor, limit: usize) -> Result<(Vec<RecordedEvent>, FeedCursor)> {
        let (events, next) = self.read_feed_xids(cursor, limit).await?;
        Ok((events.into_iter().map(|(_, e)| e).collect(), next))
    }

    /// [`Self::read_feed`], with each event's transaction id.
    pub async fn read_feed_xids(
        &self,
        cursor: FeedCursor,
        limit: usize,
    ) -> Result<(Vec<(i64, RecordedEvent)>, FeedCursor)> {
        let horizon = self.feed_horizon().await?;
        self.read_feed_below(cursor, horizon, limit).await
    }

    /// [`Self::read_feed_xids`] up to a `horizon` read earlier with [`Self::feed_horizon`]:
    /// every transaction below it has ended, so no row can appear there behind the cursor.
    pub async fn read_feed_below(
        &self,
        cursor: FeedCursor,
        horizon: i64,
        limit: usize,
    ) -> Result<(Vec<(i64, RecordedEvent)>, FeedCursor)> {
        let mut conn = self.pool().acquire().await.map_err(Error::db("acquiring a connection for the feed"))?;
        self.read_feed_below_on(&mut conn, cursor, horizon, limit).await
    }

    /// [`Self::read_feed_below`] on `conn` (see [`Self::feed_horizon_on`]).
    pub async fn read_feed_below_on(
        &self,
        conn: &mut PgConnection,
        cursor: FeedCursor,
        horizon: i64,
        limit: usize,
    ) -> Result<(Vec<(i64, RecordedEvent)>, FeedCursor)> {
        let sql = format!(
            "SELECT {cols}, xid::text::bigint AS xid_value FROM events \
             WHERE (xid, global_position) > ($1::text::xid8, $2) AND xid < $3::text::xid8 \
             ORDER BY xid, global_position LIMIT $4",
            cols = select_columns(self)
        );
        let rows: Vec<FeedRow> = sqlx::query_as(&sql)
            .bind(cursor.xid.to_string())
            .bind(cursor.global_position)
            .bind(horizon.to_string())
            .bind(limit as i64)
            .fetch_all(conn)
            .await
            .map_err(Error::db("reading the global feed"))?;
        let mut next = cursor;
        let mut events = Vec::with_capacity(rows.len());
        for mut row in rows {
            next = FeedCursor { xid: row.xid_value, global_position: row.event.global_position };
            self.upcasters.apply(&mut row.event);
            events.push((row.xid_value, row.event));
        }
        Ok((events, next))
    }
}

/// The oldest transaction open on the cluster that has a transaction id: the feed cannot pass
/// it, whatever database it is in, until it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedBlocker {
    /// Its transaction id (32-bit, as `pg_stat_activity` shows it).
    pub xid: i64,
    /// The database it runs in.
    pub database: String,
    /// How long it has been open, in seconds.
    pub open_for_s: f64,
    /// The backend's process id.
    pub pid: i32,
}

impl std::fmt::Display for FeedBlocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "waiting on transaction {} in database {}, open for {:.1} s (pid {})",
            self.xid, self.database, self.open_for_s, self.pid
        )
    }
}

impl Store {
    /// The oldest open transaction with an id, other than this connection's, if any. A
    /// projector that is behind names it instead of falling silent.
    pub async fn feed_blocker(&self) -> Result<Option<FeedBlocker>> {
        let row: Option<(i64, String, f64, i32)> = sqlx::query_as(
            "SELECT backend_xid::text::bigint, coalesce(datname, ''),                     coalesce(extract(epoch FROM clock_timestamp() - xact_start), 0)::float8, pid              FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()              ORDER BY age(backend_xid) DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(Error::db("finding the oldest open transaction"))?;
        Ok(row.map(|(xid, database, open_for_s, pid)| FeedBlocker { xid, database, open_for_s, pid }))
    }
}

#[derive(sqlx::FromRow)]
struct FeedRow {
    #[sqlx(flatten)]
    event: RecordedEvent,
    xid_value: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_holds_what_ended_before_it_and_not_what_ran() {
        let s = FeedSnapshot { xmin: 100, xmax: 110, xip: vec![100, 104] };
        let held: Vec<i64> = (95..112).filter(|&x| s.holds(x)).collect();
        assert_eq!(held, vec![95, 96, 97, 98, 99, 101, 102, 103, 105, 106, 107, 108, 109]);
        assert_eq!(s.cursor(), FeedCursor { xid: 99, global_position: i64::MAX });
        assert_eq!(s.condition(), "(xid < '100'::xid8 OR (xid < '110'::xid8 AND NOT xid = ANY('{100,104}'::xid8[])))");
        let idle = FeedSnapshot { xmin: 7, xmax: 7, xip: vec![] };
        assert!(idle.holds(6) && !idle.holds(7));
        assert!(idle.condition().ends_with("ANY('{}'::xid8[])))"));
    }
}
