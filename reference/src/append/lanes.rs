//! Shared commit lanes: group commit across schools without giving up per-school ownership.
//!
//! Each transactor still decides versions and positions for its own school alone; instead of
//! committing its small batch by itself, it hands the batch to a lane. A lane takes every
//! batch that is ready, from any school, and commits them in one statement: the head rows of
//! all those schools are advanced (each only if that school's lease is still the sender's),
//! and the rows are inserted. A school whose lease was lost writes nothing and alone gets
//! `None`. A school has one batch in flight at a time, so two lanes never touch the same head
//! row and cannot deadlock.
//!
//! A lane writes a group in one of two ways ([`RowWriter`], `lane_writer` in a scenario):
//! * `copy` (the default): BEGIN; one statement advances the heads and registers the new
//!   streams; the rows of the schools it advanced go in by binary COPY; COMMIT.
//! * `unnest`: one `INSERT … SELECT FROM unnest(…)` statement that does all of it.
//!
//! Measured on the 2-core development machine (per-school only, 262144 writers, 2 lanes, one
//! 10 s step each on an empty store, interleaved, 2026-11-28): `copy` 86.3k and 85.3k
//! events/s, `unnest` 72.8k and 84.5k, with a raw COPY of 98k–110k in the same runs. At
//! these group sizes (thousands of rows) COPY's multi-row heap inserts save more than its
//! three extra round trips cost; with small groups it was the other way round (`rows.rs`).
//! Three or four lanes with `copy` (90.2k–99.3k) were level with two (91.9k–97.5k).

use std::collections::HashMap;

use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, Postgres};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::columns::Columns;
use super::outcome::{self, commit_within, is_refusal};
use super::rows::RowWriter;
use crate::error::{Error, Result};
use crate::event::StoredEvent;
use crate::store::{PayloadType, RowEncoder, Store, COLUMNS};

/// The positions given, or `None` when the lease is no longer the sender's; and the rows.
type Outcome = (Result<Option<Vec<i64>>>, Vec<StoredEvent>);

/// One school's batch waiting for a lane.
#[derive(Debug)]
struct Batch {
    head: i32,
    owner: Uuid,
    rows: Vec<StoredEvent>,
    /// Streams seen first in this batch, registered to the school by the same statement.
    new_streams: Vec<Uuid>,
    reply: oneshot::Sender<Outcome>,
}

/// A handle on the lanes; cheap to clone.
#[derive(Debug, Clone)]
pub struct Lanes {
    queue: mpsc::Sender<Batch>,
}

impl Lanes {
    /// Starts `lanes` committers on `store`, each committing up to `max_rows` per statement,
    /// with leases of `lease_s`, commits that fail as [`Error::OutcomeUnknown`] after `timeout`,
    /// and the test-only `slowdown` (see
    /// [`TransactorConfig::injected_slowdown`](super::TransactorConfig)).
    pub fn start(
        store: &Store,
        writer: RowWriter,
        lanes: usize,
        max_rows: usize,
        (lease_s, timeout, slowdown): (f64, std::time::Duration, f64),
    ) -> Self {
        let (queue, rx) = mpsc::channel::<Batch>(4096);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        // Lanes get connections of their own, so transactors' reads never starve commits.
        // Their statement inserts through the partitioned parent (rows are routed as they are
        // executed, so nothing is pruned when planning) and updates unpartitioned tables, so a
        // cached generic plan serves it as well as a custom one and saves planning it each time.
        let statement_timeout = format!("{}ms", timeout.as_millis());
        let options = (*store.pool().connect_options())
            .clone()
            .options([("plan_cache_mode", "auto"), ("statement_timeout", statement_timeout.as_str())]);
        // Each lane keeps its connection between groups: sqlx pings a connection before it
        // lends it (unless told not to) and again when it takes it back, two round trips
        // beside each group's one. One that failed goes back to the pool, whose ping puts it
        // right or closes it, and the lane takes another.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(lanes.max(1) as u32)
            .acquire_timeout(timeout)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        for _ in 0..lanes.max(1) {
            let (store, rx, pool) = (store.clone(), rx.clone(), pool.clone());
            tokio::spawn(async move {
                let mut conn = None;
                loop {
                    let mut group = Vec::new();
                    {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { return };
                        let mut rows = first.rows.len();
                        group.push(first);
                        while rows < max_rows {
                            match rx.try_recv() {
                                Ok(b) => {
                                    rows += b.rows.len();
                                    group.push(b);
                                }
                                Err(_) => break,
                            }
                        }
                    }
                    let how = How { writer, payload: store.schema().payload, lease_s, timeout, slowdown };
                    commit(&pool, &mut conn, how, group).await;
                }
            });
        }
        Self { queue }
    }

    /// Commits one school's batch through a lane, registering `new_streams` to the school.
    /// The rows come back with the outcome (empty only if the lane stopped), so the caller can
    /// decide them again without having kept a copy.
    pub async fn commit(&self, head: i32, owner: Uuid, rows: Vec<StoredEvent>, new_streams: Vec<Uuid>) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let batch = Batch { head, owner, rows, new_streams, reply };
        let stopped = || Error::WriterStopped { school: head };
        if let Err(e) = self.queue.send(batch).await {
            return (Err(stopped()), e.0.rows);
        }
        answer.await.unwrap_or_else(|_| (Err(stopped()), Vec::new()))
    }
}

/// How a lane writes its groups.
#[derive(Debug, Clone, Copy)]
struct How {
    writer: RowWriter,
    payload: PayloadType,
    lease_s: f64,
    timeout: std::time::Duration,
    slowdown: f64,
}

/// A lane's connection: the one it kept, or a new one from the pool.
type Kept = Option<PoolConnection<Postgres>>;

async fn commit(pool: &sqlx::PgPool, kept: &mut Kept, how: How, group: Vec<Batch>) {
    let started = std::time::Instant::now();
    let result = commit_within(how.timeout, async {
        let conn = match kept {
            Some(conn) => conn,
            None => kept.insert(pool.acquire().await.map_err(Error::db("acquiring a lane's connection"))?),
        };
        match how.writer {
            RowWriter::Unnest => commit_group(conn, how.payload, how.lease_s, &group).await,
            RowWriter::Copy => copy_group(conn, how.payload, how.lease_s, &group).await,
        }
    })
    .await;
    if result.is_err() {
        // Perhaps mid-statement, or its session ended: the pool checks it, not the next group.
        *kept = None;
    }
    if how.slowdown > 0.0 {
        crate::slowdown::hold(started.elapsed(), how.slowdown);
    }
    match result {
        Ok(mut given) => {
            for b in group {
                let _ = b.reply.send((Ok(given.remove(&b.head)), b.rows));
            }
        }
        Err(e) if group.len() > 1 && is_refusal(&e) => {
            // The server refused something in the group (a stream another process registered
            // to another school a moment ago, a value `check_input` let through). Nothing of
            // the group was written: commit each half alone, until the batch at fault is
            // alone and every other one has committed.
            let mut group = group;
            let second = group.split_off(group.len() / 2);
            Box::pin(commit(pool, kept, how, group)).await;
            Box::pin(commit(pool, kept, how, second)).await;
        }
        Err(e) => {
            for b in group {
                let _ = b.reply.send((Err(outcome::for_appends(&e)), b.rows));
            }
        }
    }
}

/// Locks the group's head rows in school order before any is updated, so two processes
/// whose groups share schools (one taking over another's leases) wait for each other instead
/// of deadlocking. The sort comes before the lock, and the update joins on the locked rows.
const LOCK_IN_SCHOOL_ORDER: &str = "locked AS MATERIALIZED (SELECT h.school FROM school_heads h \
     WHERE h.school = ANY($1) ORDER BY h.school FOR UPDATE)";

/// Advances the heads whose lease is still the sender's, returning each one's base.
const ADVANCE_HEADS: &str = "UPDATE school_heads h SET position = h.position + req.n, \
     lease_until = now() + make_interval(secs => $4) \
     FROM req JOIN locked l ON l.school = req.school WHERE h.school = req.school AND h.owner = req.owner \
     RETURNING h.school, h.position - req.n AS base";

/// One statement for every batch in `group`; returns each committed school's positions.
async fn commit_group(
    conn: &mut PgConnection,
    payload: PayloadType,
    lease_s: f64,
    group: &[Batch],
) -> Result<HashMap<i32, Vec<i64>>> {
    let (heads, counts, owners): (Vec<i32>, Vec<i64>, Vec<Uuid>) = {
        let mut h = Vec::with_capacity(group.len());
        let mut c = Vec::with_capacity(group.len());
        let mut o = Vec::with_capacity(group.len());
        for b in group {
            h.push(b.head);
            c.push(b.rows.len() as i64);
            o.push(b.owner);
        }
        (h, c, o)
    };
    let (mut new_streams, mut new_schools) = (Vec::new(), Vec::new());
    for b in group {
        new_streams.extend_from_slice(&b.new_streams);
        new_schools.extend(std::iter::repeat_n(b.head, b.new_streams.len()));
    }
    let mut c = Columns::with_capacity(group.iter().map(|b| b.rows.len()).sum());
    group.iter().flat_map(|b| b.rows.iter()).for_each(|e| c.push(e));
    let k: Vec<i64> = group.iter().flat_map(|b| 1..=b.rows.len() as i64).collect();
    // Only the heads come back: a batch's rows take the positions after its school's base
    // in the order sent, so returning every row would only cost the server and the client.
    let sql = format!(
        "WITH req AS (SELECT * FROM unnest($1::int[], $2::bigint[], $3::uuid[]) AS q(school, n, owner)), \
         {LOCK_IN_SCHOOL_ORDER}, \
         head AS ({ADVANCE_HEADS}), \
         reg AS (INSERT INTO streams (stream, school) \
                 SELECT n.st, n.s FROM unnest($14::uuid[], $15::int[]) AS n(st, s) WHERE n.s IN (SELECT school FROM head)), \
         ins AS (INSERT INTO events (school, position, id, stream, version, event_type, recorded_at, payload, metadata) \
                 SELECT head.school, head.base + r.k, r.i, r.st, r.v, r.t, r.a, {}, r.m::jsonb \
                 FROM unnest($5::int[], $6::bigint[], $7::uuid[], $8::uuid[], $9::bigint[], $10::text[], $11::timestamptz[], $12::bytea[], $13::text[]) \
                      AS r(s, k, i, st, v, t, a, p, m) \
                 JOIN head ON head.school = r.s) \
         SELECT school, base FROM head",
        payload.from_bytea("r.p")
    );
    let bases: Vec<(i32, i64)> = sqlx::query_as(&sql)
        .bind(heads)
        .bind(counts)
        .bind(owners)
        .bind(lease_s)
        .bind(c.school)
        .bind(k)
        .bind(c.id)
        .bind(c.stream)
        .bind(c.version)
        .bind(c.event_type)
        .bind(c.recorded_at)
        .bind(c.payload)
        .bind(c.metadata)
        .bind(new_streams)
        .bind(new_schools)
        .fetch_all(conn)
        .await
        .map_err(outcome::of_commit("committing a group of batches"))?;
    let rows: HashMap<i32, i64> = group.iter().map(|b| (b.head, b.rows.len() as i64)).collect();
    Ok(bases.into_iter().map(|(s, base)| (s, (base + 1..=base + rows[&s]).collect())).collect())
}

/// The same as [`commit_group`] in a transaction: one statement advances the heads and
/// registers the new streams, then the rows of the schools it advanced go in by binary COPY.
async fn copy_group(
    conn: &mut PgConnection,
    payload: PayloadType,
    lease_s: f64,
    group: &[Batch],
) -> Result<HashMap<i32, Vec<i64>>> {
    let heads: Vec<i32> = group.iter().map(|b| b.head).collect();
    let counts: Vec<i64> = group.iter().map(|b| b.rows.len() as i64).collect();
    let owners: Vec<Uuid> = group.iter().map(|b| b.owner).collect();
    let (mut new_streams, mut new_schools) = (Vec::new(), Vec::new());
    for b in group {
        new_streams.extend_from_slice(&b.new_streams);
        new_schools.extend(std::iter::repeat_n(b.head, b.new_streams.len()));
    }
    let mut tx = conn.begin().await.map_err(Error::db("starting a group of batches"))?;
    let bases: HashMap<i32, i64> = sqlx::query_as(&format!(
        "WITH req AS (SELECT * FROM unnest($1::int[], $2::bigint[], $3::uuid[]) AS q(school, n, owner)), \
         {LOCK_IN_SCHOOL_ORDER}, \
         head AS ({ADVANCE_HEADS}), \
         reg AS (INSERT INTO streams (stream, school) \
                 SELECT n.st, n.s FROM unnest($5::uuid[], $6::int[]) AS n(st, s) WHERE n.s IN (SELECT school FROM head)) \
         SELECT school, base FROM head"
    ))
    .bind(heads)
    .bind(counts)
    .bind(owners)
    .bind(lease_s)
    .bind(new_streams)
    .bind(new_schools)
    .fetch_all(&mut *tx)
    .await
    .map_err(Error::db("taking a group's positions"))?
    .into_iter()
    .collect();
    let mut enc = RowEncoder::new(payload);
    let mut given = HashMap::with_capacity(bases.len());
    for b in group {
        let Some(&base) = bases.get(&b.head) else { continue };
        for (k, e) in b.rows.iter().enumerate() {
            enc.push(e, base + 1 + k as i64);
        }
        given.insert(b.head, (base + 1..=base + b.rows.len() as i64).collect());
    }
    if !given.is_empty() {
        let statement = format!("COPY events ({COLUMNS}) FROM STDIN (FORMAT binary)");
        let mut copy = tx.copy_in_raw(&statement).await.map_err(Error::db("starting COPY"))?;
        copy.send(enc.finish()).await.map_err(Error::db("sending COPY data"))?;
        copy.finish().await.map_err(Error::db("finishing COPY"))?;
    }
    tx.commit().await.map_err(outcome::of_commit("committing a group of batches"))?;
    Ok(given)
}
