//! A transaction held open in another database of the same cluster: the feed cannot pass
//! it (the xmin is cluster-wide), so every projector on every database waits behind it.
//! The live phase starts one on purpose to show what operators should watch for.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::progress::note;

/// The database the stall runs in: not the run's, to show that another database's
/// transaction freezes this one's feed.
pub const STALL_DATABASE: &str = "postgres";

/// A stall under way; [`Self::done`] gives when the transaction held an id and when it ended.
#[derive(Debug)]
pub struct Stall(JoinHandle<Result<(Instant, Instant)>>);

impl Stall {
    /// Holds a transaction with an id open for `hold`, from `at` on.
    pub fn start(url: &str, at: Instant, hold: Duration) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(Error::Connect)?.database(STALL_DATABASE);
        Ok(Self(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let db = |action| move |source| Error::Database { action, source };
            let mut conn = options.connect().await.map_err(Error::Connect)?;
            let mut tx = conn.begin().await.map_err(db("starting the stall's transaction"))?;
            let xid: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
                .fetch_one(&mut *tx)
                .await
                .map_err(db("taking a transaction id for the stall"))?;
            let started = Instant::now();
            note(format_args!(
                "stall: transaction {xid} open in database {STALL_DATABASE} for {:.0} s",
                hold.as_secs_f64()
            ));
            tokio::time::sleep(hold).await;
            tx.rollback().await.map_err(db("ending the stall's transaction"))?;
            Ok((started, Instant::now()))
        })))
    }

    /// Waits for the stall to end.
    pub async fn done(self) -> Result<(Instant, Instant)> {
        self.0.await.map_err(|e| Error::Task(format!("the stall task failed: {e}")))?
    }
}
