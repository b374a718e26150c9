//! A checkpoint before each measured step, so no step pays for the dirty pages of the one
//! before it.
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

/// Runs `CHECKPOINT` on `store`'s server; a refusal for want of privilege is noted once and
/// otherwise ignored.
pub async fn settle(store: &Store) -> Result<()> {
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
