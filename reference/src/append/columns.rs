//! A batch's rows as one array per column: the parameters of `INSERT … SELECT FROM unnest(…)`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::event::StoredEvent;

/// The columns every row writer sends, one array each, borrowed from the rows.
#[derive(Debug)]
pub(crate) struct Columns<'a> {
    pub school: Vec<i32>,
    pub id: Vec<Uuid>,
    pub stream: Vec<Uuid>,
    pub version: Vec<i64>,
    pub event_type: Vec<&'a str>,
    pub recorded_at: Vec<DateTime<Utc>>,
    /// Payload JSON text as bytes, so one array type serves every payload column type.
    pub payload: Vec<&'a [u8]>,
    pub metadata: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    /// Empty columns with room for `n` rows.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            school: Vec::with_capacity(n),
            id: Vec::with_capacity(n),
            stream: Vec::with_capacity(n),
            version: Vec::with_capacity(n),
            event_type: Vec::with_capacity(n),
            recorded_at: Vec::with_capacity(n),
            payload: Vec::with_capacity(n),
            metadata: Vec::with_capacity(n),
        }
    }

    /// The columns of `rows`, in order.
    pub fn of(rows: &'a [(StoredEvent, i64)]) -> Self {
        let mut c = Self::with_capacity(rows.len());
        rows.iter().for_each(|(e, _)| c.push(e));
        c
    }

    /// Adds one row.
    pub fn push(&mut self, e: &'a StoredEvent) {
        self.school.push(e.school);
        self.id.push(e.id);
        self.stream.push(e.stream);
        self.version.push(e.version);
        self.event_type.push(e.event_type.as_str());
        self.recorded_at.push(DateTime::<Utc>::from_timestamp_micros(e.recorded_at_us).unwrap_or_default());
        self.payload.push(e.payload.as_bytes());
        self.metadata.push(e.metadata.as_str());
    }
}
