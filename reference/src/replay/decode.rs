//! From stored bytes to what handlers fold: upcast, then decode into the domain.

use crate::domain::{DecodeError, DomainEvent};
use crate::error::{Error, Result};
use crate::event::{RecordedEvent, School};
use crate::read_model::Envelope;
use crate::store::PayloadType;
use crate::upcast::Upcasters;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
pub const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// Decodes one event; an unknown type names the type and its position.
pub fn envelope(
    upcasters: &Upcasters,
    school: School,
    position: i64,
    recorded_at_us: i64,
    event_type: &str,
    payload: &[u8],
) -> Result<Envelope> {
    let payload = upcasters.upcast(event_type, payload);
    match DomainEvent::decode(event_type, &payload) {
        Ok(event) => Ok(Envelope { school, recorded_at_us, event }),
        Err(DecodeError::UnknownType(event_type)) => Err(Error::UnknownEventType { event_type, school, position }),
        Err(DecodeError::Payload(reason)) => Err(Error::Decode {
            id: uuid::Uuid::nil(),
            event_type: format!("{event_type} at school {school} position {position}"),
            reason,
        }),
    }
}

/// The envelope of an event read through the store, whose rows come back upcast already.
pub fn recorded(e: &RecordedEvent) -> Result<Envelope> {
    let position = e.position.unwrap_or(e.global_position);
    envelope(&Upcasters::none(), e.school, position, e.recorded_at_us, &e.event_type, e.payload.as_bytes())
}

/// Decodes a replay row: school, position, recorded_at, event_type, payload (binary COPY).
pub fn row(upcasters: &Upcasters, payload_type: PayloadType, f: &[Option<&[u8]>]) -> Result<Envelope> {
    let bad = |what: &str| Error::Decode {
        id: uuid::Uuid::nil(),
        event_type: "row".into(),
        reason: format!("bad {what} column"),
    };
    let int = |i: usize| f.get(i).copied().flatten().ok_or_else(|| bad("integer"));
    let school = i32::from_be_bytes(int(0)?.try_into().map_err(|_| bad("school"))?);
    let position = i64::from_be_bytes(int(1)?.try_into().map_err(|_| bad("position"))?);
    let at = i64::from_be_bytes(int(2)?.try_into().map_err(|_| bad("recorded_at"))?) + PG_EPOCH_US;
    let event_type = std::str::from_utf8(int(3)?).map_err(|_| bad("event_type"))?;
    let mut payload = int(4)?;
    if payload_type == PayloadType::Jsonb {
        payload = payload.get(1..).ok_or_else(|| bad("jsonb"))?; // version byte
    }
    envelope(upcasters, school, position, at, event_type, payload)
}
