//! The event store on PostgreSQL: schema, partitions and the bulk paths.

mod copy_in;
mod detect;
mod feed;
mod layout;
mod read;
mod schema;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use futures::TryStreamExt;
use sqlx::{Connection, PgPool};
use uuid::Uuid;

pub use copy_in::{copy_events, RowEncoder, COLUMNS};
pub use feed::{FeedBlocker, FeedCursor, FeedSnapshot};
pub use layout::{Layout, PayloadType};
pub use read::SchoolReader;
pub use schema::Schema;

use crate::error::{Error, Result};
use crate::event::{School, StoredEvent};
use crate::upcast::Upcasters;

/// A handle on one database holding the log in one layout.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    schema: Schema,
    /// Schools known to exist; refreshed from `school_heads` on a miss.
    schools: Arc<RwLock<HashSet<School>>>,
    upcasters: Upcasters,
}

impl Store {
    /// Applies the schema's migrations (idempotent) and returns the store.
    pub async fn install(pool: PgPool, schema: Schema) -> Result<Self> {
        let migrate_err = |source| Error::Migrate { layout: schema.layout.name(), source };
        schema.migrator().await.map_err(migrate_err)?.run(&pool).await.map_err(migrate_err)?;
        Ok(Self { pool, schema, schools: Arc::default(), upcasters: Upcasters::standard() })
    }

    /// The same store, with `upcasters` applied to every event read.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// The schools registered in the store, in order (not the whole log's -1 row).
    pub async fn schools(&self) -> Result<Vec<School>> {
        let schools: Vec<School> =
            sqlx::query_scalar("SELECT school FROM school_heads WHERE school >= 0 ORDER BY school")
                .fetch_all(&self.pool)
                .await
                .map_err(Error::db("listing schools"))?;
        *self.schools.write().unwrap_or_else(|p| p.into_inner()) = schools.iter().copied().collect();
        Ok(schools)
    }

    /// Fails with [`Error::UnknownSchool`] unless `school` is registered.
    pub async fn check_school(&self, school: School) -> Result<()> {
        if self.schools.read().unwrap_or_else(|p| p.into_inner()).contains(&school) {
            return Ok(());
        }
        if self.schools().await?.contains(&school) {
            Ok(())
        } else {
            Err(Error::UnknownSchool { school })
        }
    }

    /// The school a stream is registered to, if it is.
    pub async fn stream_school(&self, stream: Uuid) -> Result<Option<School>> {
        sqlx::query_scalar("SELECT school FROM streams WHERE stream = $1")
            .bind(stream)
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::db("looking up a stream's school"))
    }

    /// A stream's current version (0 when it has no events).
    pub async fn stream_version(&self, stream: Uuid) -> Result<i64> {
        sqlx::query_scalar("SELECT coalesce(max(version), 0)::bigint FROM events WHERE stream = $1")
            .bind(stream)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db("reading a stream's version"))
    }

    /// Stored (position, version) of the given event ids, where they exist. The position is
    /// the school position, else the log position, else the global position.
    pub async fn positions_of(&self, school: Option<School>, ids: &[Uuid]) -> Result<HashMap<Uuid, (i64, i64)>> {
        let rows: Vec<(Uuid, i64, i64)> = sqlx::query_as(
            "SELECT id, coalesce(position, global_position), version FROM events \
             WHERE ($1::int IS NULL OR school = $1) AND id = ANY($2)",
        )
        .bind(school)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("looking up event ids"))?;
        Ok(rows.into_iter().map(|(id, p, v)| (id, (p, v))).collect())
    }

    /// The upcasters applied to every event read.
    pub fn upcasters(&self) -> &Upcasters {
        &self.upcasters
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The layout and payload type.
    pub fn schema(&self) -> Schema {
        self.schema
    }

    /// Registers schools: a head row each and, when partitioned, a partition each.
    /// Schools that exist already are left alone.
    pub async fn add_schools(&self, schools: &[School]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(Error::db("starting a transaction"))?;
        for &school in schools {
            if self.schema.partition_per_school() {
                let ddl = format!(
                    "CREATE TABLE IF NOT EXISTS events_s{n} PARTITION OF events FOR VALUES IN ({school})",
                    n = school.max(0)
                );
                sqlx::query(&ddl).execute(&mut *tx).await.map_err(Error::db("creating a school partition"))?;
            }
        }
        sqlx::query("INSERT INTO school_heads (school) SELECT unnest($1::int[]) ON CONFLICT DO NOTHING")
            .bind(schools)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("registering schools"))?;
        tx.commit().await.map_err(Error::db("committing schools"))?;
        self.schools.write().unwrap_or_else(|p| p.into_inner()).extend(schools);
        Ok(())
    }

    /// Empties the log and resets every school's head to 0.
    pub async fn truncate(&self) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(Error::db("starting a transaction"))?;
        for sql in ["TRUNCATE events, streams", "UPDATE school_heads SET position = 0"] {
            sqlx::query(sql).execute(&mut *tx).await.map_err(Error::db("emptying the log"))?;
        }
        tx.commit().await.map_err(Error::db("emptying the log"))
    }

    /// Number of events in the log.
    pub async fn count(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db("counting events"))
    }

    /// A raw binary COPY of `events` with the positions given, in one transaction, bypassing
    /// the heads. This is the same-run reference rate appends are measured against.
    pub async fn raw_copy_in(&self, rows: &[(StoredEvent, i64)]) -> Result<u64> {
        let mut conn = self.pool.acquire().await.map_err(Error::db("acquiring a connection"))?;
        let mut tx = conn.begin().await.map_err(Error::db("starting a transaction"))?;
        let n = copy_events(&mut tx, "events", self.schema.payload, rows).await?;
        tx.commit().await.map_err(Error::db("committing COPY"))?;
        Ok(n)
    }

    /// The bulk path for backfills: in one transaction, takes positions from the schools'
    /// heads, registers streams that start here, and writes the rows with binary COPY. Events
    /// must be in order within each school. It takes no lease, so it must not run while
    /// transactors own the same schools.
    pub async fn bulk_load(&self, events: &[StoredEvent]) -> Result<u64> {
        let mut counts: HashMap<School, i64> = HashMap::new();
        for e in events {
            *counts.entry(e.school).or_default() += 1;
        }
        let (schools, ns): (Vec<School>, Vec<i64>) = counts.iter().map(|(s, n)| (*s, *n)).unzip();
        let mut tx = self.pool.begin().await.map_err(Error::db("starting a bulk load"))?;
        let heads: Vec<(School, i64)> = sqlx::query_as(
            "UPDATE school_heads h SET position = h.position + c.n FROM unnest($1::int[], $2::bigint[]) AS c(school, n) \
             WHERE h.school = c.school RETURNING h.school, h.position",
        )
        .bind(&schools)
        .bind(&ns)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("taking positions for a bulk load"))?;
        if heads.len() != schools.len() {
            let known: HashSet<School> = heads.iter().map(|(s, _)| *s).collect();
            let school = schools.into_iter().find(|s| !known.contains(s)).unwrap_or_default();
            return Err(Error::UnknownSchool { school });
        }
        let mut next: HashMap<School, i64> = heads.into_iter().map(|(s, last)| (s, last - counts[&s] + 1)).collect();
        let rows: Vec<(StoredEvent, i64)> = events
            .iter()
            .map(|e| {
                let p = next.get_mut(&e.school).expect("every school has a head");
                *p += 1;
                (e.clone(), *p - 1)
            })
            .collect();
        let (new_streams, owners): (Vec<Uuid>, Vec<School>) =
            events.iter().filter(|e| e.version == 1).map(|e| (e.stream, e.school)).unzip();
        sqlx::query(
            "INSERT INTO streams (stream, school) SELECT * FROM unnest($1::uuid[], $2::int[]) ON CONFLICT DO NOTHING",
        )
        .bind(&new_streams)
        .bind(&owners)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("registering streams"))?;
        let n = copy_events(&mut tx, "events", self.schema.payload, &rows).await?;
        tx.commit().await.map_err(Error::db("committing a bulk load"))?;
        Ok(n)
    }

    /// A raw binary `COPY (SELECT …) TO STDOUT` of the columns a replay reads, in global
    /// order; returns the bytes received. The reference rate replays are measured against.
    pub async fn raw_copy_out(&self) -> Result<u64> {
        let mut conn = self.pool.acquire().await.map_err(Error::db("acquiring a connection"))?;
        let statement = format!(
            "COPY (SELECT {} FROM events ORDER BY global_position) TO STDOUT (FORMAT binary)",
            crate::replay::replay_columns(self)
        );
        let mut stream = conn.copy_out_raw(&statement).await.map_err(Error::db("starting COPY out"))?;
        let mut bytes = 0u64;
        while let Some(chunk) = stream.try_next().await.map_err(Error::db("reading COPY out"))? {
            bytes += chunk.len() as u64;
        }
        Ok(bytes)
    }
}

impl Store {
    /// A handle on a store whose schema is already installed, without running migrations:
    /// for tools that found the schema with [`Schema::detect`].
    pub fn open(pool: PgPool, schema: Schema) -> Self {
        Self { pool, schema, schools: Arc::default(), upcasters: Upcasters::standard() }
    }
}
