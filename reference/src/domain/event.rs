//! The domain events of a secondary-school practice platform: a closed enum, one payload
//! struct per type, encoded as JSON of about 150–400 bytes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a stored payload could not become a [`DomainEvent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The type name is not one of [`DomainEvent::TYPES`].
    #[error("unknown event type '{0}'")]
    UnknownType(String),
    /// The payload is not valid JSON for the type.
    #[error("{0}")]
    Payload(String),
}

macro_rules! domain_events {
    ($( $(#[$doc:meta])* $variant:ident($payload:ident) = $name:literal, )*) => {
        /// Every event the platform records. Unknown types are an error, never skipped.
        #[derive(Debug, Clone, PartialEq)]
        pub enum DomainEvent {
            $( $(#[$doc])* $variant($payload), )*
        }

        impl DomainEvent {
            /// Every type name, as stored.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            /// The stored type name, e.g. `SectionTest/QuestionAssigned`.
            pub fn event_type(&self) -> &'static str {
                match self { $( Self::$variant(_) => $name, )* }
            }

            /// The payload as JSON text.
            pub fn encode(&self) -> String {
                match self { $( Self::$variant(p) => serde_json::to_string(p), )* }
                    .expect("domain payloads always serialise")
            }

            /// Appends the payload's JSON to `out` (no allocation beyond `out`'s growth).
            pub fn encode_into(&self, out: &mut Vec<u8>) {
                match self { $( Self::$variant(p) => serde_json::to_writer(&mut *out, p), )* }
                    .expect("domain payloads always serialise")
            }

            /// Decodes a stored event; an unknown type is an error.
            pub fn decode(event_type: &str, payload: &[u8]) -> Result<Self, DecodeError> {
                match event_type {
                    $( $name => serde_json::from_slice(payload).map(Self::$variant), )*
                    other => return Err(DecodeError::UnknownType(other.to_string())),
                }
                .map_err(|e| DecodeError::Payload(e.to_string()))
            }
        }
    };
}

domain_events! {
    /// A student account was created.
    StudentCreated(StudentCreated) = "Student/Created",
    /// A student was put in a class.
    ClassAssigned(ClassAssigned) = "Student/ClassAssigned",
    /// A student accepted the user agreement (old events carry no revision).
    AgreementAccepted(AgreementAccepted) = "UserAgreement/Accepted",
    /// A course was published (global partition).
    CoursePublished(CoursePublished) = "Course/Published",
    /// A section was added to a course chapter (global partition).
    SectionAdded(SectionAdded) = "Course/SectionAdded",
    /// A student started practising a section.
    SectionTestStarted(SectionTestStarted) = "SectionTest/Started",
    /// A question was put to the student.
    QuestionAssigned(QuestionAssigned) = "SectionTest/QuestionAssigned",
    /// The student answered the current question correctly.
    QuestionAnsweredCorrectly(QuestionAnswered) = "SectionTest/QuestionAnsweredCorrectly",
    /// The student answered the current question incorrectly.
    QuestionAnsweredIncorrectly(QuestionAnswered) = "SectionTest/QuestionAnsweredIncorrectly",
    /// After a mistake, the student read the theory behind the question.
    ExplanationRead(ExplanationRead) = "SectionTest/ExplanationRead",
    /// The student finished the section.
    SectionTestFinished(SectionTestFinished) = "SectionTest/Finished",
    /// A student started a chapter quiz.
    ChapterQuizStarted(ChapterQuizStarted) = "ChapterQuiz/Started",
    /// A quiz question was answered.
    QuizQuestionAnswered(QuizQuestionAnswered) = "ChapterQuiz/QuestionAnswered",
    /// The quiz was passed.
    ChapterQuizPassed(ChapterQuizEnded) = "ChapterQuiz/Passed",
    /// The quiz was failed; its progress resets.
    ChapterQuizFailed(ChapterQuizEnded) = "ChapterQuiz/Failed",
}

/// The app a student used, carried by practice events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// `web`, `ios` or `android`.
    pub app: Cow<'static, str>,
    /// App version.
    pub version: Cow<'static, str>,
}

/// `Student/Created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudentCreated {
    /// The student.
    pub student: Uuid,
    /// Display name.
    pub name: String,
    /// School year (1–6).
    pub year: u8,
    /// Level, e.g. `havo`.
    pub level: String,
}

/// `Student/ClassAssigned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassAssigned {
    /// The student.
    pub student: Uuid,
    /// The class.
    pub class: Uuid,
    /// Its name, e.g. `3H2`.
    pub class_name: String,
}

/// `UserAgreement/Accepted`. `revision` arrived a year in; the upcaster gives old events 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementAccepted {
    /// The student.
    pub student: Uuid,
    /// The agreement's revision.
    pub revision: u32,
}

/// `Course/Published`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoursePublished {
    /// The course.
    pub course: Uuid,
    /// Title.
    pub title: String,
    /// Subject, e.g. `wiskunde`.
    pub subject: String,
    /// Chapters in order.
    pub chapters: Vec<Uuid>,
}

/// `Course/SectionAdded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionAdded {
    /// The course.
    pub course: Uuid,
    /// The chapter.
    pub chapter: Uuid,
    /// The section.
    pub section: Uuid,
    /// Title.
    pub title: String,
    /// Its questions with their difficulty (item-response scale, about -3..3).
    pub questions: Vec<(Uuid, f32)>,
}

/// `SectionTest/Started`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionTestStarted {
    /// The student.
    pub student: Uuid,
    /// The chapter.
    pub chapter: Uuid,
    /// The section.
    pub section: Uuid,
    /// The app used.
    pub client: Client,
}

/// `SectionTest/QuestionAssigned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionAssigned {
    /// The student.
    pub student: Uuid,
    /// The section.
    pub section: Uuid,
    /// The question.
    pub question: Uuid,
    /// Index of the question within the test, from 0.
    pub index: u32,
    /// The app used.
    pub client: Client,
}

/// `SectionTest/QuestionAnsweredCorrectly` and `…Incorrectly`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionAnswered {
    /// The student.
    pub student: Uuid,
    /// The section.
    pub section: Uuid,
    /// The question.
    pub question: Uuid,
    /// The answer as given.
    pub answer: String,
    /// Time spent on the question.
    pub duration_ms: u32,
}

/// `SectionTest/ExplanationRead`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplanationRead {
    /// The student.
    pub student: Uuid,
    /// The section.
    pub section: Uuid,
    /// The question whose theory was read.
    pub question: Uuid,
    /// Reading time.
    pub duration_ms: u32,
}

/// `SectionTest/Finished`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionTestFinished {
    /// The student.
    pub student: Uuid,
    /// The section.
    pub section: Uuid,
    /// Correct answers in the test.
    pub correct: u32,
    /// Incorrect answers in the test.
    pub incorrect: u32,
}

/// `ChapterQuiz/Started`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChapterQuizStarted {
    /// The student.
    pub student: Uuid,
    /// The chapter.
    pub chapter: Uuid,
    /// Number of questions.
    pub questions: u32,
    /// The app used.
    pub client: Client,
}

/// `ChapterQuiz/QuestionAnswered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuizQuestionAnswered {
    /// The student.
    pub student: Uuid,
    /// The chapter.
    pub chapter: Uuid,
    /// The question.
    pub question: Uuid,
    /// The answer as given.
    pub answer: String,
    /// Whether it was right.
    pub correct: bool,
}

/// `ChapterQuiz/Passed` and `ChapterQuiz/Failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChapterQuizEnded {
    /// The student.
    pub student: Uuid,
    /// The chapter.
    pub chapter: Uuid,
    /// Correct answers.
    pub score: u32,
    /// Questions in the quiz.
    pub questions: u32,
    /// The app used.
    pub client: Client,
}

/// The stream of a student's test on a section: derived, so any process finds it.
pub fn section_test_stream(student: Uuid, section: Uuid) -> Uuid {
    derive(student, section, 0x5ec7)
}

/// The stream of a student's quiz on a chapter.
pub fn chapter_quiz_stream(student: Uuid, chapter: Uuid) -> Uuid {
    derive(student, chapter, 0x9017)
}

/// Scrambles the student before combining: XOR of the raw ids would collide whenever both
/// differ only in small counters (school 572 with section 9 against school 289 with section
/// 700 …), and scrambling afterwards keeps every such collision.
fn derive(student: Uuid, other: Uuid, kind: u128) -> Uuid {
    Uuid::from_u128(mix(mix(student.as_u128() ^ kind) ^ other.as_u128()))
}

/// A bijective scramble, so derived ids do not collide with their parts.
fn mix(mut x: u128) -> u128 {
    x ^= x >> 67;
    x = x.wrapping_mul(0x2545_f491_4f6c_dd1d_9e37_79b9_7f4a_7c15);
    x ^ (x >> 59)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client { app: "web".into(), version: "3.14.2".into() }
    }

    fn samples() -> Vec<DomainEvent> {
        let (s, q, sec, ch) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3), Uuid::from_u128(4));
        vec![
            DomainEvent::StudentCreated(StudentCreated {
                student: s,
                name: "Sanne de Vries".into(),
                year: 3,
                level: "havo".into(),
            }),
            DomainEvent::QuestionAssigned(QuestionAssigned {
                student: s,
                section: sec,
                question: q,
                index: 4,
                client: client(),
            }),
            DomainEvent::QuestionAnsweredIncorrectly(QuestionAnswered {
                student: s,
                section: sec,
                question: q,
                answer: "x = 4".into(),
                duration_ms: 31_000,
            }),
            DomainEvent::ChapterQuizFailed(ChapterQuizEnded {
                student: s,
                chapter: ch,
                score: 3,
                questions: 10,
                client: client(),
            }),
        ]
    }

    #[test]
    fn every_event_round_trips_through_its_stored_form() {
        for e in samples() {
            assert_eq!(DomainEvent::decode(e.event_type(), e.encode().as_bytes()).unwrap(), e);
        }
    }

    #[test]
    fn practice_payloads_have_realistic_sizes() {
        for e in samples().into_iter().skip(1) {
            let n = e.encode().len();
            assert!((150..=400).contains(&n), "{}: {n} bytes", e.event_type());
        }
    }

    #[test]
    fn an_unknown_type_is_an_error_naming_it() {
        assert_eq!(
            DomainEvent::decode("SectionTest/Paused", b"{}"),
            Err(DecodeError::UnknownType("SectionTest/Paused".into()))
        );
    }

    #[test]
    fn an_old_agreement_needs_the_upcaster() {
        let old = br#"{"student":"00000000-0000-0000-0000-000000000001"}"#;
        assert!(matches!(DomainEvent::decode("UserAgreement/Accepted", old), Err(DecodeError::Payload(_))));
    }

    /// Regression: stream ids derived for students of different schools collided, and the
    /// store rightly refused their events as another school's.
    #[test]
    fn derived_streams_never_collide_across_schools_students_and_sections() {
        let mut seen = std::collections::HashSet::new();
        for school in 1u64..=120 {
            for i in 0u64..12 {
                let student = Uuid::from_u64_pair(0x5700_0000_0000_0000 | school, i);
                for n in 1u64..=150 {
                    let part = Uuid::from_u64_pair(0x00c0_75e0_0000_0000 | 42, n);
                    assert!(seen.insert(section_test_stream(student, part)), "section test stream collides");
                    assert!(seen.insert(chapter_quiz_stream(student, part)), "quiz stream collides");
                }
            }
        }
    }

    #[test]
    fn derived_streams_differ_from_their_parts_and_each_other() {
        let (a, b) = (Uuid::from_u128(10), Uuid::from_u128(20));
        assert_ne!(section_test_stream(a, b), chapter_quiz_stream(a, b));
        assert_ne!(section_test_stream(a, b), section_test_stream(b, a));
        assert_ne!(section_test_stream(a, b), a);
    }
}
