//! The faults themselves, on the throwaway cluster.

use std::time::Duration;

use stroom_cluster::Cluster;
use stroom_reference::Store;

use super::child::Writer;
use crate::error::{Error, Result};
use crate::scenario::Fault;

/// Injects `fault` and returns once it is over: the server restarted, the backends ended,
/// the lock released. Returns what was done, in words.
pub async fn inject(
    fault: Fault,
    cluster: &Cluster,
    store: &Store,
    stall: Duration,
    writer: Option<&mut Writer>,
) -> Result<String> {
    let db = |action| move |source| Error::Database { action, source };
    match fault {
        Fault::PostmasterKill => {
            // Blocking: it waits for the old server to die and the new one to accept connections.
            let started = std::time::Instant::now();
            tokio::task::block_in_place(|| cluster.crash_restart())?;
            Ok(format!(
                "SIGKILL of the postmaster and every backend; restarted in {:.1} s",
                started.elapsed().as_secs_f64()
            ))
        }
        Fault::BackendTerminate => {
            let (killed, of): (i64, i64) = sqlx::query_as(
                "WITH mine AS (SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                                 AND backend_type = 'client backend' AND pid <> pg_backend_pid()), \
                      chosen AS (SELECT pid FROM mine ORDER BY random() LIMIT (SELECT greatest(1, count(*) / 2) FROM mine)) \
                 SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)), (SELECT count(*) FROM mine) FROM chosen",
            )
            .fetch_one(store.pool())
            .await
            .map_err(db("terminating backends"))?;
            Ok(format!("pg_terminate_backend of {killed} of {of} connections"))
        }
        Fault::ProcessRestart => {
            let writer =
                writer.ok_or_else(|| Error::Reference("process-restart: no writer process was started".into()))?;
            writer.restart().await?;
            Ok("SIGKILL of the appending process; a new one started, to take its leases over".into())
        }
        Fault::LockStall => {
            let mut tx = store.pool().begin().await.map_err(db("starting the lock stall"))?;
            sqlx::query("LOCK TABLE school_heads IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .map_err(db("taking the stall's lock"))?;
            tokio::time::sleep(stall).await;
            tx.commit().await.map_err(db("releasing the stall's lock"))?;
            Ok(format!("ACCESS EXCLUSIVE lock on school_heads held for {:.1} s", stall.as_secs_f64()))
        }
    }
}
