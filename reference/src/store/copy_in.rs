//! Binary COPY into the log: the store's bulk path.
//!
//! sqlx exposes COPY only as raw bytes, so the binary row format (a fixed header, then per
//! row a field count and length-prefixed fields, then a -1 trailer) is written here. It is
//! small, and a round-trip test checks every column against what the server stored.

use bytes::{BufMut, BytesMut};
use sqlx::postgres::PgConnection;

use super::layout::PayloadType;
use crate::error::{Error, Result};
use crate::event::StoredEvent;

/// Columns in the order rows are written.
pub const COLUMNS: &str = "school, position, id, stream, version, event_type, recorded_at, payload, metadata";

const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;
const FLUSH_BYTES: usize = 1 << 20;

/// Encodes rows into binary COPY format.
#[derive(Debug)]
pub struct RowEncoder {
    payload: PayloadType,
    buf: BytesMut,
}

impl RowEncoder {
    /// An encoder whose buffer starts with the COPY header.
    pub fn new(payload: PayloadType) -> Self {
        let mut buf = BytesMut::with_capacity(FLUSH_BYTES + 4096);
        buf.put_slice(HEADER);
        Self { payload, buf }
    }

    /// Appends one row, at `position` in its school.
    pub fn push(&mut self, event: &StoredEvent, position: i64) {
        let b = &mut self.buf;
        b.put_i16(9);
        field(b, &event.school.to_be_bytes());
        field(b, &position.to_be_bytes());
        field(b, event.id.as_bytes());
        field(b, event.stream.as_bytes());
        field(b, &event.version.to_be_bytes());
        field(b, event.event_type.as_bytes());
        field(b, &(event.recorded_at_us - PG_EPOCH_US).to_be_bytes());
        match self.payload {
            PayloadType::Jsonb => jsonb(b, &event.payload),
            PayloadType::Json | PayloadType::Bytea => field(b, event.payload.as_bytes()),
        }
        jsonb(b, &event.metadata);
    }

    /// Bytes encoded so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing but the header has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.len() <= HEADER.len()
    }

    fn take(&mut self) -> BytesMut {
        self.buf.split()
    }

    /// The encoded rows with the trailer, ready to send.
    pub fn finish(mut self) -> BytesMut {
        self.buf.put_i16(-1);
        self.buf
    }
}

/// jsonb's binary form: a version byte (1), then the JSON text.
fn jsonb(b: &mut BytesMut, text: &str) {
    b.put_i32(text.len() as i32 + 1);
    b.put_u8(1);
    b.put_slice(text.as_bytes());
}

fn field(b: &mut BytesMut, bytes: &[u8]) {
    b.put_i32(bytes.len() as i32);
    b.put_slice(bytes);
}

/// Copies `rows` (each with its position) into `table` over one COPY, flushing every MiB.
/// Returns the number of rows the server reports.
pub async fn copy_events(
    conn: &mut PgConnection,
    table: &str,
    payload: PayloadType,
    rows: &[(StoredEvent, i64)],
) -> Result<u64> {
    let statement = format!("COPY {table} ({COLUMNS}) FROM STDIN (FORMAT binary)");
    let mut copy = conn.copy_in_raw(&statement).await.map_err(Error::db("starting COPY"))?;
    let mut enc = RowEncoder::new(payload);
    for (event, position) in rows {
        enc.push(event, *position);
        if enc.len() >= FLUSH_BYTES {
            copy.send(enc.take()).await.map_err(Error::db("sending COPY data"))?;
        }
    }
    copy.send(enc.finish()).await.map_err(Error::db("sending COPY data"))?;
    copy.finish().await.map_err(Error::db("finishing COPY"))
}
