//! The one error type of the reference implementation.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query or connection failed.
    #[error("{action}: {source}")]
    Database {
        /// What we were doing.
        action: &'static str,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the schema failed.
    #[error("applying the {layout} schema: {source}")]
    Migrate {
        /// The layout being applied.
        layout: &'static str,
        /// The cause.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

impl Error {
    pub(crate) fn db(action: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { action, source }
    }
}

/// The reference implementation's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
