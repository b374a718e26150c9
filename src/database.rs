//! Turns the database flags into a running [`Database`].

use anyhow::Context;
use stroom_cluster::{ClusterOptions, Database, Profile, Source};

use crate::cli::{Cli, DbKind};

/// Opens the database the flags name. The scenario's profile and URL apply when the flags
/// (or `DATABASE_URL`) give none.
pub async fn open(
    cli: &Cli,
    scenario_profile: Option<Profile>,
    scenario_url: Option<&str>,
) -> anyhow::Result<KeptDatabase> {
    let profile = cli.profile.or(scenario_profile).unwrap_or_default();
    let url = cli.database_url.as_deref().or(scenario_url);
    let source = match (url, cli.db) {
        (Some(url), _) => Source::Url(url.to_string()),
        (None, DbKind::Embedded) => {
            Source::from_url_or_embedded(None, ClusterOptions { profile, keep: cli.keep_db, dir: cli.db_dir.clone() })
        }
        #[cfg(feature = "testcontainers")]
        (None, DbKind::Docker) => Source::Docker(profile),
        #[cfg(not(feature = "testcontainers"))]
        (None, DbKind::Docker) => {
            anyhow::bail!("--db docker needs a stroom built with `--features testcontainers`")
        }
    };
    // Starting a cluster blocks for a second or two; keep the runtime free meanwhile.
    let db = tokio::task::spawn_blocking(move || Database::open(source))
        .await
        .context("starting the database")?
        .context("starting the database")?;
    Ok(KeptDatabase { db, keep: cli.keep_db })
}

/// A database that prints how to reach it on the way out when `--keep-db` was given.
#[derive(Debug)]
pub struct KeptDatabase {
    db: Database,
    keep: bool,
}

impl std::ops::Deref for KeptDatabase {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.db
    }
}

impl Drop for KeptDatabase {
    fn drop(&mut self) {
        if let (true, Some(cluster)) = (self.keep, self.db.cluster()) {
            stroom_loadgen::note(format_args!("kept the database; connect with {}", cluster.psql_hint()));
        }
    }
}
