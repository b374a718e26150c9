//! Where each school lives when the log spans several PostgreSQL servers: a placement map
//! (school → server) kept in two small tables on the first server.
//!
//! Schools never interact, so each can live on any server; writers and readers route by the
//! map. The map is versioned: every change is a row of `stroom_placement_changes` with the
//! next version, the school, where it was, where it went and why, written in the same
//! transaction as the map itself. A move names where it expects the school to be, so two
//! movers cannot both win, and a reader holding version N knows whether what it routed by is
//! still current.

use std::collections::BTreeMap;

use sqlx::PgPool;

use crate::error::{Error, Result};
use crate::event::School;

/// Servers are numbered from 0, in the order a scenario lists or starts them.
pub type Server = u32;

/// The placement tables on one server.
#[derive(Debug, Clone)]
pub struct Placement {
    pool: PgPool,
}

/// The map at one version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementMap {
    /// The version: the number of changes ever made (0: nothing placed).
    pub version: i64,
    /// Each placed school's server.
    pub schools: BTreeMap<School, Server>,
}

impl PlacementMap {
    /// The server `school` lives on, if it is placed.
    pub fn server_of(&self, school: School) -> Option<Server> {
        self.schools.get(&school).copied()
    }

    /// The schools on `server`, in order.
    pub fn schools_on(&self, server: Server) -> Vec<School> {
        self.schools.iter().filter(|(_, s)| **s == server).map(|(school, _)| *school).collect()
    }
}

/// One recorded change of the map.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PlacementChange {
    /// The map's version after this change.
    pub version: i64,
    /// The school.
    pub school: School,
    /// Where it was; `None` when this change placed it first.
    pub from_server: Option<i64>,
    /// Where it went.
    pub to_server: i64,
    /// Why, in words ("initial placement", "migrate", ...).
    pub reason: String,
}

const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS stroom_placement (
        school int PRIMARY KEY,
        server int NOT NULL CHECK (server >= 0)
    );
    CREATE TABLE IF NOT EXISTS stroom_placement_changes (
        version bigint PRIMARY KEY,
        school int NOT NULL,
        from_server int,
        to_server int NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        reason text NOT NULL
    );
    CREATE TABLE IF NOT EXISTS stroom_servers (
        server int PRIMARY KEY CHECK (server >= 0),
        url text NOT NULL
    );";

impl Placement {
    /// Creates the tables if they are missing (safe to call from several processes at once).
    pub async fn install(pool: PgPool) -> Result<Self> {
        let mut tx = pool.begin().await.map_err(Error::db("installing the placement map"))?;
        // Two concurrent CREATE TABLE IF NOT EXISTS can both pass the check; one lock orders them.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('stroom_placement'))")
            .execute(&mut *tx)
            .await
            .map_err(Error::db("installing the placement map"))?;
        sqlx::raw_sql(TABLES).execute(&mut *tx).await.map_err(Error::db("installing the placement map"))?;
        tx.commit().await.map_err(Error::db("installing the placement map"))?;
        Ok(Self { pool })
    }

    /// Connects to the map's server and installs the tables there.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(Error::db("connecting to the placement map's server"))?;
        Self::install(pool).await
    }

    /// The map as it is now.
    pub async fn load(&self) -> Result<PlacementMap> {
        let mut tx = self.pool.begin().await.map_err(Error::db("reading the placement map"))?;
        // One snapshot for both reads, so the version describes exactly the rows read.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await
            .map_err(Error::db("reading the placement map"))?;
        let rows: Vec<(School, i32)> = sqlx::query_as("SELECT school, server FROM stroom_placement")
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db("reading the placement map"))?;
        let version: i64 = sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM stroom_placement_changes")
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db("reading the placement map's version"))?;
        tx.commit().await.map_err(Error::db("reading the placement map"))?;
        Ok(PlacementMap { version, schools: rows.into_iter().map(|(school, s)| (school, s as Server)).collect() })
    }

    /// Places every school of `schools` not yet placed, round robin over `servers` servers
    /// (school i of the list on server i mod `servers`); schools already placed stay where
    /// they are. Returns the map after.
    pub async fn place_missing(&self, schools: &[School], servers: Server) -> Result<PlacementMap> {
        if servers == 0 {
            return Err(Error::Placement { reason: "a placement needs at least one server".into() });
        }
        let placed = self.load().await?;
        for (i, &school) in schools.iter().enumerate() {
            if placed.server_of(school).is_none() {
                self.change(school, None, i as Server % servers, "initial placement").await?;
            }
        }
        self.load().await
    }

    /// Moves `school` from `from` to `to`, recording `reason`; refused, changing nothing, when
    /// the school is not on `from` (someone else moved it, or it was never placed). Returns
    /// the map's new version.
    pub async fn move_school(&self, school: School, from: Server, to: Server, reason: &str) -> Result<i64> {
        self.change(school, Some(from), to, reason).await
    }

    /// Records the servers' URLs, server i at `urls[i]`, replacing what was recorded, so
    /// tools given only the first server (`stroom migrate`) can reach the others.
    pub async fn register_servers(&self, urls: &[String]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(Error::db("recording the servers"))?;
        sqlx::query("DELETE FROM stroom_servers")
            .execute(&mut *tx)
            .await
            .map_err(Error::db("recording the servers"))?;
        sqlx::query("INSERT INTO stroom_servers (server, url) SELECT i - 1, u FROM unnest($1::text[]) WITH ORDINALITY AS t(u, i)")
            .bind(urls)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("recording the servers"))?;
        tx.commit().await.map_err(Error::db("recording the servers"))
    }

    /// The servers' URLs as recorded, server 0 first.
    pub async fn servers(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT url FROM stroom_servers ORDER BY server")
            .fetch_all(&self.pool)
            .await
            .map_err(Error::db("reading the servers"))
    }

    /// The pool of the server holding the map.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Every change ever made, oldest first.
    pub async fn changes(&self) -> Result<Vec<PlacementChange>> {
        sqlx::query_as(
            "SELECT version, school, from_server::bigint AS from_server, to_server::bigint AS to_server, reason \
             FROM stroom_placement_changes ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("reading the placement changes"))
    }

    /// One change in one transaction: the map's row and the change's record, or neither.
    async fn change(&self, school: School, from: Option<Server>, to: Server, reason: &str) -> Result<i64> {
        let mut tx = self.pool.begin().await.map_err(Error::db("changing the placement map"))?;
        let version = change_in(&mut tx, school, from, to, reason).await?;
        tx.commit().await.map_err(Error::db("changing the placement map"))?;
        Ok(version)
    }
}

/// One change inside the caller's transaction on the map's server, so a caller can record
/// something of its own (a migration's step) atomically with it. Refused, changing nothing,
/// when the school is not where `from` says.
pub(crate) async fn change_in(
    tx: &mut sqlx::PgConnection,
    school: School,
    from: Option<Server>,
    to: Server,
    reason: &str,
) -> Result<i64> {
    let db = || Error::db("changing the placement map");
    // Changes are numbered one after another: one writer of the map at a time.
    sqlx::query("LOCK TABLE stroom_placement_changes IN EXCLUSIVE MODE").execute(&mut *tx).await.map_err(db())?;
    let now: Option<i32> = sqlx::query_scalar("SELECT server FROM stroom_placement WHERE school = $1")
        .bind(school)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db())?;
    if now.map(|s| s as Server) != from {
        let was = |s: Option<Server>| s.map_or("unplaced".to_string(), |s| format!("on server {s}"));
        return Err(Error::Placement {
            reason: format!(
                "school {school} is {}, not {} as the change expected",
                was(now.map(|s| s as Server)),
                was(from)
            ),
        });
    }
    sqlx::query(
        "INSERT INTO stroom_placement (school, server) VALUES ($1, $2) \
         ON CONFLICT (school) DO UPDATE SET server = excluded.server",
    )
    .bind(school)
    .bind(to as i32)
    .execute(&mut *tx)
    .await
    .map_err(db())?;
    sqlx::query_scalar(
        "INSERT INTO stroom_placement_changes (version, school, from_server, to_server, reason) \
         SELECT coalesce(max(version), 0) + 1, $1, $2, $3, $4 FROM stroom_placement_changes RETURNING version",
    )
    .bind(school)
    .bind(from.map(|s| s as i32))
    .bind(to as i32)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await
    .map_err(Error::db("recording the placement change"))
}
