//! Small, real histories for examples and tests: a student's stream of domain events that
//! every handler set folds.

use uuid::Uuid;

use super::event::{Client, DomainEvent, QuestionAssigned, StudentCreated};
use crate::event::NewEvent;

/// A new student's stream: created, then `questions` questions assigned. Returns the stream
/// (the student's id) and its events, version 1 first.
pub fn example_student(questions: u32) -> (Uuid, Vec<NewEvent>) {
    let student = Uuid::new_v4();
    let created =
        DomainEvent::StudentCreated(StudentCreated { student, name: "N".into(), year: 2, level: "vwo".into() });
    let assigned = (0..questions).map(|i| {
        DomainEvent::QuestionAssigned(QuestionAssigned {
            student,
            section: Uuid::from_u128(7),
            question: Uuid::from_u128(u128::from(i)),
            index: i,
            client: Client { app: "web".into(), version: "1".into() },
        })
    });
    (student, std::iter::once(created).chain(assigned).map(new_event).collect())
}

fn new_event(event: DomainEvent) -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        event_type: event.event_type().into(),
        recorded_at_us: 1_700_000_000_000_000,
        payload: event.encode(),
        metadata: "{}".into(),
    }
}
