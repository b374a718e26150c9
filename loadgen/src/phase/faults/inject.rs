//! The faults themselves, on the throwaway cluster.

use std::time::{Duration, Instant};

use stroom_cluster::Cluster;
use stroom_reference::Store;

use super::child::Writer;
use crate::error::{Error, Result};
use crate::scenario::Fault;

/// What became of a fault.
pub enum Injected {
    /// Injected and over, in words.
    Done(String),
    /// This machine cannot inject it: why.
    NotRun(String),
}

/// Free space left on the WAL's filesystem: room for one new 16 MB segment (the server may
/// make one as it starts; with less it cannot start at all) and half of another, so the
/// second new segment cannot be made.
const WAL_FS_FREE: u64 = 24 << 20;
/// What the WAL's filesystem is grown to once full: room for `max_wal_size` (1 GB) and more.
/// A tmpfs takes memory only for what is written.
const WAL_FS_GROWN: u64 = 2 << 30;
/// How long segment switches may take to fill the filesystem before the fault gives up.
const FILL_LIMIT: Duration = Duration::from_secs(60);

/// Injects `fault` and returns once it is over: the server restarted, the backends ended,
/// the lock released.
pub async fn inject(
    fault: Fault,
    cluster: &Cluster,
    store: &Store,
    stall: Duration,
    writer: Option<&mut Writer>,
) -> Result<Injected> {
    let done = match fault {
        Fault::DiskFull => return disk_full(cluster, store).await,
        _ => other(fault, cluster, store, stall, writer).await?,
    };
    Ok(Injected::Done(done))
}

async fn other(
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
        Fault::DiskFull => unreachable!("injected by disk_full"),
    }
}

/// Moves the WAL onto a tmpfs with less free space than a segment, switches segments until the
/// server panics for want of space, grows the filesystem and restarts the server.
async fn disk_full(cluster: &Cluster, store: &Store) -> Result<Injected> {
    if let Err(why) = Cluster::can_mount_wal_fs() {
        return Ok(Injected::NotRun(why));
    }
    let size = tokio::task::block_in_place(|| cluster.wal_on_small_fs(WAL_FS_FREE))?;
    let filling = Instant::now();
    let mut switches = 0u32;
    loop {
        if cluster.diagnose().is_some_and(|d| d.contains("disk is full")) {
            break;
        }
        if filling.elapsed() > FILL_LIMIT {
            return Err(Error::Reference(format!(
                "disk-full: the WAL's {} MB filesystem did not fill within {} s ({switches} segment switches)",
                size >> 20,
                FILL_LIMIT.as_secs()
            )));
        }
        // Each switch ends the segment; the next must be a new file once recycled ones run out.
        if sqlx::query("SELECT pg_switch_wal()").execute(store.pool()).await.is_ok() {
            switches += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let full_after = filling.elapsed();
    // Left alone, the server tries crash recovery on the full filesystem; then space is freed
    // and it is restarted, as an operator would.
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::block_in_place(|| cluster.grow_wal_fs(WAL_FS_GROWN))?;
    tokio::task::block_in_place(|| cluster.crash_restart())?;
    Ok(Injected::Done(format!(
        "WAL moved onto a {} MB tmpfs; {switches} segment switches filled it in {:.1} s and the server panicked \
         (no space left on device); grown to {} MB and restarted",
        size >> 20,
        full_after.as_secs_f64(),
        WAL_FS_GROWN >> 20
    )))
}
