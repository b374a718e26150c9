//! The migrations' journal: one row per migration in `stroom_migrations` on the server
//! holding the placement map, naming the last step that finished. A process that dies
//! mid-migration leaves its row open; `--resume` goes on from the step it names, `--abort`
//! undoes what the steps did. At most one migration per school is open at a time.

use sqlx::PgPool;
use uuid::Uuid;

use super::Step;
use crate::error::{Error, Result};
use crate::event::School;
use crate::placement::Server;

const TABLE: &str = "
    CREATE TABLE IF NOT EXISTS stroom_migrations (
        id          bigserial   PRIMARY KEY,
        school      int         NOT NULL,
        from_server int         NOT NULL,
        to_server   int         NOT NULL,
        step        text        NOT NULL,
        fence_owner uuid        NOT NULL,
        started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
        fenced_at   timestamptz,
        switched_at timestamptz,
        finished    boolean     NOT NULL DEFAULT false,
        detail      text
    );
    CREATE UNIQUE INDEX IF NOT EXISTS stroom_migrations_open ON stroom_migrations (school) WHERE NOT finished;";

/// One migration as the journal holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The journal's id for it.
    pub id: i64,
    /// The school being moved.
    pub school: School,
    /// Where it was.
    pub from: Server,
    /// Where it goes.
    pub to: Server,
    /// The last step that finished.
    pub step: Step,
    /// The owner the fence writes into both servers' head rows for the school.
    pub fence_owner: Uuid,
}

/// The journal table on the map's server.
#[derive(Debug, Clone)]
pub struct Journal {
    pool: PgPool,
}

type Row = (i64, School, i32, i32, String, Uuid);

impl Journal {
    /// Creates the table if it is missing.
    pub async fn install(pool: PgPool) -> Result<Self> {
        let mut tx = pool.begin().await.map_err(Error::db("installing the migration journal"))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('stroom_migrations'))")
            .execute(&mut *tx)
            .await
            .map_err(Error::db("installing the migration journal"))?;
        sqlx::raw_sql(TABLE).execute(&mut *tx).await.map_err(Error::db("installing the migration journal"))?;
        tx.commit().await.map_err(Error::db("installing the migration journal"))?;
        Ok(Self { pool })
    }

    /// Opens a migration of `school` from `from` to `to`; refused while another of the same
    /// school is open.
    pub async fn open(&self, school: School, from: Server, to: Server) -> Result<Entry> {
        let fence_owner = Uuid::new_v4();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO stroom_migrations (school, from_server, to_server, step, fence_owner) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(school)
        .bind(from as i32)
        .bind(to as i32)
        .bind(Step::Started.name())
        .bind(fence_owner)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e.as_database_error().and_then(|d| d.constraint()) {
            Some("stroom_migrations_open") => Error::Migration {
                reason: format!(
                    "school {school} has an unfinished migration; `stroom migrate --resume` finishes it, `--abort` undoes it"
                ),
            },
            _ => Error::Database { action: "opening a migration", source: e },
        })?;
        Ok(Entry { id, school, from, to, step: Step::Started, fence_owner })
    }

    /// The open migrations, oldest first.
    pub async fn open_entries(&self) -> Result<Vec<Entry>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, school, from_server, to_server, step, fence_owner FROM stroom_migrations \
             WHERE NOT finished ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("reading the migration journal"))?;
        rows.into_iter().map(entry).collect()
    }

    /// Records that `step` finished.
    pub async fn record(&self, id: i64, step: Step) -> Result<()> {
        record_in(&mut *self.pool.acquire().await.map_err(Error::db("recording a migration step"))?, id, step).await
    }

    /// Closes a migration with `step` (done or aborted) and why.
    pub async fn finish(&self, id: i64, step: Step, detail: &str) -> Result<()> {
        sqlx::query(
            "UPDATE stroom_migrations SET step = $2, finished = true, detail = $3, updated_at = clock_timestamp() \
             WHERE id = $1",
        )
        .bind(id)
        .bind(step.name())
        .bind(detail)
        .execute(&self.pool)
        .await
        .map_err(Error::db("closing a migration"))?;
        Ok(())
    }

    /// How long the school was fenced (from the fence to the switch), once both happened.
    pub async fn fence_duration(&self, id: i64) -> Result<Option<std::time::Duration>> {
        let s: Option<f64> = sqlx::query_scalar(
            "SELECT extract(epoch FROM switched_at - fenced_at)::float8 FROM stroom_migrations WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .map_err(Error::db("reading the migration journal"))?;
        Ok(s.map(|s| std::time::Duration::from_secs_f64(s.max(0.0))))
    }

    /// The pool of the journal's server.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Records that `step` finished, inside the caller's transaction (the switch records its step
/// with the placement change, atomically).
pub(super) async fn record_in(conn: &mut sqlx::PgConnection, id: i64, step: Step) -> Result<()> {
    let stamp = match step {
        Step::Fenced => ", fenced_at = coalesce(fenced_at, clock_timestamp())",
        Step::Switched => ", switched_at = coalesce(switched_at, clock_timestamp())",
        _ => "",
    };
    sqlx::query(&format!(
        "UPDATE stroom_migrations SET step = $2, updated_at = clock_timestamp(){stamp} WHERE id = $1 AND NOT finished"
    ))
    .bind(id)
    .bind(step.name())
    .execute(conn)
    .await
    .map_err(Error::db("recording a migration step"))?;
    Ok(())
}

fn entry((id, school, from, to, step, fence_owner): Row) -> Result<Entry> {
    let step = Step::parse(&step)
        .ok_or_else(|| Error::Migration { reason: format!("migration {id} names an unknown step '{step}'") })?;
    Ok(Entry { id, school, from: from as Server, to: to as Server, step, fence_owner })
}
