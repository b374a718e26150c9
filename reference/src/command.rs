//! Commands as users have them: load the aggregate, decide, append with the expected version.

use std::time::{Duration, Instant};

use crate::append::{Append, Appended, Appender};
use crate::domain::{section_test_stream, AnswerQuestion, DomainEvent, SectionTest};
use crate::error::{Error, Result};
use crate::event::{NewEvent, RecordedEvent, School};
use crate::store::Store;

/// What handling a command took, with the aggregate load timed on its own.
#[derive(Debug, Clone)]
pub struct Handled {
    /// What the append got.
    pub appended: Appended,
    /// Time to load the aggregate by replaying its stream.
    pub load: Duration,
    /// Time from the append's start to its acknowledgement.
    pub append: Duration,
}

/// Handles commands against one store through one append strategy.
#[derive(Debug, Clone)]
pub struct CommandHandler {
    store: Store,
    appender: Appender,
}

impl CommandHandler {
    /// A handler that reads `store` and appends through `appender`.
    pub fn new(store: Store, appender: Appender) -> Self {
        Self { store, appender }
    }

    /// The strategy commands append through, for events that need no decision.
    pub fn appender(&self) -> &Appender {
        &self.appender
    }

    /// Answers the student's current question in `school`.
    pub async fn answer_question(&self, school: School, cmd: &AnswerQuestion, recorded_at_us: i64) -> Result<Handled> {
        self.answer_question_on(school, section_test_stream(cmd.student, cmd.section), cmd, recorded_at_us).await
    }

    /// Like [`Self::answer_question`], on the test stream `stream` (a student who takes a
    /// course again practises on new streams).
    pub async fn answer_question_on(
        &self,
        school: School,
        stream: uuid::Uuid,
        cmd: &AnswerQuestion,
        recorded_at_us: i64,
    ) -> Result<Handled> {
        let started = Instant::now();
        let recorded = self.store.read_stream(school, stream).await?;
        let mut test = SectionTest::default();
        for e in &recorded {
            test.apply(&decode(e)?);
        }
        let load = started.elapsed();
        // A retry of a command that already committed: answer with what it got then.
        let mine: Vec<&RecordedEvent> = recorded.iter().filter(|e| cmd.produced(e.id)).collect();
        if let Some(last) = mine.last() {
            let positions = mine.iter().map(|e| e.position.unwrap_or(e.global_position)).collect();
            return Ok(Handled {
                appended: Appended { positions, version: last.version },
                load,
                append: Duration::ZERO,
            });
        }
        let events = cmd.decide(&test)?;
        let events = events
            .iter()
            .enumerate()
            .map(|(n, e)| NewEvent {
                id: cmd.event_id(n),
                event_type: e.event_type().to_string(),
                recorded_at_us,
                payload: e.encode(),
                metadata: format!(r#"{{"command":"{}"}}"#, cmd.id),
            })
            .collect();
        let started = Instant::now();
        let appended = self.appender.append(Append { school, stream, expected_version: test.version, events }).await?;
        Ok(Handled { appended, load, append: started.elapsed() })
    }

    /// Rebuilds a section test by replaying its stream (the way a command loads it).
    pub async fn load_section_test(&self, school: School, stream: uuid::Uuid) -> Result<SectionTest> {
        let mut test = SectionTest::default();
        for e in self.store.read_stream(school, stream).await? {
            test.apply(&decode(&e)?);
        }
        Ok(test)
    }
}

/// Decodes a recorded event into the domain, naming the type and position when it is unknown.
pub fn decode(e: &RecordedEvent) -> Result<DomainEvent> {
    DomainEvent::decode(&e.event_type, e.payload.as_bytes()).map_err(|err| match err {
        crate::domain::DecodeError::UnknownType(event_type) => {
            Error::UnknownEventType { event_type, school: e.school, position: e.position.unwrap_or(e.global_position) }
        }
        crate::domain::DecodeError::Payload(reason) => {
            Error::Decode { id: e.id, event_type: e.event_type.clone(), reason }
        }
    })
}
