//! Finding which schema a database holds, for tools handed a URL and nothing else.

use sqlx::PgPool;

use super::{Layout, PayloadType, Schema};
use crate::error::{Error, Result};

impl Schema {
    /// The schema of the log in `pool`'s database, or `None` when it holds no `events` table.
    pub async fn detect(pool: &PgPool) -> Result<Option<Schema>> {
        let found: Option<(String, Option<String>, i64, String, bool)> = sqlx::query_as(
            "SELECT c.relkind::text, pt.partstrat::text, \
                    (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid), \
                    format_type(a.atttypid, a.atttypmod), \
                    to_regproc('events_set_insert_order') IS NOT NULL \
             FROM pg_class c \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'payload' \
             LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid \
             WHERE c.oid = to_regclass('events')",
        )
        .fetch_optional(pool)
        .await
        .map_err(Error::db("finding the store's schema"))?;
        let Some((kind, strategy, children, payload, rill)) = found else { return Ok(None) };
        let unknown = |what: String| Error::Migration {
            reason: format!("the events table is {what}, which stroom did not make"),
        };
        let payload = PayloadType::parse(&payload).ok_or_else(|| unknown(format!("of payload type {payload}")))?;
        let schema = match (kind.as_str(), strategy.as_deref()) {
            ("p", Some("l")) => Schema::new(Layout::Partitioned, payload),
            ("p", Some("h")) => Schema::new(Layout::Partitioned, payload).with_hash_partitions(children as u32),
            ("r", _) if rill => Schema::new(Layout::RillLog, payload),
            ("r", _) => Schema::new(Layout::SingleLog, payload),
            (kind, strategy) => return Err(unknown(format!("of kind {kind} partitioned by {strategy:?}"))),
        };
        Ok(Some(schema))
    }
}
