//! The stored event: the row every strategy appends and every replay reads.

use uuid::Uuid;

/// A school: the partition key. [`GLOBAL_SCHOOL`] holds course material and other global streams.
pub type School = i32;

/// The reserved partition for streams that belong to no school.
pub const GLOBAL_SCHOOL: School = 0;

/// One event as the store holds it. The payload is already encoded as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}
