//! What an append must be before it may share a commit with others' appends.
//!
//! Lanes commit many schools' appends in one statement, so one row the server refuses would
//! sink them all. Every rule the server would enforce is checked here first, and a broken one
//! is refused alone, with an error naming the event and the field.

use serde::de::IgnoredAny;

use super::Append;
use crate::error::{Error, Result};
use crate::event::{NewEvent, MAX_EVENT_TYPE_BYTES, MAX_PAYLOAD_BYTES, RECORDED_AT_RANGE_US};
use crate::store::PayloadType;

/// Checks `append` against every rule the store's columns hold, for a payload column of type
/// `payload`. Nothing is sent to the server.
pub(crate) fn check_input(append: &Append, payload: PayloadType) -> Result<()> {
    if append.events.is_empty() {
        return Err(Error::EmptyAppend { stream: append.stream });
    }
    if append.expected_version < 0 {
        return Err(Error::Rejected { rule: "expected version must not be negative".into() });
    }
    append.events.iter().try_for_each(|e| check_event(e, payload))
}

fn check_event(e: &NewEvent, payload: PayloadType) -> Result<()> {
    let invalid = |field: &'static str, reason: String| Error::InvalidEvent { id: e.id, field, reason };
    if e.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(Error::PayloadTooLarge { id: e.id, size: e.payload.len(), limit: MAX_PAYLOAD_BYTES });
    }
    if e.event_type.is_empty() || e.event_type.len() > MAX_EVENT_TYPE_BYTES {
        let why = format!("{} bytes, not 1 to {MAX_EVENT_TYPE_BYTES}", e.event_type.len());
        return Err(invalid("event_type", why));
    }
    if e.event_type.contains('\0') {
        return Err(invalid("event_type", "holds a NUL character, which text cannot".into()));
    }
    if !RECORDED_AT_RANGE_US.contains(&e.recorded_at_us) {
        let why = format!("{} µs since 1970 is outside the years 1 to 9999", e.recorded_at_us);
        return Err(invalid("recorded_at", why));
    }
    // Bytea takes any bytes; json keeps the text as given (a NUL escape included); jsonb
    // refuses `\u0000`, which it cannot hold in text.
    match payload {
        PayloadType::Bytea => {}
        PayloadType::Json => check_json(&e.payload, false).map_err(|why| invalid("payload", why))?,
        PayloadType::Jsonb => check_json(&e.payload, true).map_err(|why| invalid("payload", why))?,
    }
    check_json(&e.metadata, true).map_err(|why| invalid("metadata", why))
}

/// Whether `text` is one well-formed JSON value the column type accepts; `binary` for jsonb.
fn check_json(text: &str, binary: bool) -> std::result::Result<(), String> {
    // A raw NUL is refused by serde_json too (a control character, or not JSON at all).
    serde_json::from_str::<IgnoredAny>(text).map_err(|e| format!("not well-formed JSON: {e}"))?;
    if binary && has_nul_escape(text) {
        return Err("holds \\u0000, which jsonb cannot store".into());
    }
    Ok(())
}

/// Whether well-formed JSON `text` holds the escape `\u0000` inside a string. A backslash
/// escapes the next character, so `\\u0000` is a backslash followed by text, not a NUL.
fn has_nul_escape(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'u') && b.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn event(payload: &str) -> NewEvent {
        NewEvent {
            id: Uuid::from_u128(7),
            event_type: "Student/Created".into(),
            recorded_at_us: 1_500_000_000_000_000,
            payload: payload.into(),
            metadata: "{}".into(),
        }
    }

    fn append(events: Vec<NewEvent>) -> Append {
        Append { school: 1, stream: Uuid::from_u128(1), expected_version: 0, events }
    }

    fn field(r: Result<()>) -> Option<&'static str> {
        match r {
            Err(Error::InvalidEvent { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn a_good_append_passes() {
        assert!(check_input(&append(vec![event(r#"{"a":"\\u0000 is text here"}"#)]), PayloadType::Jsonb).is_ok());
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        let jsonb = |e: NewEvent| field(check_input(&append(vec![e]), PayloadType::Jsonb));
        assert_eq!(jsonb(event("{\"a\":")), Some("payload"));
        assert_eq!(jsonb(event("{\"a\":\"x\u{0}y\"}")), Some("payload"));
        assert_eq!(jsonb(event(r#"{"a":"x\u0000y"}"#)), Some("payload"));
        assert_eq!(jsonb(event("{} {}")), Some("payload"));
        assert_eq!(jsonb(NewEvent { metadata: "not json".into(), ..event("{}") }), Some("metadata"));
        assert_eq!(jsonb(NewEvent { metadata: r#"{"m":"\u0000"}"#.into(), ..event("{}") }), Some("metadata"));
        assert_eq!(jsonb(NewEvent { event_type: String::new(), ..event("{}") }), Some("event_type"));
        assert_eq!(
            jsonb(NewEvent { event_type: "x".repeat(MAX_EVENT_TYPE_BYTES + 1), ..event("{}") }),
            Some("event_type")
        );
        assert_eq!(jsonb(NewEvent { event_type: "A\0B".into(), ..event("{}") }), Some("event_type"));
        assert_eq!(jsonb(NewEvent { recorded_at_us: i64::MAX, ..event("{}") }), Some("recorded_at"));
        assert_eq!(jsonb(NewEvent { recorded_at_us: i64::MIN, ..event("{}") }), Some("recorded_at"));
    }

    #[test]
    fn json_keeps_a_nul_escape_and_bytea_takes_anything() {
        let nul = event(r#"{"a":"x\u0000y"}"#);
        assert!(check_input(&append(vec![nul.clone()]), PayloadType::Json).is_ok());
        assert!(check_input(&append(vec![event("not json")]), PayloadType::Bytea).is_ok());
        assert_eq!(field(check_input(&append(vec![event("not json")]), PayloadType::Json)), Some("payload"));
    }

    #[test]
    fn an_empty_append_and_a_large_payload_are_refused() {
        assert!(matches!(check_input(&append(vec![]), PayloadType::Jsonb), Err(Error::EmptyAppend { .. })));
        let big = event(&format!("\"{}\"", "x".repeat(MAX_PAYLOAD_BYTES)));
        assert!(matches!(check_input(&append(vec![big]), PayloadType::Jsonb), Err(Error::PayloadTooLarge { .. })));
    }

    #[test]
    fn an_escaped_backslash_is_not_a_nul_escape() {
        assert!(!has_nul_escape(r#""\\u0000""#));
        assert!(has_nul_escape(r#""\\\u0000""#));
        assert!(!has_nul_escape(r#""\u00001""#.replace("\\u0000", "\\u0001").as_str()));
    }
}
