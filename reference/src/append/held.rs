//! Connections an appender keeps between appends instead of handing them back to the pool.
//!
//! sqlx pings every connection it takes back (a Sync and its ReadyForQuery), in a task of its
//! own: on the one-by-one paths (`single`, `rill`, Message DB) that was a second round trip
//! and two thread wake-ups for every append, which pgbench running the same statements does
//! not pay. A connection is kept only after an append that finished cleanly; any other goes
//! back to the pool, whose ping puts it right or closes it.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

use crate::error::{Error, Result};

/// Connections the pool always has for others (lookups, settling, figures): an appender keeps
/// at most the pool's size less these.
const RESERVE: usize = 8;

/// The pool size for one-by-one appenders with `writers` writers: one connection each to keep,
/// and the [`RESERVE`] (at most 90 in all, under the server's 100).
pub fn pool_size_for(writers: usize) -> u32 {
    (writers + RESERVE).clamp(RESERVE, 90) as u32
}

/// An appender's kept connections, shared by its clones.
#[derive(Debug, Clone)]
pub struct Held {
    pool: PgPool,
    idle: Arc<Mutex<Vec<PoolConnection<Postgres>>>>,
    keep: usize,
}

impl Held {
    /// Keeps connections of `pool`, at most its size less [`RESERVE`].
    pub(crate) fn new(pool: PgPool) -> Self {
        let keep = (pool.options().get_max_connections() as usize).saturating_sub(RESERVE);
        Self { pool, idle: Arc::default(), keep }
    }

    /// A kept connection, or one from the pool when none is idle.
    pub(crate) async fn acquire(&self) -> Result<HeldConnection<'_>> {
        let kept = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match kept {
            Some(conn) => conn,
            None => self.pool.acquire().await.map_err(Error::db("acquiring a connection"))?,
        };
        Ok(HeldConnection { conn: Some(conn), held: self, clean: false })
    }

    /// Hands every idle connection back to the pool: before the pool is closed, which waits
    /// for all of its connections to come back.
    pub(crate) fn release(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Connections kept idle now.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A connection taken from [`Held`]; kept on drop only when [`Self::clean`] was called.
#[derive(Debug)]
pub(crate) struct HeldConnection<'a> {
    conn: Option<PoolConnection<Postgres>>,
    held: &'a Held,
    clean: bool,
}

impl HeldConnection<'_> {
    /// Says the connection is idle outside a transaction, with nothing left to read: it may
    /// serve the next append as it is.
    pub(crate) fn clean(&mut self) {
        self.clean = true;
    }
}

impl Deref for HeldConnection<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("a held connection is present until dropped")
    }
}

impl DerefMut for HeldConnection<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a held connection is present until dropped")
    }
}

impl Drop for HeldConnection<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.clean {
            let mut idle = self.held.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.held.keep {
                idle.push(conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::PgPoolOptions;

    fn lazy_pool(max: u32) -> PgPool {
        PgPoolOptions::new().max_connections(max).connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap()
    }

    #[tokio::test]
    async fn the_pool_keeps_its_reserve() {
        assert_eq!(Held::new(lazy_pool(9)).keep, 1);
        assert_eq!(Held::new(lazy_pool(40)).keep, 32);
        assert_eq!(Held::new(lazy_pool(4)).keep, 0);
        assert_eq!(Held::new(lazy_pool(4)).idle(), 0);
        assert_eq!(Held::new(lazy_pool(pool_size_for(8))).keep, 8);
        assert_eq!(pool_size_for(1), 9);
        assert_eq!(pool_size_for(200), 90);
    }
}
