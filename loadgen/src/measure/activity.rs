//! Checkpoints, autovacuum runs and WAL while a window runs: where real stalls come from.
//!
//! A background task polls the server's statistics twice a second and notes when the
//! checkpoint count (`pg_stat_bgwriter`, or `pg_stat_checkpointer` from PostgreSQL 17) or the
//! autovacuum count of stroom's tables (`pg_stat_user_tables`) moves. The statistics are
//! flushed about once a second, so a time is good to a second or so.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::oneshot;

const POLL: Duration = Duration::from_millis(500);

/// What happened on the server during a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// Seconds from the start of the watch at which a checkpoint was seen to complete.
    pub checkpoints_at: Vec<f64>,
    /// Seconds from the start at which autovacuum runs on stroom's tables were seen to end
    /// (one entry per run).
    pub autovacuums_at: Vec<f64>,
    /// WAL written over the window, in bytes.
    pub wal_bytes: f64,
    /// Whether the statistics could be read at all.
    pub known: bool,
}

/// A running watch; [`ActivityWatch::stop`] ends it.
#[derive(Debug)]
pub struct ActivityWatch {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Activity>,
}

#[derive(Clone, Copy)]
struct Counts {
    checkpoints: i64,
    autovacuums: i64,
    wal: f64,
}

async fn counts(pool: &PgPool) -> Option<Counts> {
    let checkpoints: i64 =
        match sqlx::query_scalar("SELECT (num_timed + num_requested)::bigint FROM pg_stat_checkpointer")
            .fetch_one(pool)
            .await
        {
            Ok(n) => n,
            Err(_) => sqlx::query_scalar("SELECT (checkpoints_timed + checkpoints_req)::bigint FROM pg_stat_bgwriter")
                .fetch_one(pool)
                .await
                .ok()?,
        };
    let (autovacuums, wal): (i64, f64) = sqlx::query_as(
        "SELECT coalesce(sum(autovacuum_count), 0)::bigint, \
                (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8 \
         FROM pg_stat_user_tables WHERE schemaname LIKE 'stroom\\_%'",
    )
    .fetch_one(pool)
    .await
    .ok()?;
    Some(Counts { checkpoints, autovacuums, wal })
}

impl ActivityWatch {
    /// Starts polling the server behind `pool`.
    pub fn start(pool: PgPool) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut activity = Activity::default();
            let Some(first) = counts(&pool).await else { return activity };
            activity.known = true;
            let mut last = first;
            loop {
                let done = tokio::select! {
                    _ = &mut stopped => true,
                    _ = tokio::time::sleep(POLL) => false,
                };
                if let Some(now) = counts(&pool).await {
                    let at = started.elapsed().as_secs_f64();
                    for _ in last.checkpoints..now.checkpoints {
                        activity.checkpoints_at.push(at);
                    }
                    for _ in last.autovacuums..now.autovacuums {
                        activity.autovacuums_at.push(at);
                    }
                    activity.wal_bytes = now.wal - first.wal;
                    last = now;
                }
                if done {
                    return activity;
                }
            }
        });
        Self { stop, task }
    }

    /// Stops polling (after one last reading) and returns what was seen.
    pub async fn stop(self) -> Activity {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}
