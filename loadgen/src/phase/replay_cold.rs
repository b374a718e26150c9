//! The cold rebuild (`[replay] modes = [… "cold"]`): the parallel replay on the most workers,
//! right after a restart that empties both caches, so every byte of the log comes from disk.
//! Its reference is the same read as raw COPY out, after a restart of its own.
//!
//! How the caches are emptied ([`Cluster::restart_cold`]): the server is stopped (shared_buffers
//! go with it), the data files are synced and dropped from the OS page cache with
//! `posix_fadvise(DONTNEED)`, and the server starts again. The result's notes say so, with the
//! page cache's size before and after. It needs a server stroom started: an external one it
//! cannot restart, and the mode says "not run".

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use stroom_cluster::Cluster;
use stroom_reference::read_model::Fold;
use stroom_reference::replay;

use super::replay::ReplayOutcome;
use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::measure::ServerCpu;
use crate::namespace::{on_disk_bytes, open_store};
use crate::progress::{note, Progress};
use crate::scenario::{ReplayPlan, Scenario};

/// Where the cold rebuild runs.
#[derive(Debug, Clone, Copy)]
pub struct Server<'a> {
    /// The cluster stroom started, if it did.
    pub cluster: Option<&'a Cluster>,
    /// Its URL.
    pub url: &'a str,
}

/// Runs the cold rebuild `plan.repetitions` times on `plan`'s most workers.
pub async fn run(
    scenario: &Scenario,
    plan: &ReplayPlan,
    server: Server<'_>,
    fold: Fold,
    outcome: &mut ReplayOutcome,
    figures: &mut Figures,
    notes: &mut Vec<String>,
) -> Result<()> {
    let Some(cluster) = server.cluster else {
        let why =
            "replay cold: not run: the server is not one stroom started, so it cannot be restarted to empty its caches";
        note(format_args!("{why}"));
        notes.push(why.into());
        return Ok(());
    };
    let threads = plan.threads.iter().copied().max().unwrap_or(1);
    let (mut rates, mut mb, mut ratios, mut copy_mb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 1..=plan.repetitions {
        let label = format!("replay cold on {threads} workers, repetition {rep}/{}", plan.repetitions);
        // The reference: the same read as raw COPY out, from cold.
        let (history, _) = cold(cluster, server.url, scenario, threads).await?;
        let bytes = on_disk_bytes(&history).await?;
        let total = history.count().await? as u64;
        let started = std::time::Instant::now();
        replay::copy_out_parallel(&history, threads).await?;
        let reference = started.elapsed().as_secs_f64();
        history.pool().close().await;

        let (history, how) = cold(cluster, server.url, scenario, threads).await?;
        let progress = Progress::with_total(&label, total);
        let counter = Arc::new(AtomicU64::new(0));
        let follow = progress.follow(counter.clone());
        let r = replay::parallel_counted(&history, fold, threads, counter).await?;
        drop(follow);
        progress.done(r.events, r.elapsed.as_secs_f64());
        history.pool().close().await;
        let seconds = r.elapsed.as_secs_f64();
        rates.push(r.events_per_s());
        mb.push(bytes / 1e6 / seconds);
        copy_mb.push(bytes / 1e6 / reference);
        ratios.push(reference / seconds);
        outcome.digests.entry(r.digest.clone()).or_default().push(format!("cold t{threads}"));
        if rep == 1 {
            notes.push(format!(
                "replay cold: each repetition, and the raw COPY out before it, starts from cold: {}",
                how.describe()
            ));
        }
    }
    figures.insert("replay.cold.events_per_s".into(), Figure::from_repetitions("events/s", rates));
    figures.insert("replay.cold.mb_per_s".into(), Figure::from_repetitions("MB/s", mb));
    figures.insert("replay.cold.copy_out_mb_per_s".into(), Figure::from_repetitions("MB/s", copy_mb));
    figures.insert("replay.cold.per_copy_out".into(), Figure::from_repetitions("x", ratios));
    figures.insert("replay.cold.threads".into(), Figure::from_repetitions("threads", vec![threads as f64]));
    Ok(())
}

/// Restarts `cluster` cold and opens the history on it again.
async fn cold(
    cluster: &Cluster,
    url: &str,
    scenario: &Scenario,
    threads: usize,
) -> Result<(stroom_reference::Store, stroom_cluster::ColdStart)> {
    let started = std::time::Instant::now();
    let how = tokio::task::block_in_place(|| cluster.restart_cold())?;
    ServerCpu::watch(cluster.pid());
    note(format_args!(
        "replay cold: server restarted, {} MB of data files evicted in {:.1} s",
        how.evicted_bytes >> 20,
        started.elapsed().as_secs_f64()
    ));
    let connections = u32::try_from(threads).unwrap_or(u32::MAX).saturating_add(2);
    Ok((open_store(url, "history", scenario.schema(), connections).await?, how))
}
