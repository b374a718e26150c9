//! The one error type of the reference implementation.

use uuid::Uuid;

use crate::event::School;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream's version is not the one the append expected. Only this append failed.
    #[error("conflict on stream {stream}: expected version {expected}, actual {actual}")]
    Conflict {
        /// The stream.
        stream: Uuid,
        /// The version the append expected.
        expected: i64,
        /// The version the stream is at.
        actual: i64,
    },
    /// The school is not registered in the store.
    #[error("unknown school {school}")]
    UnknownSchool {
        /// The school asked for.
        school: School,
    },
    /// A payload is larger than [`crate::event::MAX_PAYLOAD_BYTES`].
    #[error("payload of event {id} is {size} bytes, over the limit of {limit}")]
    PayloadTooLarge {
        /// The event.
        id: Uuid,
        /// Its payload size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An append without events.
    #[error("the append to stream {stream} has no events")]
    EmptyAppend {
        /// The stream.
        stream: Uuid,
    },
    /// An event the store's columns cannot hold; nothing of its append was written.
    #[error("event {id}: {field} {reason}")]
    InvalidEvent {
        /// The event.
        id: Uuid,
        /// The field at fault: `payload`, `metadata`, `event_type` or `recorded_at`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection broke after the commit was sent: the append may or may not be stored.
    /// Retrying it with the same event ids is safe: it then either finds them stored and
    /// returns their positions, or writes them once.
    #[error("outcome unknown, retry with the same event ids: {reason}")]
    OutcomeUnknown {
        /// What broke.
        reason: String,
    },
    /// The server could not be reached, or ended the session, before the commit was sent:
    /// nothing was written, and trying again later is safe.
    #[error("the server is unavailable, nothing was written: {reason}")]
    Unavailable {
        /// What failed.
        reason: String,
    },
    /// The server gave no answer in time; nothing was committed by what timed out.
    #[error("{action}: no answer within {after:?}")]
    Timeout {
        /// What we were doing.
        action: &'static str,
        /// The limit.
        after: std::time::Duration,
    },
    /// The stream belongs to another school.
    #[error("stream {stream} belongs to school {owner}, not {school}")]
    WrongSchool {
        /// The stream.
        stream: Uuid,
        /// The school the append named.
        school: School,
        /// The school the stream belongs to.
        owner: School,
    },
    /// Another writer took over this school's lease; this writer must not append to it.
    #[error("lost ownership of school {school} to another writer")]
    OwnershipLost {
        /// The school.
        school: School,
    },
    /// The aggregate rejected a command: it names the rule that was broken.
    #[error("command rejected: {rule}")]
    Rejected {
        /// The rule, in words.
        rule: String,
    },
    /// A change of the placement map that found the map not as it expected; nothing changed.
    #[error("placement: {reason}")]
    Placement {
        /// What it found, in words.
        reason: String,
    },
    /// A migration could not start or go on; the journal says where it stands.
    #[error("migration: {reason}")]
    Migration {
        /// What stopped it, in words.
        reason: String,
    },
    /// A migration's consistency checks found the copy unlike the source, so it was aborted:
    /// the source is still authoritative and writable, the copy removed.
    #[error("school {school}: the copy on server {to} differs from the source in {failed}; aborted, the source stays authoritative")]
    Mismatch {
        /// The school being moved.
        school: School,
        /// The server it was being moved to.
        to: u32,
        /// The checks that failed, by name.
        failed: String,
    },
    /// The store holds an event type this code does not know. It is never skipped.
    #[error("unknown event type '{event_type}' at school {school} position {position}")]
    UnknownEventType {
        /// The type as stored.
        event_type: String,
        /// Its school.
        school: School,
        /// Its position (global position in the single log).
        position: i64,
    },
    /// A stored payload does not decode as its type says.
    #[error("event {id} ({event_type}) does not decode: {reason}")]
    Decode {
        /// The event.
        id: Uuid,
        /// Its type.
        event_type: String,
        /// What serde said.
        reason: String,
    },
    /// The batch this append was group-committed in failed, and surely wrote nothing: the
    /// server refused it, or the connection broke before the commit was sent.
    #[error("the batch this append was committed in failed: {reason}")]
    BatchFailed {
        /// Why, as the server said it.
        reason: String,
    },
    /// The writer for this school has stopped.
    #[error("the writer for school {school} has stopped")]
    WriterStopped {
        /// The school.
        school: School,
    },
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
    /// Whether this is an expected outcome of concurrency rather than a fault.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// What went wrong without the particulars (which stream, which version), so failures
    /// can be counted by kind: every conflict is one kind, each broken rule another.
    pub fn kind(&self) -> String {
        match self {
            Self::Conflict { .. } => "conflict".into(),
            Self::UnknownSchool { .. } => "unknown school".into(),
            Self::PayloadTooLarge { .. } => "payload too large".into(),
            Self::EmptyAppend { .. } => "empty append".into(),
            Self::InvalidEvent { field, .. } => format!("invalid {field}"),
            Self::OutcomeUnknown { .. } => "outcome unknown".into(),
            Self::Unavailable { .. } => "server unavailable".into(),
            Self::Timeout { action, .. } => format!("timeout {action}"),
            Self::WrongSchool { .. } => "stream of another school".into(),
            Self::OwnershipLost { .. } => "ownership lost".into(),
            Self::Rejected { rule } => format!("command rejected: {rule}"),
            Self::Placement { .. } => "placement changed".into(),
            Self::Migration { .. } => "migration".into(),
            Self::Mismatch { .. } => "migration mismatch".into(),
            Self::UnknownEventType { .. } => "unknown event type".into(),
            Self::Decode { .. } => "does not decode".into(),
            Self::BatchFailed { .. } => "batch failed".into(),
            Self::WriterStopped { .. } => "writer stopped".into(),
            Self::Database { action, .. } => (*action).into(),
            Self::Migrate { .. } => "applying the schema".into(),
        }
    }

    pub(crate) fn db(action: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { action, source }
    }
}

/// The reference implementation's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::Error;

    #[test]
    fn a_kind_leaves_out_the_particulars() {
        let conflict = |n: u128, expected, actual| Error::Conflict { stream: Uuid::from_u128(n), expected, actual };
        assert_eq!(conflict(0xfd8c_5b17, 1, 0).kind(), conflict(0xab, 7, 9).kind());
        let rule = |r: &str| Error::Rejected { rule: r.into() };
        assert_eq!(rule("a finished test takes no answers").kind(), rule("a finished test takes no answers").kind());
        assert_ne!(rule("a finished test takes no answers").kind(), rule("an answer must follow an assignment").kind());
        assert_ne!(conflict(1, 1, 0).kind(), Error::UnknownSchool { school: 1 }.kind());
    }
}
