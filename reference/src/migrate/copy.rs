//! Copying one school's rows from server to server by binary COPY: the source's
//! `COPY (SELECT …) TO STDOUT` is piped unchanged into the target's `COPY … FROM STDIN`, in one
//! transaction on the target with the school's stream registry and head, so a copy that dies
//! midway leaves nothing of itself. Each round copies what the target lacks: the rows after
//! the last position it holds. Positions are the school's commit order (a school's commits
//! take their positions under its head row's lock), so "after the last copied position" is
//! exactly what committed since.

use futures::TryStreamExt;

use crate::error::{Error, Result};
use crate::event::School;
use crate::store::{Store, COLUMNS};

/// What one round copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    /// Rows copied.
    pub rows: u64,
    /// The last position the target now holds (0: none).
    pub last_position: i64,
}

/// The last position of `school` in `store` (0 when it has no events).
pub async fn last_position(store: &Store, school: School) -> Result<i64> {
    sqlx::query_scalar("SELECT coalesce(max(position), 0)::bigint FROM events WHERE school = $1")
        .bind(school)
        .fetch_one(store.pool())
        .await
        .map_err(Error::db("reading a school's last position"))
}

/// The school's rows as the partitioned layout numbers them: in a single log (the 2017 layout)
/// positions are the school's rows counted in global order; bound to `$1` or inlined.
pub(super) fn numbered_rows(store: &Store, school: &str) -> String {
    if store.schema().layout.single_table() {
        format!(
            "(SELECT school, row_number() OVER (ORDER BY global_position) AS position, id, stream, version, \
             event_type, recorded_at, payload, metadata FROM events WHERE school = {school}) AS events"
        )
    } else {
        "events".to_string()
    }
}

/// Copies the rows of `school` that `target` lacks, with the streams they register, and sets
/// the target's head to the last position copied. The target is partitioned; the source is
/// too, or a single log whose rows are numbered on the way (a transforming migration).
pub async fn copy_round(source: &Store, target: &Store, school: School) -> Result<Copied> {
    if source.schema().payload != target.schema().payload {
        return Err(Error::Migration {
            reason: format!(
                "the source's payload is {} and the target's {}; binary COPY needs them equal",
                source.schema().payload.name(),
                target.schema().payload.name()
            ),
        });
    }
    let after = last_position(target, school).await?;
    let mut out = source.pool().acquire().await.map_err(Error::db("connecting to the source"))?;
    let mut tx = target.pool().begin().await.map_err(Error::db("starting the copy on the target"))?;
    let mut copy_in = tx
        .copy_in_raw(&format!("COPY events ({COLUMNS}) FROM STDIN (FORMAT binary)"))
        .await
        .map_err(Error::db("starting COPY into the target"))?;
    let select = format!(
        "COPY (SELECT {COLUMNS} FROM {} WHERE school = {school} AND position > {after} ORDER BY position) \
         TO STDOUT (FORMAT binary)",
        numbered_rows(source, &school.to_string())
    );
    {
        let mut rows = out.copy_out_raw(&select).await.map_err(Error::db("starting COPY out of the source"))?;
        while let Some(chunk) = rows.try_next().await.map_err(Error::db("reading COPY out of the source"))? {
            copy_in.send(chunk).await.map_err(Error::db("sending COPY into the target"))?;
        }
    }
    let rows = copy_in.finish().await.map_err(Error::db("finishing COPY into the target"))?;
    // Read after the rows' snapshot, the registry holds every stream they start (a stream is
    // registered in the transaction of its first event), and perhaps later ones: harmless.
    let streams: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT stream FROM streams WHERE school = $1")
        .bind(school)
        .fetch_all(&mut *out)
        .await
        .map_err(Error::db("reading the source's stream registry"))?;
    sqlx::query("INSERT INTO streams (stream, school) SELECT unnest($1::uuid[]), $2 ON CONFLICT DO NOTHING")
        .bind(&streams)
        .bind(school)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("registering the streams on the target"))?;
    let last_position: i64 = sqlx::query_scalar(
        "UPDATE school_heads SET position = (SELECT coalesce(max(position), 0) FROM events WHERE school = $1) \
         WHERE school = $1 RETURNING position",
    )
    .bind(school)
    .fetch_one(&mut *tx)
    .await
    .map_err(Error::db("setting the target's head"))?;
    tx.commit().await.map_err(Error::db("committing the copy on the target"))?;
    Ok(Copied { rows, last_position })
}
