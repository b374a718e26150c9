//! `--db docker`: a `postgres` container through testcontainers, for users with Docker.

use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::runners::SyncRunner;
use testcontainers_modules::testcontainers::{Container as TcContainer, ImageExt};

use crate::error::{Error, Result};
use crate::profile::{machine_memory_bytes, Profile};

/// A running container; removed when dropped.
pub struct Container {
    /// Held for its Drop, which removes the container.
    _container: TcContainer<Postgres>,
    url: String,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container").field("url", &self.url).finish()
    }
}

impl Container {
    /// Starts the container with the profile's settings and waits until it is ready.
    pub fn start(profile: Profile) -> Result<Self> {
        let mut cmd: Vec<String> = vec!["postgres".into()];
        for (name, value) in profile.settings(machine_memory_bytes()) {
            cmd.push("-c".into());
            cmd.push(format!("{name}={value}"));
        }
        let container = Postgres::default().with_cmd(cmd).start().map_err(|e| Error::Docker(e.to_string()))?;
        let port = container.get_host_port_ipv4(5432).map_err(|e| Error::Docker(e.to_string()))?;
        let url = format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres");
        Ok(Self { _container: container, url })
    }

    /// The connection URL.
    pub fn url(&self) -> String {
        self.url.clone()
    }
}
