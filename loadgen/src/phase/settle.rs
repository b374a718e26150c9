//! Housekeeping before each measured step, so no step pays for what the ones before it left:
//! stroom's tables with work pending are vacuumed and analyzed, then a checkpoint flushes the
//! dirty pages.
//!
//! Autovacuum wakes once a minute and then works through every table past its thresholds: on
//! a 2-core machine its workers took a core from whatever step was running, and which step
//! that was depended on the clock. Inserts alone put a table past them (a bulk-loaded history,
//! the calibrate store, each strategy's store as it grows). Vacuumed here first, a table only
//! crosses them again after seconds of fresh inserts: autovacuum still runs, and may still
//! start inside a long insert-heavy step, but the backlog of earlier phases and steps is done
//! before the clock starts. Only namespaces named `stroom_*` are touched.
//!
//! With durable settings a checkpoint that lands inside a step costs that step its writes and
//! the full-page images of every page it touches first afterwards, and where checkpoints fell
//! was chance. Per-school at 16384 writers (per-school-only scenario, same machine, 2026-11-27):
//! seven runs without settling ranged 40.5k–56.3k events/s, three with it 46.1k–51.2k; the raw
//! COPY in ranged 104k–152k over the day without it and 130k–138k with it. Every step now
//! starts just after a checkpoint, so each pays the full-page images of the pages it touches
//! first: the durable cost right after a checkpoint, the same for every step.
//!
//! `CHECKPOINT` needs superuser or `pg_checkpoint`; a role without either is told once and the
//! run goes on unsettled. Any other failure (a lost connection, a full disk) ends the run.

use std::sync::atomic::{AtomicBool, Ordering};

use stroom_reference::Store;

use crate::error::{is_permission_denied, Error, Result};
use crate::progress::note;

static REFUSED: AtomicBool = AtomicBool::new(false);

/// Vacuums and analyzes stroom's tables that have work pending, then runs `CHECKPOINT` on
/// `store`'s server; a checkpoint refused for want of privilege is noted once and otherwise
/// ignored.
pub async fn settle(store: &Store) -> Result<()> {
    vacuum(store).await?;
    if REFUSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let Err(e) = sqlx::query("CHECKPOINT").execute(store.pool()).await else { return Ok(()) };
    if !is_permission_denied(&e) {
        return Err(Error::Database { action: "checkpointing before a measured step", source: e });
    }
    if !REFUSED.swap(true, Ordering::Relaxed) {
        note(format_args!(
            "cannot checkpoint between steps ({e}); steps may pay for each other's writes (GRANT pg_checkpoint TO <role>)"
        ));
    }
    Ok(())
}

/// `VACUUM (ANALYZE)` of every table in a `stroom_*` namespace past half of autovacuum's default
/// thresholds: inserts not yet vacuumed over 500 + 10% of its rows, dead rows over 25 + 10%, or
/// changes not yet analyzed over 25 + 5%. Those are the tables autovacuum would reach for during
/// the next step; one a short step barely touched is left alone (analyzing every touched
/// partition of a 4M-event store took 12 s before each step). A table the role may not vacuum
/// is skipped with a server warning, as VACUUM does.
async fn vacuum(store: &Store) -> Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', s.schemaname, s.relname) \
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.schemaname LIKE 'stroom\\_%' \
           AND (s.n_ins_since_vacuum > 500 + 0.1 * greatest(c.reltuples, 0) \
                OR s.n_dead_tup > 25 + 0.1 * greatest(c.reltuples, 0) \
                OR s.n_mod_since_analyze > 25 + 0.05 * greatest(c.reltuples, 0)) \
         ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .map_err(|source| Error::Database { action: "finding tables to vacuum before a measured step", source })?;
    if tables.is_empty() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    // VACUUM cannot run in a transaction block: the simple protocol sends it on its own.
    sqlx::raw_sql(&format!("VACUUM (ANALYZE, SKIP_LOCKED) {}", tables.join(", ")))
        .execute(store.pool())
        .await
        .map_err(|source| Error::Database { action: "vacuuming before a measured step", source })?;
    let secs = started.elapsed().as_secs_f64();
    if secs >= 1.0 {
        note(format_args!("settle: vacuumed and analyzed {} tables in {secs:.1} s", tables.len()));
    }
    Ok(())
}
