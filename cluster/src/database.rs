//! Where a command's data lives: the seam between the store and the server behind it.

use crate::cluster::{Cluster, ClusterOptions};
use crate::error::Result;
use crate::profile::Profile;

/// Where to find or start the database.
#[derive(Debug, Clone)]
pub enum Source {
    /// An existing server; stroom neither starts nor stops it.
    Url(String),
    /// A throwaway cluster from the installed server binaries (the zero-config default).
    Embedded(ClusterOptions),
    /// A `postgres` container started through testcontainers.
    #[cfg(feature = "testcontainers")]
    Docker(Profile),
}

impl Source {
    /// `url` (from `--database-url` or `DATABASE_URL`) wins; otherwise the embedded cluster.
    pub fn from_url_or_embedded(url: Option<String>, options: ClusterOptions) -> Self {
        match url {
            Some(url) => Self::Url(url),
            None => Self::Embedded(options),
        }
    }
}

/// A reachable database, and whatever keeps it alive. Drop it to release what was started.
#[derive(Debug)]
pub struct Database {
    url: String,
    profile: Option<Profile>,
    server: Server,
}

#[derive(Debug)]
enum Server {
    External,
    Embedded(Cluster),
    #[cfg(feature = "testcontainers")]
    Docker(Box<crate::docker::Container>),
}

impl Database {
    /// Opens `source`, starting a server if it names one to start. Blocks until it is ready.
    pub fn open(source: Source) -> Result<Self> {
        match source {
            Source::Url(url) => Ok(Self { url, profile: None, server: Server::External }),
            Source::Embedded(options) => {
                let profile = options.profile;
                let cluster = Cluster::start(options)?;
                Ok(Self { url: cluster.url(), profile: Some(profile), server: Server::Embedded(cluster) })
            }
            #[cfg(feature = "testcontainers")]
            Source::Docker(profile) => {
                let container = Box::new(crate::docker::Container::start(profile)?);
                Ok(Self { url: container.url(), profile: Some(profile), server: Server::Docker(container) })
            }
        }
    }

    /// The connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The settings profile stroom started the server with; `None` for a server it did not start.
    pub fn profile(&self) -> Option<Profile> {
        self.profile
    }

    /// The embedded cluster behind this database, if that is where it lives.
    pub fn cluster(&self) -> Option<&Cluster> {
        match &self.server {
            Server::Embedded(c) => Some(c),
            _ => None,
        }
    }

    /// Where the data lives, in words, for progress lines and reports.
    pub fn describe(&self) -> String {
        match &self.server {
            Server::External => format!("existing server at {}", redact(&self.url)),
            Server::Embedded(c) if c.kept_dir() => {
                format!("kept cluster ({}) in {}", c.version(), c.dir().display())
            }
            Server::Embedded(c) => format!("throwaway cluster ({}) in {}", c.version(), c.dir().display()),
            #[cfg(feature = "testcontainers")]
            Server::Docker(c) => format!("docker container at {}", c.url()),
        }
    }
}

/// The URL without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
