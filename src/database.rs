//! Turns the database flags into a running [`Database`].

use anyhow::Context;
use stroom_cluster::{Cluster, ClusterOptions, Database, Profile, Source};

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

/// What `stroom db start` started: named servers and, if asked for, a standby of the first.
#[derive(Debug)]
pub struct Started {
    /// ("server 1", its database), in order.
    pub servers: Vec<(String, KeptDatabase)>,
    /// The hot standby of the first server. Declared after the servers, it is dropped after
    /// them too; its primary stopping first only makes it wait, not fail.
    pub standby: Option<Cluster>,
}

/// Starts `n` throwaway clusters (or opens the one URL given, for `n` = 1) and a hot standby
/// of the first when asked.
pub async fn start_servers(cli: &Cli, n: u16, standby: bool) -> anyhow::Result<Started> {
    anyhow::ensure!(
        n == 1 || (cli.database_url.is_none() && cli.db_dir.is_none()),
        "--servers {n} starts throwaway clusters; it takes neither --database-url (nor DATABASE_URL) nor --db-dir"
    );
    let mut servers = Vec::new();
    for i in 1..=n {
        servers.push((format!("server {i}"), open(cli, None, None).await?));
    }
    let standby = match standby {
        false => None,
        true => {
            let Some(first) = servers[0].1.cluster() else {
                anyhow::bail!("--standby needs a throwaway cluster to replicate; it cannot follow --database-url")
            };
            // The standby's base backup runs against the first server, borrowed for the call.
            Some(tokio::task::block_in_place(|| first.start_standby()).context("starting the standby")?)
        }
    };
    if servers.len() > 1 {
        // Recorded on the first server, so `stroom migrate` given its URL finds the others.
        let urls: Vec<String> = servers.iter().map(|(_, db)| db.url().to_string()).collect();
        let placement = stroom_reference::placement::Placement::connect(&urls[0]).await?;
        placement.register_servers(&urls).await.context("recording the servers on the first")?;
    }
    Ok(Started { servers, standby })
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
