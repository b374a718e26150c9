//! `live` mode: a simulated school day turned into the commands that would have produced it,
//! each with the moment it was due.
//!
//! An answer becomes an `AnswerQuestion` command: the write side loads the student's section
//! test by replaying its stream, decides, and appends with the expected version. Every other
//! event (assignments, explanations read, quizzes, new students) is appended as recorded.
//! Command ids are chosen so that the events written carry the generated ids, so a live run
//! writes the same log a backfill would.

use stroom_reference::domain::{AnswerQuestion, DomainEvent};
use stroom_reference::{Append, School};
use uuid::Uuid;

use crate::generator::GeneratedEvent;

/// What the write side is asked to do.
#[derive(Debug, Clone)]
pub enum LiveCommand {
    /// A student answers the current question of a section test.
    Answer {
        /// The student's school.
        school: School,
        /// The section test's stream.
        stream: Uuid,
        /// The command.
        command: AnswerQuestion,
        /// When the answer was given, µs since the Unix epoch.
        recorded_at_us: i64,
    },
    /// Any other event, appended as recorded.
    Append(Append),
}

/// One command and when it is due on the simulated clock.
#[derive(Debug, Clone)]
pub struct Scheduled {
    /// Due at, µs since the Unix epoch (simulated time).
    pub due_us: i64,
    /// The stream it writes (one event): commands on one stream must run in order.
    pub stream: Uuid,
    /// The command.
    pub command: LiveCommand,
}

/// The commands behind `events`, in the order given (time order).
pub fn schedule(events: &[GeneratedEvent]) -> Vec<Scheduled> {
    events.iter().map(command_for).collect()
}

fn command_for(e: &GeneratedEvent) -> Scheduled {
    let answered = match &e.event {
        DomainEvent::QuestionAnsweredCorrectly(a) => Some((a, true)),
        DomainEvent::QuestionAnsweredIncorrectly(a) => Some((a, false)),
        _ => None,
    };
    let command = match answered {
        Some((a, correct)) => LiveCommand::Answer {
            school: e.school,
            stream: e.stream,
            command: AnswerQuestion {
                // The command's first event id is its id + 1: the generated event's id.
                id: Uuid::from_u128(e.id.as_u128().wrapping_sub(1)),
                student: a.student,
                section: a.section,
                question: a.question,
                answer: a.answer.clone(),
                correct,
                duration_ms: a.duration_ms,
                finishes: false,
            },
            recorded_at_us: e.recorded_at_us,
        },
        None => LiveCommand::Append(e.to_append()),
    };
    Scheduled { due_us: e.recorded_at_us, stream: e.stream, command }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{Generator, GeneratorConfig};
    use stroom_reference::domain::SectionTest;

    #[test]
    fn answers_become_commands_that_write_the_generated_events() {
        let config =
            GeneratorConfig { schools: 2, students: 100, events_per_school_day: 5_000.0, ..Default::default() };
        let day = Generator::new(config).next_day();
        let events: Vec<_> = day.schools.iter().flat_map(|(_, e)| e.iter().cloned()).collect();
        let scheduled = schedule(&events);
        assert_eq!(scheduled.len(), events.len());
        // Replaying each test stream and deciding every answer gives back the generated event.
        let mut tests: std::collections::HashMap<Uuid, SectionTest> = Default::default();
        let mut answers = 0;
        for (s, e) in scheduled.iter().zip(&events) {
            assert_eq!(s.stream, e.stream);
            let test = tests.entry(e.stream).or_default();
            match &s.command {
                LiveCommand::Answer { command, .. } => {
                    let decided = command.decide(test).expect("the generated answer follows its assignment");
                    assert_eq!(decided, vec![e.event.clone()]);
                    assert_eq!(command.event_id(0), e.id);
                    assert_eq!(test.version, e.version - 1, "expected version");
                    answers += 1;
                }
                LiveCommand::Append(a) => {
                    assert_eq!(a.events[0].id, e.id);
                    assert_eq!(a.expected_version, e.version - 1);
                }
            }
            test.apply(&e.event);
        }
        assert!(answers > events.len() / 5, "{answers} answers in {} events", events.len());
    }
}
