//! The calibrate phase: the same-run references every headline is divided by, each the best
//! this machine does with the same rows.
//!
//! * **COPY in** (`calibrate.copy_in`): the rows the append steps write, the same events of
//!   the same day from `[append] start_hour` on, in the order the feed hands them out, into a
//!   store of the same schema loaded with the day up to then. They go by binary COPY over k
//!   parallel connections, each taking a share of the schools (balanced by rows) in one
//!   transaction, as a parallel bulk loader would. k sweeps `[calibrate] connections`
//!   (default 1, the cores, twice the cores); each k is `calibrate.copy_in.k<k>`, the best k
//!   is the reference.
//! * **COPY out** (`calibrate.copy_out`): the raw read a parallel replay makes, by school on
//!   k connections, split exactly as the replay splits the log (`replay::copy_out_parallel`),
//!   best k the reference; and the one-connection read in global order a sequential replay
//!   makes (`calibrate.copy_out_ordered`). The history is settled and warmed first, exactly as
//!   before the replay steps ([`super::replay::prepare_read`]).
//!
//! * **A durable commit** (`calibrate.commit_p50_ms`, [`super::commit_reference`]): what
//!   latencies are divided by.
//! * **A fixed fold** (`calibrate.cpu_fold`, [`super::cpu_reference`]): what figures bound by
//!   stroom's own CPU (fold, memory replay, generator) are divided by.
//!
//! The COPY references also record the server's CPU per event (`…server_cpu_us_per_event`), read from
//! `/proc` when stroom started the server; elsewhere the figure is absent.

use std::collections::HashMap;
use std::time::Instant;

use stroom_reference::replay::copy_out_parallel;
use stroom_reference::{Store, StoredEvent};

use super::feed::Feed;
use super::{all_schools, generator_config, settle};
use crate::error::{Error, Result};
use crate::figures::{Figure, Figures};
use crate::measure::{HostCpu, ServerCpu, Steal};
use crate::namespace::fresh_store;
use crate::progress::{note, Progress};
use crate::scenario::{Calibrate, Scenario};

/// Measures COPY in and COPY out, `plan.repetitions` times each per connection count; the
/// rows copied in start at `start_hour` of the first day, where the append steps start.
pub async fn run(
    url: &str,
    scenario: &Scenario,
    history: &Store,
    plan: &Calibrate,
    start_hour: f64,
    figures: &mut Figures,
) -> Result<()> {
    let max_k = plan.connections.iter().copied().max().unwrap_or(1) as u32;
    let store = fresh_store(url, "calibrate", scenario.schema(), max_k + 2).await?;
    store.add_schools(&all_schools(scenario)).await?;
    let (earlier, rows) = feed_rows(scenario, start_hour, plan.rows).await;
    note(format_args!(
        "calibrate: {} rows from {start_hour:02}:00 of the first day, as the append steps write them",
        rows.len()
    ));
    copy_in(&store, &earlier, &rows, plan, figures).await?;
    super::commit_reference::run(&store, plan.repetitions as usize, figures).await?;
    store.pool().close().await;
    super::cpu_reference::run(figures)?;
    copy_out(history, plan, figures).await
}

async fn copy_in(
    store: &Store,
    earlier: &[StoredEvent],
    rows: &[(StoredEvent, i64)],
    plan: &Calibrate,
    figures: &mut Figures,
) -> Result<()> {
    let mut best: Option<(usize, Figure)> = None;
    let mut steal = Steal::default();
    for &k in &plan.connections {
        let shares = shares(rows, k);
        let (mut rates, mut cpu) = (Vec::new(), Vec::new());
        for rep in 1..=plan.repetitions {
            store.truncate().await?;
            crate::load::bulk_load(store, earlier).await?;
            settle(store).await?;
            let progress = Progress::phase(&format!(
                "calibrate: COPY in on {k} connections, repetition {rep}/{}",
                plan.repetitions
            ));
            let before = ServerCpu::now();
            let host = HostCpu::now();
            let started = Instant::now();
            copy_in_parallel(store, &shares).await?;
            let secs = started.elapsed().as_secs_f64();
            let after = ServerCpu::now();
            steal.add(host);
            progress.done(rows.len() as u64, secs);
            rates.push(rows.len() as f64 / secs);
            cpu.extend(ServerCpu::us_per_event(before, after, rows.len() as u64));
        }
        let figure = Figure::from_repetitions("events/s", rates);
        if best.as_ref().is_none_or(|(_, b)| figure.value > b.value) {
            best = Some((k, figure.clone()));
        }
        figures.insert(format!("calibrate.copy_in.k{k}.events_per_s"), figure);
        if !cpu.is_empty() {
            figures
                .insert(format!("calibrate.copy_in.k{k}.server_cpu_us_per_event"), Figure::from_repetitions("µs", cpu));
        }
    }
    if let Some((k, figure)) = best {
        best_of(figures, "calibrate.copy_in", k, figure);
    }
    steal.record(figures, "calibrate.copy_in.host_steal_share");
    Ok(())
}

async fn copy_out(history: &Store, plan: &Calibrate, figures: &mut Figures) -> Result<()> {
    super::replay::prepare_read(history).await?;
    let rows = history.count().await? as u64;
    let mut best: Option<(usize, Figure)> = None;
    let mut runs: Vec<(Option<usize>, &str)> = plan.connections.iter().map(|&k| (Some(k), "")).collect();
    runs.push((None, "ordered"));
    for (k, _) in runs {
        let (mut rates, mut cpu, mut mb) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 1..=plan.repetitions {
            let what = match k {
                Some(k) => format!("by school on {k} connections"),
                None => "in global order on one connection".into(),
            };
            let progress =
                Progress::phase(&format!("calibrate: COPY out {what}, repetition {rep}/{}", plan.repetitions));
            let before = ServerCpu::now();
            let started = Instant::now();
            let bytes = match k {
                Some(k) => copy_out_parallel(history, k).await?,
                None => history.raw_copy_out().await?,
            };
            let secs = started.elapsed().as_secs_f64();
            let after = ServerCpu::now();
            progress.done(rows, secs);
            rates.push(rows as f64 / secs);
            mb.push(bytes as f64 / secs / 1e6);
            cpu.extend(ServerCpu::us_per_event(before, after, rows));
        }
        let prefix = match k {
            Some(k) => format!("calibrate.copy_out.k{k}"),
            None => "calibrate.copy_out_ordered".into(),
        };
        let figure = Figure::from_repetitions("events/s", rates);
        figures.insert(format!("{prefix}.events_per_s"), figure.clone());
        figures.insert(format!("{prefix}.mb_per_s"), Figure::from_repetitions("MB/s", mb));
        if !cpu.is_empty() {
            figures.insert(format!("{prefix}.server_cpu_us_per_event"), Figure::from_repetitions("µs", cpu));
        }
        if let Some(k) = k {
            if best.as_ref().is_none_or(|(_, b)| figure.value > b.value) {
                best = Some((k, figure));
            }
        }
    }
    if let Some((k, figure)) = best {
        best_of(figures, "calibrate.copy_out", k, figure);
    }
    Ok(())
}

/// The best k's figures under the reference's own name, with k itself.
fn best_of(figures: &mut Figures, prefix: &str, k: usize, figure: Figure) {
    figures.insert(format!("{prefix}.events_per_s"), figure);
    figures.insert(format!("{prefix}.connections"), Figure::from_repetitions("connections", vec![k as f64]));
    for what in ["server_cpu_us_per_event", "mb_per_s"] {
        if let Some(f) = figures.get(&format!("{prefix}.k{k}.{what}")).cloned() {
            figures.insert(format!("{prefix}.{what}"), f);
        }
    }
}

/// Copies each share over a connection of its own, each in one transaction, all at once.
async fn copy_in_parallel(store: &Store, shares: &[Vec<(StoredEvent, i64)>]) -> Result<()> {
    let tasks: Vec<_> = shares
        .iter()
        .filter(|s| !s.is_empty())
        .map(|share| {
            let (store, share) = (store.clone(), share.clone());
            tokio::spawn(async move { store.raw_copy_in(&share).await })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| Error::Task(format!("a COPY in connection failed: {e}")))??;
    }
    Ok(())
}

/// The rows split into `k` shares of whole schools, each school's rows in feed order: the
/// largest schools first, each to the share with the fewest rows so far.
pub fn shares(rows: &[(StoredEvent, i64)], k: usize) -> Vec<Vec<(StoredEvent, i64)>> {
    let mut per_school: HashMap<i32, usize> = HashMap::new();
    rows.iter().for_each(|(e, _)| *per_school.entry(e.school).or_default() += 1);
    let mut schools: Vec<(i32, usize)> = per_school.into_iter().collect();
    schools.sort_by_key(|&(s, n)| (std::cmp::Reverse(n), s));
    let mut load = vec![0usize; k.max(1)];
    let mut share_of: HashMap<i32, usize> = HashMap::new();
    for (school, n) in schools {
        let (i, _) = load.iter().enumerate().min_by_key(|(_, l)| **l).expect("k ≥ 1");
        load[i] += n;
        share_of.insert(school, i);
    }
    let mut out = vec![Vec::new(); k.max(1)];
    for row in rows {
        out[share_of[&row.0.school]].push(row.clone());
    }
    out
}

/// The first day's events before `start_hour` (to load first), and the first `n` appends the
/// feed hands out from there, as rows with the positions they take in their schools.
pub async fn feed_rows(scenario: &Scenario, start_hour: f64, n: u64) -> (Vec<StoredEvent>, Vec<(StoredEvent, i64)>) {
    let mut feed = Feed::start_at(generator_config(scenario, 2), start_hour);
    let earlier = feed.earlier().await;
    let mut next: HashMap<i32, i64> = HashMap::new();
    earlier.iter().for_each(|e| *next.entry(e.school).or_default() += 1);
    let mut rows = Vec::with_capacity(n as usize);
    while (rows.len() as u64) < n {
        let a = feed.next().await;
        let mut version = a.expected_version;
        for e in a.events {
            version += 1;
            let position = next.entry(a.school).or_default();
            *position += 1;
            rows.push((StoredEvent::from_new(a.school, a.stream, version, e), *position));
        }
    }
    rows.truncate(n as usize);
    (earlier, rows)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use stroom_cluster::testing::TestDatabase;
    use uuid::Uuid;

    use super::*;

    fn scenario() -> Scenario {
        let text = "name = \"c\"\n[population]\nschools = 6\nstudents = 1200\nevents_per_school_day = 20000\n\
                    [load]\ndays = 1\n";
        Scenario::parse(Path::new("c.toml"), text).unwrap()
    }

    #[test]
    fn shares_hold_whole_schools_in_feed_order_and_balance_rows() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (_, rows) = rt.block_on(feed_rows(&scenario(), 10.0, 4000));
        let split = shares(&rows, 3);
        assert_eq!(split.iter().map(Vec::len).sum::<usize>(), rows.len());
        let mut owner: HashMap<i32, usize> = HashMap::new();
        for (i, share) in split.iter().enumerate() {
            for (e, _) in share {
                assert_eq!(*owner.entry(e.school).or_insert(i), i, "school {} split across shares", e.school);
            }
            // Within a share, rows keep the feed's order.
            let at: HashMap<Uuid, usize> = rows.iter().enumerate().map(|(i, (e, _))| (e.id, i)).collect();
            assert!(share.windows(2).all(|w| at[&w[0].0.id] < at[&w[1].0.id]));
        }
        let sizes: Vec<usize> = split.iter().map(Vec::len).collect();
        assert!(sizes.iter().all(|&n| n > 0), "{sizes:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn k_connection_copy_stores_exactly_the_rows_the_append_feed_hands_out() {
        let scenario = scenario();
        let n = 5000;
        let (earlier, rows) = feed_rows(&scenario, 10.0, n).await;
        // The append steps' own feed, from the same hour: the same appends, in the same order.
        let mut feed = Feed::start_at(generator_config(&scenario, 1), 10.0);
        assert_eq!(feed.earlier().await.len(), earlier.len());
        let mut fed = Vec::new();
        while fed.len() < n as usize {
            fed.extend(feed.next().await.events.into_iter().map(|e| e.id));
        }
        fed.truncate(n as usize);
        assert_eq!(rows.iter().map(|(e, _)| e.id).collect::<Vec<_>>(), fed);

        let db = TestDatabase::create().await;
        let store = fresh_store(&db.url(), "calibrate_test", scenario.schema(), 6).await.unwrap();
        store.add_schools(&all_schools(&scenario)).await.unwrap();
        crate::load::bulk_load(&store, &earlier).await.unwrap();
        copy_in_parallel(&store, &shares(&rows, 3)).await.unwrap();
        assert_eq!(store.count().await.unwrap() as usize, earlier.len() + rows.len());
        let stored: Vec<(Uuid, i32, i64)> =
            sqlx::query_as("SELECT id, school, position FROM events WHERE id = ANY($1) ORDER BY school, position")
                .bind(&fed)
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(stored.len(), rows.len(), "every fed row is stored once");
        // Each school's rows follow its earlier events without a gap, in feed order.
        let mut before: HashMap<i32, i64> = HashMap::new();
        earlier.iter().for_each(|e| *before.entry(e.school).or_default() += 1);
        let at: HashMap<Uuid, usize> = fed.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        for school in stored.iter().map(|r| r.1).collect::<std::collections::BTreeSet<_>>() {
            let mine: Vec<&(Uuid, i32, i64)> = stored.iter().filter(|r| r.1 == school).collect();
            let first = before.get(&school).copied().unwrap_or(0) + 1;
            assert!(mine.iter().enumerate().all(|(i, r)| r.2 == first + i as i64), "school {school}: gap");
            assert!(mine.windows(2).all(|w| at[&w[0].0] < at[&w[1].0]), "school {school}: order");
        }
    }
}
