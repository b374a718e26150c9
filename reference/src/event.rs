//! Events as the store holds them: the rows every strategy appends and every replay reads.

use uuid::Uuid;

/// A school: the partition key. [`GLOBAL_SCHOOL`] holds course material and other global streams.
pub type School = i32;

/// The reserved partition for streams that belong to no school.
pub const GLOBAL_SCHOOL: School = 0;

/// The largest payload the store accepts, in bytes of JSON text.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The longest event type the store accepts, in bytes.
pub const MAX_EVENT_TYPE_BYTES: usize = 200;

/// The `recorded_at` the store accepts, in microseconds since the Unix epoch: the years 1 to
/// 9999 UTC, inside both PostgreSQL's and chrono's ranges.
pub const RECORDED_AT_RANGE_US: std::ops::RangeInclusive<i64> = -62_135_596_800_000_000..=253_402_300_799_999_999;

/// An event a command wants to append; the store gives it a stream version and a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique within its school; a retry reuses it, which makes the retry idempotent.
    pub id: Uuid,
    /// The event type, e.g. `SectionTest/QuestionAnsweredCorrectly`.
    pub event_type: String,
    /// When it was recorded, in microseconds since the Unix epoch.
    pub recorded_at_us: i64,
    /// The payload as JSON text.
    pub payload: String,
    /// Metadata as JSON text (`{}` when there is none).
    pub metadata: String,
}

/// One event with its stream coordinates: the row the bulk paths write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredEvent {
    /// Unique within its school; retries reuse it for idempotency.
    pub id: Uuid,
    /// The partition.
    pub school: School,
    /// The aggregate.
    pub stream: Uuid,
    /// Position within the stream, from 1, for optimistic concurrency.
    pub version: i64,
    /// The event type, e.g. `SectionTest/QuestionAnsweredCorrectly`.
    pub event_type: String,
    /// When it was recorded, in microseconds since the Unix epoch.
    pub recorded_at_us: i64,
    /// The payload as JSON text.
    pub payload: String,
    /// Metadata as JSON text.
    pub metadata: String,
}

impl StoredEvent {
    /// The row for `event` at `version` of `stream` in `school`.
    pub fn new(school: School, stream: Uuid, version: i64, event: &NewEvent) -> Self {
        Self::from_new(school, stream, version, event.clone())
    }

    /// Like [`Self::new`], taking the event's strings instead of copying them.
    pub fn from_new(school: School, stream: Uuid, version: i64, event: NewEvent) -> Self {
        let NewEvent { id, event_type, recorded_at_us, payload, metadata } = event;
        Self { id, school, stream, version, event_type, recorded_at_us, payload, metadata }
    }

    /// The event as a command gave it, without its stream coordinates.
    pub fn into_new(self) -> NewEvent {
        let Self { id, event_type, recorded_at_us, payload, metadata, .. } = self;
        NewEvent { id, event_type, recorded_at_us, payload, metadata }
    }
}

/// An event read back from the store, with its orderings.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecordedEvent {
    /// The partition.
    pub school: School,
    /// Gapless position within the school, in commit order (`None` in the single log).
    pub position: Option<i64>,
    /// Position in the global feed (a sequence: ordered, with gaps).
    pub global_position: i64,
    /// The event's id.
    pub id: Uuid,
    /// The aggregate.
    pub stream: Uuid,
    /// Version within the stream.
    pub version: i64,
    /// The event type.
    pub event_type: String,
    /// Microseconds since the Unix epoch.
    pub recorded_at_us: i64,
    /// The payload as JSON text (jsonb normalises whitespace and key order).
    pub payload: String,
    /// Metadata as JSON text.
    pub metadata: String,
}
