//! The event store on PostgreSQL: schema, partitions and the bulk paths.

mod copy_in;
mod layout;
mod schema;

use futures::TryStreamExt;
use sqlx::{Connection, PgPool};

pub use copy_in::{copy_events, RowEncoder, COLUMNS};
pub use layout::{Layout, PayloadType};
pub use schema::Schema;

use crate::error::{Error, Result};
use crate::event::{School, StoredEvent};

/// A handle on one database holding the log in one layout.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    schema: Schema,
}

impl Store {
    /// Applies the schema's migrations (idempotent) and returns the store.
    pub async fn install(pool: PgPool, schema: Schema) -> Result<Self> {
        let migrate_err = |source| Error::Migrate {
            layout: schema.layout.name(),
            source,
        };
        schema
            .migrator()
            .await
            .map_err(migrate_err)?
            .run(&pool)
            .await
            .map_err(migrate_err)?;
        Ok(Self { pool, schema })
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
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::db("starting a transaction"))?;
        for &school in schools {
            if self.schema.layout == Layout::Partitioned {
                let ddl = format!(
                    "CREATE TABLE IF NOT EXISTS events_s{n} PARTITION OF events FOR VALUES IN ({school})",
                    n = school.max(0)
                );
                sqlx::query(&ddl)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::db("creating a school partition"))?;
            }
        }
        sqlx::query(
            "INSERT INTO school_heads (school) SELECT unnest($1::int[]) ON CONFLICT DO NOTHING",
        )
        .bind(schools)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("registering schools"))?;
        tx.commit().await.map_err(Error::db("committing schools"))
    }

    /// Empties the log and resets every school's head to 0.
    pub async fn truncate(&self) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::db("starting a transaction"))?;
        for sql in ["TRUNCATE events", "UPDATE school_heads SET position = 0"] {
            sqlx::query(sql)
                .execute(&mut *tx)
                .await
                .map_err(Error::db("emptying the log"))?;
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
    pub async fn raw_copy_in<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a StoredEvent, i64)>,
    ) -> Result<u64> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(Error::db("acquiring a connection"))?;
        let mut tx = conn
            .begin()
            .await
            .map_err(Error::db("starting a transaction"))?;
        let n = copy_events(&mut tx, "events", self.schema.payload, rows).await?;
        tx.commit().await.map_err(Error::db("committing COPY"))?;
        Ok(n)
    }

    /// A raw binary `COPY (SELECT …) TO STDOUT` of the whole log in school order; returns the
    /// bytes received. The reference rate replays are measured against.
    pub async fn raw_copy_out(&self) -> Result<u64> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(Error::db("acquiring a connection"))?;
        let statement =
            format!("COPY (SELECT {COLUMNS} FROM events ORDER BY school, position) TO STDOUT (FORMAT binary)");
        let mut stream = conn
            .copy_out_raw(&statement)
            .await
            .map_err(Error::db("starting COPY out"))?;
        let mut bytes = 0u64;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(Error::db("reading COPY out"))?
        {
            bytes += chunk.len() as u64;
        }
        Ok(bytes)
    }
}
