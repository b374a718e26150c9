//! The independent check: what the log holds against what the writers were told, in SQL
//! over one snapshot, and `pg_amcheck` over the store's tables and indexes.

use std::process::Command;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;
use stroom_reference::Store;
use uuid::Uuid;

use crate::error::{Error, Result};

/// What one check found; every count but `acknowledged` must be 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Found {
    /// Acknowledged events checked.
    pub acknowledged: i64,
    /// Acknowledged events not stored.
    pub lost: i64,
    /// Events stored more than once (the same id twice).
    pub duplicates: i64,
    /// Schools whose positions are not 1..n or whose head row is not n, plus streams whose
    /// versions are not 1..n.
    pub gaps: i64,
    /// Streams with events in more than one school, or in another school than registered.
    pub streams_across_schools: i64,
    /// Events refused for certain that are stored all the same.
    pub refused_stored: i64,
}

impl Found {
    /// The worse of two checks, count by count.
    pub fn worst(self, other: Found) -> Found {
        Found {
            acknowledged: self.acknowledged.max(other.acknowledged),
            lost: self.lost.max(other.lost),
            duplicates: self.duplicates.max(other.duplicates),
            gaps: self.gaps.max(other.gaps),
            streams_across_schools: self.streams_across_schools.max(other.streams_across_schools),
            refused_stored: self.refused_stored.max(other.refused_stored),
        }
    }

    /// Two stores' checks together.
    pub fn plus(self, other: Found) -> Found {
        Found {
            acknowledged: self.acknowledged + other.acknowledged,
            lost: self.lost + other.lost,
            duplicates: self.duplicates + other.duplicates,
            gaps: self.gaps + other.gaps,
            streams_across_schools: self.streams_across_schools + other.streams_across_schools,
            refused_stored: self.refused_stored + other.refused_stored,
        }
    }

    /// Whether anything is wrong.
    pub fn clean(&self) -> bool {
        *self == Found { acknowledged: self.acknowledged, ..Found::default() }
    }
}

/// Checks the store against `acked` and `refused` events (school, id). Everything in `acked`
/// was acknowledged before this begins, so its snapshot must hold it.
pub async fn check(store: &Store, acked: &[(i32, Uuid)], refused: &[(i32, Uuid)]) -> Result<Found> {
    let db = |source| Error::Database { action: "checking the log after a fault", source };
    let mut conn = store.pool().acquire().await.map_err(db)?;
    let mut tx = conn.begin().await.map_err(db)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await.map_err(db)?;
    let (schools, ids): (Vec<i32>, Vec<Uuid>) = acked.iter().copied().unzip();
    let lost: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM unnest($1::int[], $2::uuid[]) AS a(school, id) \
         WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.school = a.school AND e.id = a.id)",
    )
    .bind(&schools)
    .bind(&ids)
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    let duplicates: i64 =
        sqlx::query_scalar("SELECT count(*) - count(DISTINCT id) FROM events").fetch_one(&mut *tx).await.map_err(db)?;
    let school_gaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM school_heads h LEFT JOIN \
           (SELECT school, count(*) AS n, min(position) AS lo, max(position) AS hi FROM events GROUP BY school) e \
           ON e.school = h.school \
         WHERE h.school >= 0 AND (coalesce(e.hi, 0) <> h.position OR coalesce(e.n, 0) <> h.position \
                                  OR coalesce(e.lo, 1) <> 1)",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    let version_gaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT stream FROM events GROUP BY stream \
           HAVING max(version) <> count(*) OR min(version) <> 1) s",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    let across: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM (SELECT stream FROM events GROUP BY stream HAVING count(DISTINCT school) > 1) m) \
              + (SELECT count(DISTINCT e.stream) FROM events e JOIN streams s ON s.stream = e.stream WHERE s.school <> e.school)",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    let (schools, ids): (Vec<i32>, Vec<Uuid>) = refused.iter().copied().unzip();
    let refused_stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM unnest($1::int[], $2::uuid[]) AS r(school, id) \
         WHERE EXISTS (SELECT 1 FROM events e WHERE e.school = r.school AND e.id = r.id)",
    )
    .bind(&schools)
    .bind(&ids)
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    tx.rollback().await.map_err(db)?;
    Ok(Found {
        acknowledged: acked.len() as i64,
        lost,
        duplicates,
        gaps: school_gaps + version_gaps,
        streams_across_schools: across,
        refused_stored,
    })
}

/// Runs `pg_amcheck` (heap and every B-tree index, with each heap tuple looked up in its
/// indexes) on the namespace `schema` of the database at `url`. `Ok(None)` when it found
/// nothing; `Ok(Some(what))` with its first lines when it found corruption.
pub fn amcheck(url: &str, schema: &str) -> Result<Option<String>> {
    let program = stroom_cluster::Binaries::discover()?.program("pg_amcheck");
    let options = PgConnectOptions::from_str(url).map_err(Error::Connect)?;
    let out = Command::new(&program)
        .args(["--host", options.get_host(), "--port", &options.get_port().to_string()])
        .args(["--username", options.get_username()])
        .args(["--schema", schema, "--install-missing", "--heapallindexed"])
        .arg(options.get_database().unwrap_or("postgres"))
        .output()
        .map_err(|source| Error::Io { action: "running pg_amcheck", source })?;
    let first_lines = |b: &[u8]| String::from_utf8_lossy(b).lines().take(3).collect::<Vec<_>>().join(" / ");
    match out.status.code() {
        Some(0) => Ok(None),
        // 2: it ran and found corruption; anything else: it could not check.
        Some(2) => Ok(Some(first_lines(&out.stdout))),
        _ => Err(Error::Reference(format!("pg_amcheck could not check the store: {}", first_lines(&out.stderr)))),
    }
}

#[cfg(test)]
mod tests {
    use stroom_cluster::testing::TestDatabase;
    use stroom_reference::{Layout, PayloadType, Schema, StoredEvent};

    use super::*;

    fn row(school: i32, stream: Uuid, version: i64) -> StoredEvent {
        StoredEvent {
            id: Uuid::new_v4(),
            school,
            stream,
            version,
            event_type: "Faults/Appended".into(),
            recorded_at_us: 1_700_000_000_000_000,
            payload: "{}".into(),
            metadata: "{}".into(),
        }
    }

    #[tokio::test]
    async fn the_check_finds_each_kind_of_damage() {
        let db = TestDatabase::create().await;
        let store =
            Store::install(db.pool().await, Schema::new(Layout::Partitioned, PayloadType::Jsonb)).await.unwrap();
        store.add_schools(&[1, 2]).await.unwrap();
        let stream = Uuid::new_v4();
        let rows = vec![row(1, stream, 1), row(1, stream, 2)];
        store.bulk_load(&rows).await.unwrap();
        let acked: Vec<(i32, Uuid)> = rows.iter().map(|r| (r.school, r.id)).collect();
        let clean = check(&store, &acked, &[]).await.unwrap();
        assert!(clean.clean(), "{clean:?}");

        let never_stored = (1, Uuid::new_v4());
        let found = check(&store, &[acked.clone(), vec![never_stored]].concat(), &[(1, rows[0].id)]).await.unwrap();
        assert_eq!((found.lost, found.refused_stored), (1, 1), "{found:?}");

        // A gap in school 1's positions and in the stream's versions, and the stream in school 2
        // as well, with the same event id.
        let mut stray = row(2, stream, 4);
        stray.id = rows[0].id;
        store.bulk_load(&[stray]).await.unwrap();
        sqlx::query("UPDATE school_heads SET position = 3 WHERE school = 1").execute(store.pool()).await.unwrap();
        let found = check(&store, &acked, &[]).await.unwrap();
        assert_eq!(found.duplicates, 1, "{found:?}");
        assert!(found.streams_across_schools >= 1, "{found:?}");
        assert!(found.gaps >= 2, "school 1's head, school 2's positions, the stream's versions: {found:?}");
    }
}
