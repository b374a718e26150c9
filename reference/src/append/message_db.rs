//! `message-db`: appends through Message DB 1.3 (github.com/message-db/message-db), a real
//! event store on PostgreSQL written by others, as one of its clients would.
//!
//! - A school's stream `S` is Message DB's stream `school<N>-S`: its category is the school,
//!   and Message DB's writer lock (`acquire_lock`, a transaction-scoped advisory lock on the
//!   category's hash) serialises one school's writes, as per-school's transactor does.
//! - Each event is one `message_store.write_message(id, stream_name, type, data, metadata,
//!   expected_version)` call; a command's calls share one transaction, as Eventide's writer
//!   does for a batch.
//! - Message DB numbers a stream's messages from 0 and calls an absent stream version -1;
//!   stroom numbers events from 1 and calls it 0. Event `i` (0-based) of an append expecting
//!   version `v` is written expecting `v - 1 + i`.
//! - The event's `recorded_at` has no column in Message DB (its `time` is the write's); it
//!   travels in the metadata as `recordedAtUs`.
//!
//! The pool must have `search_path` set to `message_store`, as Message DB's functions expect
//! ([`MessageDb::connect`] does it).

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};
use uuid::Uuid;

use super::held::Held;
use super::{check_input, outcome, Append, Appended};
use crate::error::{Error, Result};
use crate::event::{School, StoredEvent};
use crate::store::PayloadType;

/// A Message DB database to append to and read from.
#[derive(Debug, Clone)]
pub struct MessageDb {
    pool: PgPool,
    /// The connections appends keep between them.
    held: Held,
}

/// One message as `get_category_messages` returns it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Message {
    /// The message id (stroom's event id).
    pub id: String,
    /// `school<N>-<stream>`.
    pub stream_name: String,
    /// The event type.
    #[sqlx(rename = "type")]
    pub message_type: String,
    /// Its position in its stream, from 0.
    pub position: i64,
    /// Its position in the whole store, from 1.
    pub global_position: i64,
    /// The payload as JSON text.
    pub data: Option<String>,
    /// The metadata as JSON text.
    pub metadata: Option<String>,
}

/// Message DB's stream name for a stroom stream.
pub fn stream_name(school: School, stream: Uuid) -> String {
    format!("school{school}-{stream}")
}

/// Message DB's category for a school.
pub fn category(school: School) -> String {
    format!("school{school}")
}

/// The schemas Message DB's functions and tables are found in, as its pool sets them.
pub const SEARCH_PATH: &str = "message_store,public";

impl MessageDb {
    /// A pool of `connections` on the database at `url`, with Message DB's search path.
    pub async fn connect(url: &str, connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(Error::db("reading the Message DB URL"))?
            .options([("search_path", SEARCH_PATH)]);
        // No ping before a connection is handed out (sqlx's default): it was one more round
        // trip per append, which `write_message` through pgbench does not pay.
        let pool = PgPoolOptions::new()
            .test_before_acquire(false)
            .max_connections(connections)
            .connect_with(options)
            .await
            .map_err(Error::db("connecting to Message DB"))?;
        Ok(Self { held: Held::new(pool.clone()), pool })
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, the connections appends kept included (a closing pool waits for every
    /// connection to come back). Appends still running fail.
    pub async fn close(&self) {
        self.held.release();
        self.pool.close().await;
    }

    /// Appends one command's events, one `write_message` each, in one transaction. A stream
    /// that moved on is a [`Error::Conflict`]; a retry of an append that committed (the same
    /// event ids) answers as the first did.
    pub async fn append(&self, a: Append) -> Result<Appended> {
        check_input(&a, PayloadType::Jsonb)?;
        let name = stream_name(a.school, a.stream);
        let mut conn = self.held.acquire().await?;
        let mut tx = conn.begin().await.map_err(Error::db("starting a transaction"))?;
        let mut positions = Vec::with_capacity(a.events.len());
        for (i, e) in a.events.iter().enumerate() {
            let written: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
                "SELECT write_message($1, $2, $3, $4::jsonb, \
                 $5::jsonb || jsonb_build_object('recordedAtUs', $6::bigint), $7)",
            )
            .bind(e.id.to_string())
            .bind(&name)
            .bind(&e.event_type)
            .bind(&e.payload)
            .bind(&e.metadata)
            .bind(e.recorded_at_us)
            .bind(a.expected_version - 1 + i as i64)
            .fetch_one(&mut *tx)
            .await;
            match written {
                Ok(p) => positions.push(p),
                Err(source) => {
                    drop(tx);
                    return self.refused(&a, &name, source).await;
                }
            }
        }
        tx.commit().await.map_err(outcome::of_commit("committing messages"))?;
        conn.clean();
        Ok(Appended { positions, version: a.expected_version + a.events.len() as i64 })
    }

    /// Why `write_message` refused `a`: a conflict, a retry of what is stored, or the error.
    async fn refused(&self, a: &Append, name: &str, source: sqlx::Error) -> Result<Appended> {
        let db = source.as_database_error();
        let wrong_version = db.is_some_and(|d| d.message().starts_with("Wrong expected version"));
        let duplicate_id = db.is_some_and(|d| d.constraint() == Some("messages_id"));
        // A retry of a committed append meets its own messages: Message DB checks the version
        // before the id, so it answers with either.
        if wrong_version || duplicate_id {
            let ids: Vec<String> = a.events.iter().map(|e| e.id.to_string()).collect();
            let stored: Vec<(String, i64)> = sqlx::query_as(
                "SELECT id::text, position FROM messages WHERE id = ANY($1::uuid[]) AND stream_name = $2",
            )
            .bind(&ids)
            .bind(name)
            .fetch_all(&self.pool)
            .await
            .map_err(Error::db("looking up a retried append"))?;
            let positions: Option<Vec<i64>> =
                ids.iter().map(|id| stored.iter().find(|(s, _)| s == id).map(|&(_, p)| p)).collect();
            if let Some(positions) = positions {
                return Ok(Appended { positions, version: a.expected_version + a.events.len() as i64 });
            }
        }
        if wrong_version || duplicate_id {
            return Err(Error::Conflict {
                stream: a.stream,
                expected: a.expected_version,
                actual: self.version(name).await?,
            });
        }
        Err(outcome::autocommitted(Error::Database { action: "writing a message", source }))
    }

    /// Empties the store, numbering from 1 again.
    pub async fn truncate(&self) -> Result<()> {
        sqlx::query("TRUNCATE messages RESTART IDENTITY")
            .execute(&self.pool)
            .await
            .map_err(Error::db("emptying Message DB"))?;
        Ok(())
    }

    /// Writes `events` by COPY into `messages`, in the order given (their global positions),
    /// each at its stream position and with its recorded time as its `time`: the history a
    /// measured step starts on, as fast as the server takes it. Then `VACUUM (ANALYZE)` and
    /// a checkpoint, as before every measured step of stroom's own stores.
    pub async fn bulk_load(&self, events: &[StoredEvent]) -> Result<()> {
        self.copy_in(events).await?;
        self.settle().await
    }

    /// Writes `events` by COPY into `messages`, in the order given, as [`MessageDb::bulk_load`]
    /// does but without settling: for a history loaded a day at a time.
    pub async fn copy_in(&self, events: &[StoredEvent]) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(Error::db("acquiring a connection"))?;
        let mut copy = conn
            .copy_in_raw("COPY messages (id, stream_name, position, type, data, metadata, time) FROM STDIN")
            .await
            .map_err(Error::db("starting COPY into Message DB"))?;
        let mut chunk = String::with_capacity(1 << 20);
        for e in events {
            copy_row(&mut chunk, e);
            if chunk.len() > 1 << 20 {
                copy.send(chunk.as_bytes()).await.map_err(Error::db("copying into Message DB"))?;
                chunk.clear();
            }
        }
        copy.send(chunk.as_bytes()).await.map_err(Error::db("copying into Message DB"))?;
        copy.finish().await.map_err(Error::db("finishing COPY into Message DB"))?;
        Ok(())
    }

    /// `VACUUM (ANALYZE)` and a checkpoint, as before every measured step of stroom's own stores.
    pub async fn settle(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(Error::db("acquiring a connection"))?;
        for statement in ["VACUUM (ANALYZE) messages", "CHECKPOINT"] {
            let done = sqlx::query(statement).execute(&mut *conn).await;
            if let Err(e) = done {
                // A role without pg_checkpoint measures unsettled, as stroom's own stores do.
                if statement != "CHECKPOINT" {
                    return Err(Error::Database { action: "vacuuming Message DB", source: e });
                }
            }
        }
        Ok(())
    }

    /// A stream's version in stroom's numbering (0: no events).
    async fn version(&self, name: &str) -> Result<i64> {
        let v: Option<i64> = sqlx::query_scalar("SELECT stream_version($1)")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db("reading a stream's version"))?;
        Ok(v.map_or(0, |v| v + 1))
    }

    /// One page of a school's messages from `global_position` on, as a Message DB consumer
    /// reads them (`get_category_messages`).
    pub async fn category_page(&self, school: School, global_position: i64, batch: i64) -> Result<Vec<Message>> {
        sqlx::query_as(
            "SELECT id, stream_name, type, position, global_position, data, metadata \
             FROM get_category_messages($1, $2, $3)",
        )
        .bind(category(school))
        .bind(global_position)
        .bind(batch)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("reading a category page"))
    }

    /// A stream's messages, as `get_stream_messages` returns them.
    pub async fn stream(&self, school: School, stream: Uuid) -> Result<Vec<Message>> {
        sqlx::query_as(
            "SELECT id, stream_name, type, position, global_position, data, metadata \
             FROM get_stream_messages($1, 0, -1)",
        )
        .bind(stream_name(school, stream))
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("reading a stream"))
    }
}

/// One `COPY … FROM STDIN` text row for `e`.
fn copy_row(out: &mut String, e: &StoredEvent) {
    use std::fmt::Write;
    let time = chrono::DateTime::from_timestamp_micros(e.recorded_at_us).unwrap_or_default().naive_utc();
    let _ =
        write!(out, "{}\t{}\t{}\t{}\t", e.id, stream_name(e.school, e.stream), e.version - 1, escaped(&e.event_type));
    out.push_str(&escaped(&e.payload));
    out.push('\t');
    out.push_str(&escaped(&with_recorded_at(&e.metadata, e.recorded_at_us)));
    let _ = writeln!(out, "\t{}", time.format("%Y-%m-%d %H:%M:%S%.6f"));
}

/// `metadata` with `recordedAtUs` added, as [`MessageDb::append`] writes it.
fn with_recorded_at(metadata: &str, us: i64) -> String {
    let mut v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(metadata).unwrap_or_default();
    v.insert("recordedAtUs".into(), us.into());
    serde_json::Value::Object(v).to_string()
}

/// Text for COPY's text format: backslash, tab, newline and carriage return escaped.
fn escaped(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['\\', '\t', '\n', '\r']) {
        return s.into();
    }
    s.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_row_escapes_text_and_carries_the_recorded_time() {
        let e = StoredEvent {
            id: Uuid::nil(),
            school: 4,
            stream: Uuid::nil(),
            version: 3,
            event_type: "A/B".into(),
            recorded_at_us: 1_000_000,
            payload: r#"{"s": "a\tb"}"#.into(),
            metadata: r#"{"x": 1}"#.into(),
        };
        let mut row = String::new();
        copy_row(&mut row, &e);
        let nil = Uuid::nil();
        assert_eq!(
            row,
            format!(
                "{nil}\tschool4-{nil}\t2\tA/B\t{{\"s\": \"a\\\\tb\"}}\t{{\"recordedAtUs\":1000000,\"x\":1}}\t1970-01-01 00:00:01.000000\n"
            )
        );
    }
}
