//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while finding, starting or reaching a database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No directory holding both `initdb` and `postgres` was found.
    #[error(
        "no PostgreSQL server binaries (initdb, postgres) found in {searched}: install your \
         distribution's PostgreSQL server package (e.g. `apt-get install postgresql`) or set \
         DATABASE_URL to use an existing server"
    )]
    BinariesNotFound {
        /// Where the search looked, in words.
        searched: String,
    },
    /// stroom runs as root, and no unprivileged user exists to run `initdb` and `postgres`.
    #[error(
        "running as root, but the user '{user}' that should own the throwaway PostgreSQL cluster \
         does not exist: create it (`useradd --system {user}`), set STROOM_PG_USER to another \
         unprivileged user, or set DATABASE_URL"
    )]
    NoUnprivilegedUser {
        /// The user name that was looked up.
        user: String,
    },
    /// A PostgreSQL program ran and failed.
    #[error("{program} failed: {detail}")]
    ServerProgram {
        /// The program, e.g. `initdb`.
        program: &'static str,
        /// The last lines it printed.
        detail: String,
    },
    /// The server did not become ready in time.
    #[error("PostgreSQL did not accept connections within {seconds} s; its log is {log}")]
    NotReady {
        /// How long we waited.
        seconds: u64,
        /// The server log to read.
        log: PathBuf,
    },
    /// A file system or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What we were doing.
        action: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Talking to the database failed.
    #[error("{action}: {source}")]
    Database {
        /// What we were doing.
        action: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// Message DB could not be fetched or installed; the message says what to do.
    #[error("Message DB: {0}")]
    MessageDb(String),
    /// `--db docker` could not start a container.
    #[error("could not start a PostgreSQL container (is a Docker engine running?): {0}")]
    Docker(String),
}

impl Error {
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| Self::Io { action, source }
    }

    pub(crate) fn db(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        let action = action.into();
        move |source| Self::Database { action, source }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
