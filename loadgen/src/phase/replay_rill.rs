//! Replay mode `rill`: the 2017 rebuild path, rill's catch-up read (pages of 100 in global
//! order, decoded on a second thread, one fold; `stroom_reference::replay::rill_catch_up`), on
//! a log shaped as rill's was: one table. On a store partitioned by school each such page is a
//! merge of every school's partition (6 ms a page over 250 schools, measured with EXPLAIN
//! ANALYZE on rebuild.toml's store: about 16k events/s), a cost rill never paid, which would
//! flatter every ratio to it. So a partitioned history is first copied, in the server and in
//! global order, into a single-log store (`stroom_rill_replay`), and rill reads that; its
//! reference is one COPY out of that same table in global order. A single-log history is read
//! as it is.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use stroom_reference::read_model::Fold;
use stroom_reference::replay::{self, RILL_PAGE};
use stroom_reference::{Layout, Schema, Store};

use super::replay::{copy_out_rate, ReplayOutcome};
use crate::error::{Error, Result};
use crate::figures::{Figure, Figures};
use crate::progress::{note, Progress};
use crate::scenario::ReplayPlan;

/// Measures rill's rebuild `plan.repetitions` times; `history` holds `total` events.
pub async fn run(
    plan: &ReplayPlan,
    (history, url): (&Store, &str),
    total: u64,
    fold: Fold,
    outcome: &mut ReplayOutcome,
    figures: &mut Figures,
) -> Result<()> {
    let copy = match history.schema().layout {
        Layout::Partitioned => Some(one_table(history, url, total).await?),
        Layout::SingleLog | Layout::RillLog => None,
    };
    let log = copy.as_ref().unwrap_or(history);
    let (mut rates, mut ratios) = (Vec::new(), Vec::new());
    for rep in 1..=plan.repetitions {
        let reference = copy_out_rate(log, None, total).await?;
        let progress = Progress::with_total(
            &format!("replay rill (pages of {RILL_PAGE}), repetition {rep}/{}", plan.repetitions),
            total,
        );
        let counter = Arc::new(AtomicU64::new(0));
        let follow = progress.follow(counter.clone());
        let r = replay::rill_catch_up_counted(log, fold, &counter).await?;
        drop(follow);
        progress.done(r.events, r.elapsed.as_secs_f64());
        rates.push(r.events_per_s());
        ratios.push(r.events_per_s() / reference);
        outcome.digests.entry(r.digest.clone()).or_default().push("rill".into());
    }
    figures.insert("replay.rill.events_per_s".into(), Figure::from_repetitions("events/s", rates));
    figures.insert("replay.rill.per_copy_out".into(), Figure::from_repetitions("x", ratios));
    // Results before 2026-12-01 read rill's pages from a partitioned store; this says they did not.
    figures.insert("replay.rill.one_table".into(), Figure::from_repetitions("flag", vec![1.0]));
    if let Some(copy) = copy {
        copy.truncate().await?;
    }
    Ok(())
}

/// The history copied into one table, in the server (`INSERT … SELECT … ORDER BY
/// global_position`, so nothing passes through this process and no event changes its global
/// position), settled and read once unmeasured, as the history itself was before the replays.
async fn one_table(history: &Store, url: &str, total: u64) -> Result<Store> {
    let schema = Schema::new(Layout::SingleLog, history.schema().payload);
    let store = crate::namespace::fresh_store(url, "rill-replay", schema, 4).await?;
    let progress = Progress::with_total("replay rill: copying the history into one table, as rill's log was", total);
    let started = std::time::Instant::now();
    let from: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(history.pool())
        .await
        .map_err(|source| Error::Database { action: "naming the history's schema", source })?;
    let columns =
        "global_position, xid, school, position, id, stream, version, event_type, recorded_at, payload, metadata";
    let copied = sqlx::query(&format!(
        "INSERT INTO events ({columns}) SELECT {columns} FROM \"{from}\".events ORDER BY global_position"
    ))
    .execute(store.pool())
    .await
    .map_err(|source| Error::Database { action: "copying the history into one table", source })?
    .rows_affected();
    progress.done(copied, started.elapsed().as_secs_f64());
    if copied != total {
        note(format_args!("replay rill: the one-table copy holds {copied} events, the history {total}"));
    }
    super::replay::prepare_read(&store).await?;
    Ok(store)
}
