//! Active migrations: upcasters rewrite events as they are read, one function each, in order.

use std::borrow::Cow;

use crate::event::RecordedEvent;

/// One upcaster: given an event's type and payload, the rewritten payload, or `None` to
/// leave it alone. It works on bytes so replay can apply it without building rows.
pub type Upcaster = fn(&str, &[u8]) -> Option<Vec<u8>>;

/// A chain of upcasters applied to every event read from a store.
#[derive(Debug, Clone, Default)]
pub struct Upcasters(Vec<Upcaster>);

impl Upcasters {
    /// No upcasters: events are read as stored.
    pub fn none() -> Self {
        Self::default()
    }

    /// The chain the reference implementation reads with.
    pub fn standard() -> Self {
        Self(vec![agreement_revision])
    }

    /// This chain with `upcaster` appended.
    pub fn then(mut self, upcaster: Upcaster) -> Self {
        self.0.push(upcaster);
        self
    }

    /// Applies the chain to one event read back as a row.
    pub fn apply(&self, event: &mut RecordedEvent) {
        if let Cow::Owned(bytes) = self.upcast(&event.event_type, event.payload.as_bytes()) {
            event.payload =
                String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        }
    }

    /// Applies the chain to a payload; borrowed when nothing changed.
    pub fn upcast<'a>(&self, event_type: &str, payload: &'a [u8]) -> Cow<'a, [u8]> {
        let mut current = Cow::Borrowed(payload);
        for upcast in &self.0 {
            if let Some(rewritten) = upcast(event_type, &current) {
                current = Cow::Owned(rewritten);
            }
        }
        current
    }
}

/// `UserAgreement/Accepted` gained a `revision` when the agreement was revised a year in;
/// events from before carry none and mean revision 1.
pub fn agreement_revision(event_type: &str, payload: &[u8]) -> Option<Vec<u8>> {
    if event_type != "UserAgreement/Accepted" {
        return None;
    }
    let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_slice(payload) else { return None };
    if fields.contains_key("revision") {
        return None;
    }
    fields.insert("revision".into(), 1.into());
    serde_json::to_vec(&serde_json::Value::Object(fields)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, payload: &str) -> RecordedEvent {
        RecordedEvent {
            school: 1,
            position: Some(1),
            global_position: 1,
            id: uuid::Uuid::nil(),
            stream: uuid::Uuid::nil(),
            version: 1,
            event_type: kind.into(),
            recorded_at_us: 0,
            payload: payload.into(),
            metadata: "{}".into(),
        }
    }

    #[test]
    fn an_agreement_without_revision_reads_as_revision_1() {
        let mut e = event("UserAgreement/Accepted", r#"{"student":"s"}"#);
        Upcasters::standard().apply(&mut e);
        let v: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
        assert_eq!(v["revision"], 1);
        assert_eq!(v["student"], "s");
    }

    #[test]
    fn a_revised_agreement_and_other_events_are_left_alone() {
        let mut e = event("UserAgreement/Accepted", r#"{"revision":2}"#);
        Upcasters::standard().apply(&mut e);
        assert_eq!(e.payload, r#"{"revision":2}"#);
        let mut e = event("Student/Created", r#"{"x":1}"#);
        Upcasters::standard().apply(&mut e);
        assert_eq!(e.payload, r#"{"x":1}"#);
    }
}
