//! Peers: event stores written by others, measured in the append phase beside stroom's own
//! strategies, on the same server, with the same feed. Message DB is the one there is: fetched
//! before the run starts ([`fetch`]), installed into a database of its own on the run's server
//! ([`MESSAGE_DB_DATABASE`]), emptied and loaded with the same history before every step
//! ([`restart`]).

use std::path::PathBuf;

use stroom_cluster::message_db::{cache_dir, Package, NPM_PACKAGE};
use stroom_reference::append::message_db::MessageDb;
use stroom_reference::Appender;

use super::feed::Feed;
use super::generator_config;
use crate::error::Result;
use crate::progress::note;
use crate::scenario::Scenario;

/// The database Message DB is installed into, on the run's server.
pub const MESSAGE_DB_DATABASE: &str = "stroom_message_db";

/// The Message DB package, fetched with npm into the cache when it is not there: called before
/// anything runs, so a machine without npm fails at once, in one line. Returns the note the
/// result keeps.
pub fn fetch() -> Result<(Package, String)> {
    let package = Package::fetch(&cache_dir())?;
    let note = format!(
        "message-db: Message DB {} (npm {NPM_PACKAGE}, database schema {}), from {}",
        package.version,
        package.schema_version,
        package.dir.display()
    );
    Ok((package, note))
}

/// Message DB installed (once) into [`MESSAGE_DB_DATABASE`] on the server at `url`, and a
/// pool of `connections` on it.
pub async fn message_db(url: &str, connections: u32) -> Result<MessageDb> {
    let (package, _) = fetch()?;
    let server: sqlx::postgres::PgConnectOptions =
        url.parse().map_err(|source| crate::error::Error::Database { action: "reading the server URL", source })?;
    let psql = stroom_cluster::Binaries::discover().map(|b| b.program("psql")).unwrap_or_else(|_| "psql".into());
    let bindir = psql.parent().map(PathBuf::from).unwrap_or_default();
    let installed = package.install(&server, MESSAGE_DB_DATABASE, &bindir).await?;
    note(format_args!(
        "append message-db: Message DB {} (schema {}) {} database {}",
        package.version,
        installed.version,
        if installed.fresh { "installed into" } else { "found in" },
        installed.database
    ));
    Ok(MessageDb::connect(&database_url(url, MESSAGE_DB_DATABASE)?, connections).await?)
}

pub use stroom_reference::append::message_db::SEARCH_PATH;

/// The URL of `database` on the server at `url`.
pub fn database_url(url: &str, database: &str) -> Result<String> {
    let server: sqlx::postgres::PgConnectOptions =
        url.parse().map_err(|source| crate::error::Error::Database { action: "reading the server URL", source })?;
    Ok(sqlx::ConnectOptions::to_url_lossy(&server.database(database)).to_string())
}

/// Stops what runs, empties Message DB, loads the first day's events before `from_hour` as
/// stroom's stores are loaded, and hands out its appender with a feed from there.
pub(super) async fn restart<'a>(
    mdb: &MessageDb,
    scenario: &Scenario,
    from_hour: f64,
    running: &'a mut Option<(Appender, Feed)>,
) -> Result<&'a mut (Appender, Feed)> {
    super::append::stop(running.take()).await;
    let mut feed = Feed::start_at(generator_config(scenario, 1), from_hour);
    mdb.truncate().await?;
    let earlier = feed.earlier().await;
    if !earlier.is_empty() {
        note(format_args!("append message-db: loading the {} events before {from_hour:02}:00 …", earlier.len()));
    }
    mdb.bulk_load(&earlier).await?;
    feed.ready().await;
    Ok(running.insert((Appender::MessageDb(mdb.clone()), feed)))
}
