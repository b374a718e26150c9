//! Writing one batch of rows: binary COPY inside a transaction, or one
//! `INSERT … SELECT FROM unnest` statement that also takes the positions.
//!
//! Measured on the 2-core development machine (durable profile, jsonb payloads, 250 schools,
//! one-event commands, closed loop, `stroom run` with `append.row_writer`, 2026-11-27):
//!
//! | writer | batched, 64 / 512 writers | per-school, 64 / 512 writers | raw COPY in, same run |
//! |---|---:|---:|---:|
//! | `copy` (BEGIN, head UPDATE, COPY, COMMIT) | 14.6k / 30.0k events/s | 1.0k / 2.1k | 81k |
//! | `unnest`, each transactor commits alone | 17.0k / 30.4k | 2.1k / 4.3k | 114k |
//! | `unnest` through 4 shared commit lanes | 16.0k / 30.5k | 8.0k / 7.2k | 119k |
//!
//! Small batches are all round trips and WAL flushes, so one statement per batch wins, and
//! sharing the commit across schools wins most. [`RowWriter::default`] is `unnest`; per-school
//! transactors then commit through shared lanes (see `lanes.rs`).
//!
//! Later the same day, with new streams registered inside the lane's statement and the closed
//! loop's queues bounded to about 8k appends: per-school 18.5k events/s against 126k for the raw
//! COPY (`results/baseline/20261127T090540Z`; the steps and a profile are in `results/append.md`).
//!
//! Later again, once the closed loop stopped starving the writers (one bound over all of them
//! instead of a queue of two each): per-school 45.0k events/s against 107.6k for the raw COPY
//! (`results/baseline/20261127T112953Z`). At the lanes' statement sizes COPY would not win: in
//! psql, 550 rows in arrival order cost 4.5–5.5 ms as binary COPY and as `INSERT … SELECT` alike.
//! With a checkpoint before every measured step (so the COPY reference no longer shares the
//! load phase's): per-school 36.8k against 142.0k (`results/baseline/20261127T123031Z`).
//! From e9d80e3 (2026-11-28), with every measured step on an empty store (as the COPY
//! reference is), a closed loop that polls every append in flight from one task, and lanes
//! returning only each school's base: per-school 92.5k against 107.7k and 84.5k against 126.4k, in two runs of the same commit
//! (`results/baseline/20261127T235136Z`, `20261128T001116Z`).
//! From ee52877 (2026-11-28): the lanes write their groups by binary COPY by default; see
//! `lanes.rs`.

use sqlx::PgConnection;

use super::columns::Columns;
use crate::error::{Error, Result};
use crate::event::StoredEvent;
use crate::store::{copy_events, PayloadType};

/// How a batch's rows reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowWriter {
    /// Binary `COPY … FROM STDIN` in a transaction.
    Copy,
    /// One `INSERT … SELECT FROM unnest($1, …)` statement, one array parameter per column.
    #[default]
    Unnest,
}

impl RowWriter {
    /// The name benches and scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Unnest => "unnest",
        }
    }

    /// Writes `rows` (event, position) inside the caller's transaction.
    pub async fn write(self, conn: &mut PgConnection, payload: PayloadType, rows: &[(StoredEvent, i64)]) -> Result<()> {
        match self {
            Self::Copy => copy_events(conn, "events", payload, rows).await.map(drop),
            Self::Unnest => unnest(conn, payload, rows).await,
        }
    }
}

async fn unnest(conn: &mut PgConnection, payload: PayloadType, rows: &[(StoredEvent, i64)]) -> Result<()> {
    let c = Columns::of(rows);
    let position: Vec<i64> = rows.iter().map(|(_, p)| *p).collect();
    let payload_expr = payload.from_bytea("p");
    let sql = format!(
        "INSERT INTO events (school, position, id, stream, version, event_type, recorded_at, payload, metadata) \
         SELECT s, pos, i, st, v, t, a, {payload_expr}, m::jsonb \
         FROM unnest($1::int[], $2::bigint[], $3::uuid[], $4::uuid[], $5::bigint[], $6::text[], $7::timestamptz[], $8::bytea[], $9::text[]) \
         AS r(s, pos, i, st, v, t, a, p, m)"
    );
    sqlx::query(&sql)
        .bind(c.school)
        .bind(position)
        .bind(c.id)
        .bind(c.stream)
        .bind(c.version)
        .bind(c.event_type)
        .bind(c.recorded_at)
        .bind(c.payload)
        .bind(c.metadata)
        .execute(conn)
        .await
        .map_err(Error::db("inserting a batch"))?;
    Ok(())
}

/// The whole batch in one statement outside an explicit transaction, so PostgreSQL commits
/// it on its own: take positions from the head row (checking and extending the lease) and
/// insert the rows, registering the batch's new streams (`register`) in the same statement.
/// One round trip and one WAL flush per batch. Returns the positions given,
/// or `None` when the lease is no longer this writer's (nothing was written).
pub(crate) async fn commit_one_statement(
    pool: &sqlx::PgPool,
    payload: PayloadType,
    head: i32,
    owner: uuid::Uuid,
    lease_s: f64,
    rows: &[(StoredEvent, i64)],
    register: &[(uuid::Uuid, i32)],
) -> Result<Option<Vec<i64>>> {
    let n = rows.len();
    let (new_streams, new_schools): (Vec<uuid::Uuid>, Vec<i32>) = register.iter().copied().unzip();
    let c = Columns::of(rows);
    let sql = format!(
        "WITH head AS (UPDATE school_heads SET position = position + $1, lease_until = now() + make_interval(secs => $2) \
                       WHERE school = $3 AND owner = $4 RETURNING position - $1 AS base), \
              reg AS (INSERT INTO streams (stream, school) SELECT n.st, n.s FROM head, unnest($13::uuid[], $14::int[]) AS n(st, s)) \
         INSERT INTO events (school, position, id, stream, version, event_type, recorded_at, payload, metadata) \
         SELECT r.s, head.base + r.ord, r.i, r.st, r.v, r.t, r.a, {}, r.m::jsonb \
         FROM head, unnest($5::int[], $6::uuid[], $7::uuid[], $8::bigint[], $9::text[], $10::timestamptz[], $11::bytea[], $12::text[]) \
              WITH ORDINALITY AS r(s, i, st, v, t, a, p, m, ord) \
         RETURNING position",
        payload.from_bytea("r.p")
    );
    let mut positions: Vec<i64> = sqlx::query_scalar(&sql)
        .bind(n as i64)
        .bind(lease_s)
        .bind(head)
        .bind(owner)
        .bind(c.school)
        .bind(c.id)
        .bind(c.stream)
        .bind(c.version)
        .bind(c.event_type)
        .bind(c.recorded_at)
        .bind(c.payload)
        .bind(c.metadata)
        .bind(new_streams)
        .bind(new_schools)
        .fetch_all(pool)
        .await
        .map_err(super::outcome::of_commit("committing a batch"))?;
    if positions.is_empty() {
        return Ok(None);
    }
    positions.sort_unstable();
    Ok(Some(positions))
}
