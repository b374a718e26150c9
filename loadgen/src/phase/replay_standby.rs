//! The replay phase's standby part (`[replay] from = "standby"`): why a team rebuilds on a hot
//! standby. A store loaded with the day up to 10:00 takes per-school open-loop appends on the
//! primary in three windows at the same rate: with no rebuild, with rebuilds back to back on
//! the primary, and with rebuilds back to back on a hot standby (PostgreSQL's own streaming
//! replica, `pg_basebackup -R`). Then the last standby rebuild goes live on the primary from
//! its feed snapshot and must give the digest of a rebuild of the primary.
//!
//! Figures (`replay.standby.*`): `quiet.*`, `on_primary.*`, `on_standby.*` (each window's
//! open-loop figures: the primary's append p99 with and without a rebuild running on it);
//! `primary_events_per_s` and `events_per_s` (rebuild rates during the appends); the standby's
//! replication lag during its rebuilds (`replication_lag_max_bytes`, `replication_lag_max_ms`);
//! `live_digest_equal` (1 when going live from the standby's snapshot gave the primary's
//! digest). Both servers share this machine's cores.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::PgPool;
use stroom_cluster::Cluster;
use stroom_reference::read_model::Fold;
use stroom_reference::replay::{parallel, Replayed};
use stroom_reference::{Appender, Layout, Projector, Schema, Strategy, TransactorConfig};

use super::feed::Feed;
use super::open_loop::{open_loop, record_open, Failures};
use super::{all_schools, generator_config};
use crate::error::{Error, Result};
use crate::figures::{Figure, Figures};
use crate::load::bulk_load;
use crate::measure::latency::Recorded;
use crate::namespace::{fresh_store, open_read_only};
use crate::progress::note;
use crate::scenario::{Arrival, Arrivals, Scenario, StandbyPlan};

const WARMUP_S: f64 = 2.0;

/// Runs the standby part; returns each window's latency for the plots.
pub async fn run(
    cluster: Option<&Cluster>,
    url: &str,
    scenario: &Scenario,
    plan: &StandbyPlan,
    fold: Fold,
    figures: &mut Figures,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, Recorded)>> {
    let Some(cluster) = cluster else {
        let why =
            "replay.standby: not run: a standby needs a throwaway cluster stroom started to replicate".to_string();
        note(format_args!("{why}"));
        notes.push(why);
        return Ok(Vec::new());
    };
    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let schema = Schema::new(Layout::Partitioned, scenario.payload);
    let store = fresh_store(url, "standby", schema, 16).await?;
    store.add_schools(&all_schools(scenario)).await?;
    let mut feed = Feed::start_with(generator_config(scenario, cores), 10.0, super::feed::LOW_WATER_LONG);
    let earlier = feed.earlier().await;
    bulk_load(&store, &earlier).await?;
    note(format_args!("replay standby: {} events loaded; starting a hot standby (pg_basebackup -R) …", earlier.len()));
    // The base backup blocks for seconds; other tasks run on the runtime's other threads.
    let standby = tokio::task::block_in_place(|| cluster.start_standby())?;
    let database =
        PgConnectOptions::from_str(url).map_err(Error::Connect)?.get_database().unwrap_or("postgres").to_string();
    let replica = open_read_only(&standby.url_for(&database), "standby", schema, 16).await?;
    caught_up(store.pool(), replica.pool()).await?;
    feed.ready().await;

    let appender = Appender::start(Strategy::PerSchool, &store, TransactorConfig::default()).await?;
    let failures = Failures::default();
    let mut runs = Vec::new();
    let mut last_standby: Option<Replayed> = None;
    for (k, (label, on)) in
        [("quiet", None), ("on_primary", Some(&store)), ("on_standby", Some(&replica))].into_iter().enumerate()
    {
        note(format_args!(
            "replay standby: {:.0} s of appends at {:.0} events/s, rebuilding {}",
            plan.window_s,
            plan.rate,
            match on {
                None => "nothing",
                Some(_) if k == 1 => "on the primary",
                Some(_) => "on the standby",
            }
        ));
        let schedule = (Arrival::Constant(plan.rate), Arrivals::Poisson, scenario.seed ^ (k as u64 + 7));
        let until = Instant::now() + Duration::from_secs_f64(WARMUP_S + plan.window_s);
        let rebuilds = async {
            let Some(on) = on else { return Ok::<_, Error>((0u64, 0.0, None, (0.0f64, 0.0f64))) };
            let lag = (k == 2).then(|| tokio::spawn(watch_lag(store.pool().clone(), until)));
            let (mut events, mut seconds, mut last) = (0u64, 0.0, None);
            while Instant::now() < until {
                let r = parallel(on, fold, cores).await?;
                events += r.events;
                seconds += r.elapsed.as_secs_f64();
                last = Some(r);
            }
            let lag = match lag {
                Some(task) => task.await.map_err(|e| Error::Task(format!("watching replication lag: {e}")))??,
                None => (0.0, 0.0),
            };
            Ok((events, seconds, last, lag))
        };
        let (window, rebuilt) = tokio::join!(
            open_loop(&appender, &mut feed, schedule, plan.users, (WARMUP_S, plan.window_s), &failures, None),
            rebuilds
        );
        let (events, seconds, last, (lag_bytes, lag_ms)) = rebuilt?;
        let prefix = format!("replay.standby.{label}");
        record_open(figures, &prefix, &window.recorded, window.saturated, window.host);
        runs.push((format!("appends, rebuild {label}"), window.recorded));
        match k {
            1 => {
                figures.insert(
                    "replay.standby.primary_events_per_s".into(),
                    one("events/s", events as f64 / seconds.max(1e-9)),
                );
            }
            2 => {
                figures
                    .insert("replay.standby.events_per_s".into(), one("events/s", events as f64 / seconds.max(1e-9)));
                figures.insert("replay.standby.replication_lag_max_bytes".into(), one("bytes", lag_bytes));
                figures.insert("replay.standby.replication_lag_max_ms".into(), one("ms", lag_ms));
                last_standby = last;
            }
            _ => {}
        }
    }
    failures.report("replay standby");
    drop(feed);
    appender.stop().await;

    // Live on the primary from where the standby's last rebuild stopped.
    if let Some(rebuilt) = last_standby {
        let mut live = Projector::after_replay(store.clone(), fold, rebuilt)?;
        live.catch_up().await?;
        let whole = parallel(&store, fold, cores).await?;
        let equal = live.model().digest() == whole.digest;
        note(format_args!(
            "replay standby: the standby's rebuild, gone live on the primary, {} the primary's rebuild ({} events)",
            if equal { "equals" } else { "DIFFERS FROM" },
            whole.events
        ));
        figures.insert("replay.standby.live_digest_equal".into(), one("flag", f64::from(u8::from(equal))));
    }
    replica.pool().close().await;
    store.pool().close().await;
    drop(standby);
    Ok(runs)
}

/// Waits until the standby replayed everything the primary wrote so far: the insert position,
/// since with synchronous_commit off a commit can sit in the WAL buffers past the write position.
async fn caught_up(primary: &PgPool, standby: &PgPool) -> Result<()> {
    let db = |action| move |source| Error::Database { action, source };
    let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
        .fetch_one(primary)
        .await
        .map_err(db("reading the primary's WAL position"))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done: bool = sqlx::query_scalar("SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)")
            .bind(&lsn)
            .fetch_one(standby)
            .await
            .map_err(db("reading the standby's replay position"))?;
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Task(format!("the standby did not replay the primary's WAL up to {lsn} in 300 s")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The standby's largest replication lag until `until`, in WAL bytes not yet replayed and in
/// the primary's own measure (`pg_stat_replication.replay_lag`), polled every 100 ms.
async fn watch_lag(primary: PgPool, until: Instant) -> Result<(f64, f64)> {
    let (mut bytes, mut ms) = (0.0f64, 0.0f64);
    while Instant::now() < until {
        let row: Option<(Option<f64>, Option<f64>)> = sqlx::query_as(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8, \
                    (extract(epoch FROM replay_lag) * 1000)::float8 FROM pg_stat_replication LIMIT 1",
        )
        .fetch_optional(&primary)
        .await
        .map_err(|source| Error::Database { action: "reading the replication lag", source })?;
        if let Some((b, m)) = row {
            bytes = bytes.max(b.unwrap_or(0.0));
            ms = ms.max(m.unwrap_or(0.0));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((bytes, ms))
}
