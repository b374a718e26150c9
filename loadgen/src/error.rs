//! The one error type of loadgen.

use std::path::PathBuf;

/// What can go wrong while running a scenario.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The scenario file is malformed or inconsistent. Nothing has run.
    #[error("{}:{line}: {field}: {reason}", file.display())]
    Scenario {
        /// The file.
        file: PathBuf,
        /// 1-based line, 0 when the problem is not on one line.
        line: usize,
        /// The dotted field name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The scenario file could not be read.
    #[error("reading {}: {source}", file.display())]
    ReadScenario {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] stroom_reference::Error),
    /// Connecting to the database failed.
    #[error("connecting to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A query outside the store failed.
    #[error("{action}: {source}")]
    Database {
        /// What we were doing.
        action: &'static str,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// Writing results failed.
    #[error("writing results to {}: {source}", path.display())]
    WriteResults {
        /// Where.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A result file could not be used.
    #[error("{}: {reason}", path.display())]
    ReadResult {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A reference program (pgbench) failed or printed nothing usable.
    #[error("{0}")]
    Reference(String),
    /// A task the run started beside its measurement (a stall, one of several connections)
    /// panicked or was cancelled.
    #[error("{0}")]
    Task(String),
    /// A kept history could not be used.
    #[error("the kept history: {0}")]
    Reuse(String),
    /// A local file operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A cluster-side problem, e.g. reading settings.
    #[error(transparent)]
    Cluster(#[from] stroom_cluster::Error),
}

/// loadgen's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether the server refused `e` for want of a privilege (SQLSTATE `42501`).
pub fn is_permission_denied(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "42501")
}
