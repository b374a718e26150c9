//! Each phase and strategy gets a store of its own: a PostgreSQL schema namespace, emptied
//! first, on the run's database. stroom only ever drops namespaces named `stroom_*`.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use stroom_reference::{Schema, Store};

use crate::error::{is_permission_denied, Error, Result};

/// Opens an empty store in namespace `stroom_<name>` with a pool of `connections`.
pub async fn fresh_store(url: &str, name: &str, schema: Schema, connections: u32) -> Result<Store> {
    let namespace = format!("stroom_{}", name.replace('-', "_"));
    let base = PgConnectOptions::from_str(url).map_err(Error::Connect)?;
    let mut conn = base.connect().await.map_err(Error::Connect)?;
    for sql in [format!("DROP SCHEMA IF EXISTS {namespace} CASCADE"), format!("CREATE SCHEMA {namespace}")] {
        sqlx::query(&sql).execute(&mut conn).await.map_err(|source| {
            let action = if is_permission_denied(&source) {
                "preparing a namespace (stroom's role must be allowed to create schemas: GRANT CREATE ON DATABASE …)"
            } else {
                "preparing a namespace"
            };
            Error::Database { action, source }
        })?;
    }
    conn.close().await.ok();
    open_store(url, name, schema, connections).await
}

/// Opens the store in namespace `stroom_<name>` as it is (installing it if it is not there),
/// with a pool of `connections`.
pub async fn open_store(url: &str, name: &str, schema: Schema, connections: u32) -> Result<Store> {
    let namespace = format!("stroom_{}", name.replace('-', "_"));
    let base = PgConnectOptions::from_str(url).map_err(Error::Connect)?;
    // On a partitioned log, custom plans prune partitions when planning, so a statement about
    // one school locks one partition instead of all of them (a generic plan locks every
    // partition first). A single log keeps cached generic plans: re-planning each of its
    // one-row inserts cost single-event appends about a third of their rate.
    let plan_cache_mode = match schema.layout {
        stroom_reference::Layout::Partitioned => "force_custom_plan",
        stroom_reference::Layout::SingleLog | stroom_reference::Layout::RillLog => "auto",
    };
    let options = base.options([("search_path", namespace.as_str()), ("plan_cache_mode", plan_cache_mode)]);
    // sqlx pings every pooled connection before handing it out by default: one extra round
    // trip per append on the one-by-one paths, which made `single` about 0.6x pgbench running
    // its own statements. A broken connection still fails the statement that uses it.
    let pool = PgPoolOptions::new()
        .test_before_acquire(false)
        .max_connections(connections)
        .acquire_timeout(std::time::Duration::from_secs(60))
        .connect_with(options)
        .await
        .map_err(Error::Connect)?;
    Ok(Store::install(pool, schema).await?)
}

/// Bytes `store`'s tables take on disk, indexes and TOAST included.
pub async fn on_disk_bytes(store: &Store) -> Result<f64> {
    let sql = "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 FROM pg_class c \
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'";
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .map_err(|source| Error::Database { action: "measuring the history's size on disk", source })
}

/// The store in namespace `stroom_<name>` on a read-only server (a hot standby), as it is:
/// nothing is installed, the schema is the caller's word.
pub async fn open_read_only(url: &str, name: &str, schema: Schema, connections: u32) -> Result<Store> {
    let namespace = format!("stroom_{}", name.replace('-', "_"));
    let options =
        PgConnectOptions::from_str(url).map_err(Error::Connect)?.options([("search_path", namespace.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(std::time::Duration::from_secs(60))
        .connect_with(options)
        .await
        .map_err(Error::Connect)?;
    Ok(Store::open(pool, schema))
}
