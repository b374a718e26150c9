//! Replay from PostgreSQL: one reader in global order, or schools on N workers.
//!
//! Both end at a snapshot of the global feed, so a projector can go live from exactly where
//! the rebuild stopped. A replay first takes the snapshot of a fresh statement and folds only
//! the events of the transactions it holds ([`FeedSnapshot::holds`]): ended before it, and
//! committed. Every snapshot taken afterwards sees the same committed events among those, so
//! the parallel workers, each reading its schools in its own snapshot, together fold exactly
//! that set, without sharing one exported snapshot or holding a transaction open for the
//! whole rebuild; and a transaction running elsewhere on the cluster only stays out of the
//! rebuild, it does not hold the rebuild back. The projector continues from the snapshot's
//! feed cursor and skips the held transactions it meets again there. (Events are never
//! updated or deleted in place, which this relies on.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::TryStreamExt;

use super::copy_out::CopyRows;
use super::{decode, Replayed};
use crate::error::{Error, Result};
use crate::event::{School, GLOBAL_SCHOOL};
use crate::placement::PlacementMap;
use crate::read_model::{Fold, ReadModel};
use crate::store::{FeedSnapshot, Layout, Store};

/// The columns a replay reads, in the order [`decode::row`] expects.
pub fn replay_columns(store: &Store) -> &'static str {
    match store.schema().layout {
        Layout::Partitioned => "school, position, recorded_at, event_type, payload",
        Layout::SingleLog | Layout::RillLog => "school, global_position, recorded_at, event_type, payload",
    }
}

/// Streams `select` out with binary COPY and folds every row into `model`; memory stays at
/// one chunk plus the model. Returns the rows read.
async fn fold_query(store: &Store, select: &str, fold: Fold, model: &mut ReadModel, done: &AtomicU64) -> Result<u64> {
    let mut conn = store.pool().acquire().await.map_err(Error::db("acquiring a connection"))?;
    let result = fold_copy(&mut conn, store, select, fold, model, done).await;
    if result.is_err() {
        // A COPY abandoned midway leaves the connection mid-protocol: never reuse it.
        conn.close_on_drop();
    }
    result
}

async fn fold_copy(
    conn: &mut sqlx::PgConnection,
    store: &Store,
    select: &str,
    fold: Fold,
    model: &mut ReadModel,
    done: &AtomicU64,
) -> Result<u64> {
    let statement = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
    let mut stream = conn.copy_out_raw(&statement).await.map_err(Error::db("starting replay COPY"))?;
    let (upcasters, payload) = (store.upcasters(), store.schema().payload);
    let mut rows = CopyRows::default();
    let mut n = 0u64;
    while let Some(chunk) = stream.try_next().await.map_err(Error::db("reading replay COPY"))? {
        rows.push(&chunk);
        let before = n;
        rows.drain(|f| {
            let env = decode::row(upcasters, payload, f)?;
            fold.apply(model, &env);
            n += 1;
            Ok(())
        })?;
        done.fetch_add(n - before, Ordering::Relaxed);
    }
    Ok(n)
}

/// One reader over the whole log in global order: the 2017 baseline.
pub async fn sequential(store: &Store, fold: Fold) -> Result<Replayed> {
    sequential_counted(store, fold, &AtomicU64::new(0)).await
}

/// [`sequential`], adding the events folded so far to `done` as it goes.
pub async fn sequential_counted(store: &Store, fold: Fold, done: &AtomicU64) -> Result<Replayed> {
    let started = Instant::now();
    let mut model = ReadModel::default();
    let snapshot = FeedSnapshot::take(store).await?;
    let select =
        format!("SELECT {} FROM events WHERE {} ORDER BY global_position", replay_columns(store), snapshot.condition());
    let events = fold_query(store, &select, fold, &mut model, done).await?;
    Ok(Replayed { digest: model.digest(), snapshot: Some(snapshot), model, events, elapsed: started.elapsed() })
}

/// Course material first, then schools on `workers` concurrent readers, largest school
/// first; the schools' models are merged at the end. Run it on a multi-threaded runtime.
pub async fn parallel(store: &Store, fold: Fold, workers: usize) -> Result<Replayed> {
    parallel_counted(store, fold, workers, Arc::new(AtomicU64::new(0))).await
}

/// [`parallel`], adding the events folded so far to `done` as it goes.
pub async fn parallel_counted(store: &Store, fold: Fold, workers: usize, done: Arc<AtomicU64>) -> Result<Replayed> {
    let started = Instant::now();
    let snapshot = Arc::new(FeedSnapshot::take(store).await?);
    let mut course = ReadModel::default();
    let mut events =
        fold_query(store, &school_select(store, GLOBAL_SCHOOL, &snapshot), fold, &mut course, &done).await?;

    let schools = schools_largest_first(store).await?.into_iter().filter(|&s| s != GLOBAL_SCHOOL).collect();
    let (schools_model, n) = fold_schools(store, schools, fold, workers, snapshot.clone(), done).await?;
    let model = course.merge(schools_model);
    events += n;
    let snapshot = Some(Arc::unwrap_or_clone(snapshot));
    Ok(Replayed { digest: model.digest(), snapshot, model, events, elapsed: started.elapsed() })
}

/// Folds `schools` (in the order given) on `workers` concurrent readers of `store`, each
/// school's events of `snapshot`; returns the merged model and the events folded.
async fn fold_schools(
    store: &Store,
    schools: VecDeque<School>,
    fold: Fold,
    workers: usize,
    snapshot: Arc<FeedSnapshot>,
    done: Arc<AtomicU64>,
) -> Result<(ReadModel, u64)> {
    let queue: Arc<Mutex<VecDeque<School>>> = Arc::new(Mutex::new(schools));
    let tasks: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (store, queue, done, snapshot) = (store.clone(), queue.clone(), done.clone(), snapshot.clone());
            tokio::spawn(async move {
                let mut model = ReadModel::default();
                let mut n = 0u64;
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(school) = next else { break };
                    n += fold_query(&store, &school_select(&store, school, &snapshot), fold, &mut model, &done).await?;
                }
                Ok::<_, Error>((model, n))
            })
        })
        .collect();
    let (mut model, mut events) = (ReadModel::default(), 0);
    for task in tasks {
        let (m, n) = task.await.map_err(|e| Error::BatchFailed { reason: format!("replay worker failed: {e}") })??;
        model = model.merge(m);
        events += n;
    }
    Ok((model, events))
}

/// A rebuild of a log spread over several servers: the course material from server 0, and on
/// every server at once the schools the placement map puts there, `workers` readers each,
/// largest school first; all the models merged. It gives the digest one server holding
/// everything gives. Each server's schools are read in a snapshot of that server, taken one
/// after another: schools never interact, so each school is read whole and consistent, and
/// there is no order across servers to keep. The result names no snapshot to go live from.
pub async fn across_servers(stores: &[Store], map: &PlacementMap, fold: Fold, workers: usize) -> Result<Replayed> {
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let first =
        stores.first().ok_or_else(|| Error::Placement { reason: "a replay needs at least one server".into() })?;
    let course_snapshot = FeedSnapshot::take(first).await?;
    let mut course = ReadModel::default();
    let mut events =
        fold_query(first, &school_select(first, GLOBAL_SCHOOL, &course_snapshot), fold, &mut course, &done).await?;
    let mut tasks = Vec::new();
    for (server, store) in stores.iter().enumerate() {
        let here: std::collections::HashSet<School> = map.schools_on(server as u32).into_iter().collect();
        let schools: VecDeque<School> = schools_largest_first(store)
            .await?
            .into_iter()
            .filter(|s| *s != GLOBAL_SCHOOL && here.contains(s))
            .collect();
        let (store, done) = (store.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let snapshot = Arc::new(FeedSnapshot::take(&store).await?);
            fold_schools(&store, schools, fold, workers, snapshot, done).await
        }));
    }
    let mut model = course;
    for task in tasks {
        let (m, n) =
            task.await.map_err(|e| Error::BatchFailed { reason: format!("replay of a server failed: {e}") })??;
        model = model.merge(m);
        events += n;
    }
    Ok(Replayed { digest: model.digest(), snapshot: None, model, events, elapsed: started.elapsed() })
}

/// The raw read a parallel replay makes, without decoding or folding: course material, then
/// every school by binary `COPY (SELECT …) TO STDOUT` on `workers` connections, largest school
/// first, exactly as [`parallel`] splits the log. Returns the bytes received. This is the
/// same-run reference the parallel replay is measured against; like the replay, it reads the
/// events of one [`FeedSnapshot`].
pub async fn copy_out_parallel(store: &Store, workers: usize) -> Result<u64> {
    let snapshot = Arc::new(FeedSnapshot::take(store).await?);
    let mut bytes = copy_out_bytes(store, &school_select(store, GLOBAL_SCHOOL, &snapshot)).await?;
    let queue: Arc<Mutex<VecDeque<School>>> =
        Arc::new(Mutex::new(schools_largest_first(store).await?.into_iter().filter(|&s| s != GLOBAL_SCHOOL).collect()));
    let tasks: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (store, queue, snapshot) = (store.clone(), queue.clone(), snapshot.clone());
            tokio::spawn(async move {
                let mut bytes = 0u64;
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(school) = next else { break };
                    bytes += copy_out_bytes(&store, &school_select(&store, school, &snapshot)).await?;
                }
                Ok::<_, Error>(bytes)
            })
        })
        .collect();
    for task in tasks {
        bytes += task.await.map_err(|e| Error::BatchFailed { reason: format!("COPY out worker failed: {e}") })??;
    }
    Ok(bytes)
}

async fn copy_out_bytes(store: &Store, select: &str) -> Result<u64> {
    let mut conn = store.pool().acquire().await.map_err(Error::db("acquiring a connection"))?;
    let statement = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
    let mut stream = conn.copy_out_raw(&statement).await.map_err(Error::db("starting COPY out"))?;
    let mut bytes = 0u64;
    while let Some(chunk) = stream.try_next().await.map_err(Error::db("reading COPY out"))? {
        bytes += chunk.len() as u64;
    }
    Ok(bytes)
}

fn school_select(store: &Store, school: School, snapshot: &FeedSnapshot) -> String {
    let order = match store.schema().layout {
        Layout::Partitioned => "position",
        Layout::SingleLog | Layout::RillLog => "global_position",
    };
    format!(
        "SELECT {} FROM events WHERE school = {school} AND {} ORDER BY {order}",
        replay_columns(store),
        snapshot.condition()
    )
}

/// Schools by number of events, largest first: the biggest school bounds the total time.
async fn schools_largest_first(store: &Store) -> Result<Vec<School>> {
    let sql = match store.schema().layout {
        Layout::Partitioned => "SELECT school FROM school_heads WHERE school >= 0 ORDER BY position DESC, school",
        Layout::SingleLog | Layout::RillLog => {
            "SELECT school FROM events GROUP BY school ORDER BY count(*) DESC, school"
        }
    };
    sqlx::query_scalar(sql).fetch_all(store.pool()).await.map_err(Error::db("sizing schools"))
}

/// Course material, then every school in turn, each read in keyset pages of `page` rows
/// (`WHERE position > $last ORDER BY position LIMIT page`) and decoded from rows: the
/// alternative to streaming COPY that the benches compare it with. One worker.
pub async fn keyset(store: &Store, fold: Fold, page: usize) -> Result<Replayed> {
    let started = Instant::now();
    let mut model = ReadModel::default();
    let mut events = 0u64;
    let mut schools = schools_largest_first(store).await?;
    schools.sort_unstable();
    for school in schools {
        let mut reader = store.read_school(school, 0, page);
        loop {
            let rows = reader.next_page().await?;
            if rows.is_empty() {
                break;
            }
            for e in &rows {
                fold.apply(&mut model, &decode::recorded(e)?);
            }
            events += rows.len() as u64;
        }
    }
    Ok(Replayed { digest: model.digest(), snapshot: None, model, events, elapsed: started.elapsed() })
}
