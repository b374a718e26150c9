//! What a failed commit means for the caller: surely nothing written, or perhaps written.
//!
//! The server answers COMMIT (or an autocommitted statement) only after the transaction is
//! durable. If the connection breaks, or the server ends the session, after the commit was
//! sent, the transaction may have committed without the answer arriving: that outcome is
//! unknown. Any other failure happened before the commit and wrote nothing.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// SQLSTATE classes that end or interrupt the session rather than refuse the data:
/// connection exception, insufficient resources, operator intervention (a terminated
/// backend, a shutdown), system error, internal error.
const SESSION_CLASSES: [&str; 5] = ["08", "53", "57", "58", "XX"];

/// The error for a failure of the statement that commits: [`Error::OutcomeUnknown`] when the
/// connection or session broke, or the server's refusal otherwise.
pub(crate) fn of_commit(action: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| {
        if sent_and_lost(&source) {
            Error::OutcomeUnknown { reason: format!("{action}: {source}") }
        } else {
            Error::Database { action, source }
        }
    }
}

/// The error of an autocommitted statement (`single`'s one-event inserts): like a commit's,
/// [`Error::OutcomeUnknown`] when the session broke after it was sent.
pub(crate) fn autocommitted(e: Error) -> Error {
    match e {
        Error::Database { action, source } if sent_and_lost(&source) => {
            Error::OutcomeUnknown { reason: format!("{action}: {source}") }
        }
        other => other,
    }
}

/// What a failure that surely wrote nothing means for the appends it held: the server's
/// refusal ([`Error::BatchFailed`]), or a server out of reach ([`Error::Unavailable`]).
/// [`Error::OutcomeUnknown`] and the typed errors stay what they are.
pub(crate) fn for_appends(e: &Error) -> Error {
    match e {
        Error::OutcomeUnknown { reason } => Error::OutcomeUnknown { reason: reason.clone() },
        Error::Unavailable { reason } => Error::Unavailable { reason: reason.clone() },
        Error::BatchFailed { reason } => Error::BatchFailed { reason: reason.clone() },
        Error::Timeout { action, after } => Error::Timeout { action, after: *after },
        other if is_refusal(other) => Error::BatchFailed { reason: other.to_string() },
        other => Error::Unavailable { reason: other.to_string() },
    }
}

/// Runs `fut`, failing with [`Error::Timeout`] if it takes longer than `limit`.
pub(crate) async fn within<T>(limit: Duration, action: &'static str, fut: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(limit, fut).await.map_err(|_| Error::Timeout { action, after: limit })
}

/// Runs a commit, failing with [`Error::OutcomeUnknown`] if no answer came within `limit`:
/// the connection is dropped with the commit perhaps sent.
pub(crate) async fn commit_within<T>(limit: Duration, fut: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(done) => done,
        Err(_) => Err(Error::OutcomeUnknown { reason: format!("no answer to the commit within {limit:?}") }),
    }
}

/// Whether the server refused the data itself (a constraint, a malformed value, a raised
/// exception): trying the same rows again in another group would fail again, and splitting
/// the group finds the one at fault. Broken connections and ended sessions are not refusals.
pub(crate) fn is_refusal(e: &Error) -> bool {
    match e {
        Error::Database { source: sqlx::Error::Database(d), .. } => {
            d.code().is_some_and(|c| !SESSION_CLASSES.iter().any(|class| c.starts_with(class)))
        }
        _ => false,
    }
}

/// Whether `e` may have happened after the commit reached the server.
fn sent_and_lost(e: &sqlx::Error) -> bool {
    match e {
        // Not sent: no connection was had.
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Configuration(_) => false,
        sqlx::Error::Database(d) => d.code().is_none_or(|c| SESSION_CLASSES.iter().any(|class| c.starts_with(class))),
        // I/O, protocol, TLS, a crashed worker: the reply was lost on the way.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_connection_is_unknown_and_a_timed_out_pool_is_not() {
        let io = || sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
        assert!(matches!(of_commit("committing")(io()), Error::OutcomeUnknown { .. }));
        assert!(matches!(of_commit("committing")(sqlx::Error::PoolTimedOut), Error::Database { .. }));
        assert!(!is_refusal(&of_commit("committing")(sqlx::Error::PoolTimedOut)));
        let insert = |source| Error::Database { action: "inserting an event", source };
        assert!(matches!(autocommitted(insert(io())), Error::OutcomeUnknown { .. }));
        assert!(matches!(autocommitted(insert(sqlx::Error::PoolTimedOut)), Error::Database { .. }));
        let empty = Error::EmptyAppend { stream: uuid::Uuid::nil() };
        assert!(matches!(autocommitted(empty), Error::EmptyAppend { .. }));
        assert!(!is_refusal(&Error::OutcomeUnknown { reason: String::new() }));
    }
}
