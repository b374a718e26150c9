//! Active migrations: upcasters rewrite events as they are read, one function each, in order.

use crate::event::RecordedEvent;

/// One upcaster: rewrites an event in place, or leaves it alone.
pub type Upcaster = fn(&mut RecordedEvent);

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

    /// Applies the chain to one event.
    pub fn apply(&self, event: &mut RecordedEvent) {
        for upcast in &self.0 {
            upcast(event);
        }
    }
}

/// `UserAgreement/Accepted` gained a `revision` when the agreement was revised a year in;
/// events from before carry none and mean revision 1.
pub fn agreement_revision(event: &mut RecordedEvent) {
    if event.event_type != "UserAgreement/Accepted" {
        return;
    }
    let Ok(serde_json::Value::Object(mut payload)) = serde_json::from_str(&event.payload) else { return };
    if payload.contains_key("revision") {
        return;
    }
    payload.insert("revision".into(), 1.into());
    event.payload = serde_json::Value::Object(payload).to_string();
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
