//! The section test aggregate: one student practising one section, and the command that
//! answers its current question.

use uuid::Uuid;

use super::event::{DomainEvent, QuestionAnswered, SectionTestFinished};
use crate::error::{Error, Result};

/// A student's test on a section, as its events left it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SectionTest {
    /// The stream version the state was built from.
    pub version: i64,
    /// Whether the test was started.
    pub started: bool,
    /// The question assigned and not yet answered.
    pub open_question: Option<Uuid>,
    /// Correct answers so far.
    pub correct: u32,
    /// Incorrect answers so far.
    pub incorrect: u32,
    /// Whether the test is finished.
    pub finished: bool,
}

impl SectionTest {
    /// Folds one event of the test's stream into the state.
    pub fn apply(&mut self, event: &DomainEvent) {
        self.version += 1;
        match event {
            DomainEvent::SectionTestStarted(_) => self.started = true,
            DomainEvent::QuestionAssigned(e) => self.open_question = Some(e.question),
            DomainEvent::QuestionAnsweredCorrectly(_) => {
                self.correct += 1;
                self.open_question = None;
            }
            DomainEvent::QuestionAnsweredIncorrectly(_) => {
                self.incorrect += 1;
                self.open_question = None;
            }
            DomainEvent::SectionTestFinished(_) => {
                self.finished = true;
                self.open_question = None;
            }
            _ => {}
        }
    }
}

/// AnswerQuestion(student, section, question, answer): the write side's typical command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerQuestion {
    /// The command's id; the events' ids derive from it, so a retried command is idempotent.
    pub id: Uuid,
    /// The student.
    pub student: Uuid,
    /// The section.
    pub section: Uuid,
    /// The question answered.
    pub question: Uuid,
    /// The answer as given.
    pub answer: String,
    /// Whether the content service judged it correct.
    pub correct: bool,
    /// Time spent.
    pub duration_ms: u32,
    /// The test ends with this answer.
    pub finishes: bool,
}

impl AnswerQuestion {
    /// The events this command records on `test`, or the rule it breaks.
    pub fn decide(&self, test: &SectionTest) -> Result<Vec<DomainEvent>> {
        let reject = |rule: &str| Err(Error::Rejected { rule: rule.to_string() });
        if test.finished {
            return reject("a finished test takes no answers");
        }
        match test.open_question {
            None => return reject("an answer must follow the question's assignment"),
            Some(q) if q != self.question => return reject("only the assigned question can be answered"),
            Some(_) => {}
        }
        let answered = QuestionAnswered {
            student: self.student,
            section: self.section,
            question: self.question,
            answer: self.answer.clone(),
            duration_ms: self.duration_ms,
        };
        let mut events = vec![if self.correct {
            DomainEvent::QuestionAnsweredCorrectly(answered)
        } else {
            DomainEvent::QuestionAnsweredIncorrectly(answered)
        }];
        if self.finishes {
            let (c, i) = (test.correct + u32::from(self.correct), test.incorrect + u32::from(!self.correct));
            events.push(DomainEvent::SectionTestFinished(SectionTestFinished {
                student: self.student,
                section: self.section,
                correct: c,
                incorrect: i,
            }));
        }
        Ok(events)
    }

    /// The id of the command's `n`th event: the same for every retry of the command.
    pub fn event_id(&self, n: usize) -> Uuid {
        Uuid::from_u128(self.id.as_u128().wrapping_add(n as u128 + 1))
    }

    /// Whether `id` is one of the ids [`Self::event_id`] gives (a command records at most two).
    pub fn produced(&self, id: Uuid) -> bool {
        (1..=2).contains(&id.as_u128().wrapping_sub(self.id.as_u128()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Client, QuestionAssigned};

    fn cmd(question: Uuid) -> AnswerQuestion {
        AnswerQuestion {
            id: Uuid::from_u128(9),
            student: Uuid::from_u128(1),
            section: Uuid::from_u128(2),
            question,
            answer: "42".into(),
            correct: true,
            duration_ms: 1000,
            finishes: false,
        }
    }

    fn assigned(q: Uuid) -> DomainEvent {
        DomainEvent::QuestionAssigned(QuestionAssigned {
            student: Uuid::from_u128(1),
            section: Uuid::from_u128(2),
            question: q,
            index: 0,
            client: Client { app: "web".into(), version: "1".into() },
        })
    }

    fn rule(r: Result<Vec<DomainEvent>>) -> String {
        match r {
            Err(Error::Rejected { rule }) => rule,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn an_answer_needs_an_assignment() {
        assert_eq!(
            rule(cmd(Uuid::from_u128(5)).decide(&SectionTest::default())),
            "an answer must follow the question's assignment"
        );
    }

    #[test]
    fn only_the_assigned_question_is_answered_once() {
        let q = Uuid::from_u128(5);
        let mut test = SectionTest::default();
        test.apply(&assigned(q));
        assert_eq!(rule(cmd(Uuid::from_u128(6)).decide(&test)), "only the assigned question can be answered");
        let events = cmd(q).decide(&test).unwrap();
        events.iter().for_each(|e| test.apply(e));
        assert_eq!((test.correct, test.version), (1, 2));
        assert_eq!(rule(cmd(q).decide(&test)), "an answer must follow the question's assignment");
    }

    #[test]
    fn a_finished_test_takes_no_answers() {
        let q = Uuid::from_u128(5);
        let mut test = SectionTest::default();
        test.apply(&assigned(q));
        let last = AnswerQuestion { finishes: true, ..cmd(q) };
        last.decide(&test).unwrap().iter().for_each(|e| test.apply(e));
        assert!(test.finished);
        test.apply(&assigned(q));
        assert_eq!(rule(cmd(q).decide(&test)), "a finished test takes no answers");
    }
}
