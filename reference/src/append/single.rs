//! `single`: one event per transaction into the single log, as pgbench would do it.
//!
//! A command of several events is several transactions, so a conflict on a later event leaves
//! the earlier ones committed: that is the baseline's nature, and why the 2017 system could
//! not do better than appending one by one.

use sqlx::PgConnection;

use super::held::Held;
use super::{check_input, Append, Appended};
use crate::error::{Error, Result};
use crate::event::NewEvent;
use crate::store::Store;

pub(super) async fn append(store: &Store, held: &Held, a: Append) -> Result<Appended> {
    check_input(&a, store.schema().payload)?;
    store.check_school(a.school).await?;
    let mut conn = held.acquire().await?;
    let mut positions = Vec::with_capacity(a.events.len());
    for (i, e) in a.events.iter().enumerate() {
        // Each insert commits on its own: a session lost under it leaves it perhaps written,
        // and a retry with the same ids finds what was.
        let inserted = insert_one(&mut conn, store, &a, i, e).await.map_err(super::outcome::autocommitted)?;
        let (Inserted::New(p) | Inserted::Existing(p)) = inserted;
        positions.push(p);
    }
    conn.clean();
    Ok(Appended { positions, version: a.expected_version + a.events.len() as i64 })
}

/// What [`insert_one`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inserted {
    /// Inserted at this global position.
    New(i64),
    /// Already stored at this position, with the same stream and version: an idempotent retry.
    /// Inside a transaction, the failed insert has aborted it.
    Existing(i64),
}

/// Inserts event `i` of `a` in one statement that also registers the stream, or checks that
/// it belongs to `a.school`, and that the version before it is stored: an expected version
/// ahead of the stream is a [`Error::Conflict`], not a gap.
pub(super) async fn insert_one(
    conn: &mut PgConnection,
    store: &Store,
    a: &Append,
    i: usize,
    e: &NewEvent,
) -> Result<Inserted> {
    let version = a.expected_version + 1 + i as i64;
    let sql = format!(
        "WITH reg AS (INSERT INTO streams (stream, school) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING school), \
         owner AS (SELECT school FROM reg UNION ALL SELECT school FROM streams WHERE stream = $1 LIMIT 1) \
         INSERT INTO events (school, id, stream, version, event_type, recorded_at, payload, metadata) \
         SELECT $2, $3, $1, $4, $5, to_timestamp($6::float8 / 1e6), {}, $8::jsonb \
         WHERE (SELECT school FROM owner) = $2 \
           AND ($4 = 1 OR EXISTS (SELECT 1 FROM events WHERE stream = $1 AND version = $4 - 1)) \
         RETURNING global_position",
        store.schema().payload.from_bytea("$7")
    );
    // A statement that waited on another transaction's registration of the same stream does
    // not see that row in its snapshot; the second attempt does.
    for _attempt in 0..3 {
        let inserted = sqlx::query_scalar::<_, i64>(&sql)
            .bind(a.stream)
            .bind(a.school)
            .bind(e.id)
            .bind(version)
            .bind(&e.event_type)
            .bind(e.recorded_at_us as f64)
            .bind(e.payload.as_bytes())
            .bind(&e.metadata)
            .fetch_optional(&mut *conn)
            .await;
        match inserted {
            Ok(Some(position)) => return Ok(Inserted::New(position)),
            Ok(None) => match store.stream_school(a.stream).await? {
                Some(owner) if owner != a.school => {
                    return Err(Error::WrongSchool { stream: a.stream, school: a.school, owner })
                }
                Some(_) if version > 1 => {
                    let actual = store.stream_version(a.stream).await?;
                    if actual < version - 1 {
                        return Err(Error::Conflict { stream: a.stream, expected: a.expected_version, actual });
                    }
                    continue;
                }
                _ => continue,
            },
            Err(err) => return classify(store, a, e, version, err).await,
        }
    }
    Err(Error::BatchFailed { reason: format!("stream {} could not be registered", a.stream) })
}

/// A failed insert: an idempotent retry, a conflict, or a fault.
async fn classify(store: &Store, a: &Append, e: &NewEvent, version: i64, err: sqlx::Error) -> Result<Inserted> {
    let constraint =
        err.as_database_error().filter(|d| d.is_unique_violation()).map(|d| d.constraint().map(str::to_string));
    let conflict = || async {
        Ok::<_, Error>(Error::Conflict {
            stream: a.stream,
            expected: a.expected_version,
            actual: store.stream_version(a.stream).await?,
        })
    };
    match constraint {
        None => Err(Error::Database { action: "inserting an event", source: err }),
        Some(Some(name)) if name == "events_id_key" => match store.positions_of(None, &[e.id]).await?.get(&e.id) {
            Some(&(position, stored_version)) if stored_version == version => Ok(Inserted::Existing(position)),
            _ => Err(conflict().await?),
        },
        Some(_) => Err(conflict().await?),
    }
}
