//! The schema, as sqlx migrations whose SQL depends on the layout and payload type chosen at
//! run time. Schools' partitions are data, added by [`crate::store::Store::add_schools`].

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::layout::{Layout, PayloadType};

/// The migrations for one layout and payload type.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Table layout.
    pub layout: Layout,
    /// Payload column type.
    pub payload: PayloadType,
    /// Partitioned layout only: 0 for one LIST partition per school, else this many HASH
    /// buckets (for many schools, where a partition each would be too many tables).
    pub hash_partitions: u32,
}

impl Schema {
    /// A schema with one LIST partition per school when partitioned.
    pub fn new(layout: Layout, payload: PayloadType) -> Self {
        Self { layout, payload, hash_partitions: 0 }
    }

    /// The same schema, hashing schools into `buckets` partitions (0: one per school).
    pub fn with_hash_partitions(mut self, buckets: u32) -> Self {
        self.hash_partitions = buckets;
        self
    }

    /// Whether schools get a partition of their own when added.
    pub fn partition_per_school(&self) -> bool {
        self.layout == Layout::Partitioned && self.hash_partitions == 0
    }

    /// A migrator over this schema's migrations.
    pub async fn migrator(self) -> Result<Migrator, sqlx::migrate::MigrateError> {
        Migrator::new(self).await
    }

    fn migrations(self) -> Vec<Migration> {
        let log = match (self.layout, self.hash_partitions) {
            (Layout::Partitioned, 0) => PARTITIONED.to_string(),
            (Layout::Partitioned, n) => {
                let mut sql = PARTITIONED.replace("PARTITION BY LIST (school)", "PARTITION BY HASH (school)");
                for i in 0..n {
                    sql.push_str(&format!(
                        "CREATE TABLE events_h{i} PARTITION OF events FOR VALUES WITH (MODULUS {n}, REMAINDER {i});\n"
                    ));
                }
                sql
            }
            (Layout::SingleLog, _) => SINGLE_LOG.to_string(),
            (Layout::RillLog, _) => format!("{SINGLE_LOG}{RILL}"),
        };
        vec![
            migration(1, "event log", log.replace("{payload}", self.payload.name())),
            migration(2, "school heads", HEADS.to_string()),
            migration(3, "stream registry", STREAMS.to_string()),
            migration(4, "global feed order", FEED.to_string()),
        ]
    }
}

fn migration(version: i64, description: &'static str, sql: String) -> Migration {
    Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Owned(sql), false)
}

impl<'s> MigrationSource<'s> for Schema {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.migrations()) })
    }
}

/// Partitioned by school; `position` is the school's gapless commit order.
const PARTITIONED: &str = r#"
CREATE SEQUENCE events_global_seq;
CREATE TABLE events (
    school          integer     NOT NULL,
    position        bigint      NOT NULL,
    global_position bigint      NOT NULL DEFAULT nextval('events_global_seq'),
    xid             xid8        NOT NULL DEFAULT pg_current_xact_id(),
    id              uuid        NOT NULL,
    stream          uuid        NOT NULL,
    version         bigint      NOT NULL,
    event_type      text        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    payload         {payload}   NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (school, position),
    UNIQUE (school, stream, version),
    UNIQUE (school, id)
) PARTITION BY LIST (school);
CREATE INDEX events_global ON events (global_position);
"#;

/// One table in global insert order, as the 2017 system had it. `insert_order` is rill's
/// (`RILL` below gives it); the other strategies leave it empty and rely on
/// `global_position`. `position` (per school) is only set by bulk loads.
const SINGLE_LOG: &str = r#"
CREATE SEQUENCE events_global_seq;
CREATE TABLE events (
    global_position bigint      NOT NULL DEFAULT nextval('events_global_seq') PRIMARY KEY,
    xid             xid8        NOT NULL DEFAULT pg_current_xact_id(),
    school          integer     NOT NULL,
    position        bigint,
    id              uuid        NOT NULL UNIQUE,
    stream          uuid        NOT NULL,
    version         bigint      NOT NULL,
    event_type      text        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    payload         {payload}   NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    insert_order    bigint,
    UNIQUE (stream, version)
);
CREATE UNIQUE INDEX events_insert_order ON events (insert_order);
CREATE INDEX events_school ON events (school, global_position);
"#;

/// What the rill layout adds to the single log, after `rill-psql`'s published schema
/// (rill-event-sourcing/rill, `psql_schema.sql`): a sequence for `insert_order`, indexes on the
/// stream and the event type, and an `AFTER INSERT … FOR EACH STATEMENT` trigger that takes
/// `pg_advisory_xact_lock(3333, <the table's oid>)` and numbers every row still without an
/// insert order, in (stream, version) order. The lock is held to COMMIT, so appends are
/// serialised through their commits and `insert_order` follows commit visibility. It fires
/// for COPY as well, so bulk loads are numbered too. Written here from the published design.
const RILL: &str = r#"
CREATE SEQUENCE events_insert_order_seq OWNED BY events.insert_order;
CREATE INDEX events_stream ON events (stream);
CREATE INDEX events_event_type ON events (event_type);
CREATE FUNCTION events_set_insert_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    PERFORM pg_advisory_xact_lock(3333, 'events'::regclass::oid::integer);
    FOR e IN SELECT stream, version FROM events WHERE insert_order IS NULL ORDER BY stream, version LOOP
        UPDATE events SET insert_order = nextval('events_insert_order_seq')
         WHERE stream = e.stream AND version = e.version;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER events_set_insert_order AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_set_insert_order();
"#;

/// One row per school: its last position, and which writer holds it. Appends lock only
/// their own school's row, and the same UPDATE checks and extends the writer's lease, so a
/// writer whose lease was taken over can never commit. School -1 is the whole log's row.
const HEADS: &str = r#"
CREATE TABLE school_heads (
    school      integer     PRIMARY KEY,
    position    bigint      NOT NULL DEFAULT 0,
    owner       uuid,
    lease_until timestamptz
);
INSERT INTO school_heads (school) VALUES (-1);
"#;

/// Which school each stream belongs to, so no stream spans two schools.
const STREAMS: &str = r#"
CREATE TABLE streams (
    stream uuid    PRIMARY KEY,
    school integer NOT NULL
);
"#;

/// The global feed reads in (transaction id, global position) order; see `feed.rs`.
const FEED: &str = "CREATE INDEX events_feed ON events (xid, global_position);";
