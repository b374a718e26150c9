//! Writing one batch of rows in one round trip: binary COPY or `INSERT … SELECT FROM unnest`.
//! Both are kept so the bench can compare them; [`RowWriter::default`] is the faster one here.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::{Error, Result};
use crate::event::StoredEvent;
use crate::store::{copy_events, PayloadType};

/// How a batch's rows reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowWriter {
    /// Binary `COPY … FROM STDIN`.
    #[default]
    Copy,
    /// `INSERT … SELECT FROM unnest($1, …)` with one array parameter per column.
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
    let n = rows.len();
    let (mut school, mut position, mut id, mut stream, mut version) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut kind, mut at, mut body, mut meta) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for (e, p) in rows {
        school.push(e.school);
        position.push(*p);
        id.push(e.id);
        stream.push(e.stream);
        version.push(e.version);
        kind.push(e.event_type.as_str());
        at.push(DateTime::<Utc>::from_timestamp_micros(e.recorded_at_us).unwrap_or_default());
        body.push(e.payload.as_bytes());
        meta.push(e.metadata.as_str());
    }
    let payload_expr = payload.from_bytea("p");
    let sql = format!(
        "INSERT INTO events (school, position, id, stream, version, event_type, recorded_at, payload, metadata) \
         SELECT s, pos, i, st, v, t, a, {payload_expr}, m::jsonb \
         FROM unnest($1::int[], $2::bigint[], $3::uuid[], $4::uuid[], $5::bigint[], $6::text[], $7::timestamptz[], $8::bytea[], $9::text[]) \
         AS r(s, pos, i, st, v, t, a, p, m)"
    );
    sqlx::query(&sql)
        .bind(school)
        .bind(position)
        .bind(id)
        .bind(stream)
        .bind(version)
        .bind(kind)
        .bind(at)
        .bind(body)
        .bind(meta)
        .execute(conn)
        .await
        .map_err(Error::db("inserting a batch"))?;
    Ok(())
}
