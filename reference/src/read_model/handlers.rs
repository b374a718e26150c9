//! Event handlers: one function per event type, dispatched by `match`, in versioned sets.
//!
//! v1 is the handler set before activity tracking. v2 adds "track activity" to every
//! practice event, and the talk's learning analytics: how long each student took to master
//! each section (quick against slow learners), and what followed each wrong answer (was an
//! explanation read, was the next answer right). Rebuilding with v2 gives past events these
//! figures as if they had always been recorded.

use uuid::Uuid;

use super::model::{Account, ReadModel, SectionInfo, StudentView};
use crate::domain::*;
use crate::event::School;

/// Gaps between a student's events longer than this end a practice session.
pub const SESSION_TIMEOUT_US: i64 = 10 * 60 * 1_000_000;

/// Which handler set folds the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handlers {
    /// Without activity tracking.
    V1,
    /// With activity tracking on practice events.
    #[default]
    V2,
}

impl Handlers {
    /// The name reports and figures use.
    pub fn name(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
        }
    }

    /// Parses `v1` or `v2`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::V1, Self::V2].into_iter().find(|h| h.name() == s)
    }
}

/// How a replay folds: the handler set, plus optional busy work per event. The busy work
/// exists to show that the regression gate can fail; it is 0 unless a scenario sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fold {
    /// Handler set.
    pub handlers: Handlers,
    /// Nanoseconds of extra work per event.
    pub extra_ns_per_event: u64,
}

impl Fold {
    /// The plain fold with `handlers`.
    pub fn new(handlers: Handlers) -> Self {
        Self { handlers, extra_ns_per_event: 0 }
    }

    /// Folds one event into the model.
    pub fn apply(&self, model: &mut ReadModel, env: &Envelope) {
        handle(self.handlers, model, env);
        crate::slowdown::fold_extra();
        if self.extra_ns_per_event > 0 {
            let until = std::time::Instant::now() + std::time::Duration::from_nanos(self.extra_ns_per_event);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
        }
    }
}

/// One decoded event with what handlers need from its row.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The school (0 for course material).
    pub school: School,
    /// When it was recorded, µs since the Unix epoch.
    pub recorded_at_us: i64,
    /// The event.
    pub event: DomainEvent,
}

/// Folds one event into the model.
pub fn handle(handlers: Handlers, model: &mut ReadModel, env: &Envelope) {
    model.events += 1;
    let (school, at) = (env.school, env.recorded_at_us);
    match &env.event {
        DomainEvent::StudentCreated(e) => student_created(model, school, e),
        DomainEvent::ClassAssigned(e) => class_assigned(model, school, e),
        DomainEvent::AgreementAccepted(e) => agreement_accepted(model, school, e),
        DomainEvent::CoursePublished(e) => course_published(model, e),
        DomainEvent::SectionAdded(e) => section_added(model, e),
        DomainEvent::SectionTestStarted(e) => section_test_started(model, school, e),
        DomainEvent::QuestionAssigned(e) => question_assigned(model, school, e),
        DomainEvent::QuestionAnsweredCorrectly(e) => question_answered_correctly(model, school, e),
        DomainEvent::QuestionAnsweredIncorrectly(e) => question_answered_incorrectly(model, school, e),
        DomainEvent::ExplanationRead(e) => explanation_read(model, school, e),
        DomainEvent::SectionTestFinished(e) => section_test_finished(model, school, e),
        DomainEvent::ChapterQuizStarted(e) => chapter_quiz_started(model, school, e),
        DomainEvent::QuizQuestionAnswered(e) => quiz_question_answered(model, school, e),
        DomainEvent::ChapterQuizPassed(e) => chapter_quiz_passed(model, school, e),
        DomainEvent::ChapterQuizFailed(e) => chapter_quiz_failed(model, school, e),
    }
    if handlers == Handlers::V2 {
        if let Some(student) = practising_student(&env.event) {
            track_activity(model, school, student, at);
        }
        learning(model, school, at, &env.event);
    }
}

/// v2: when each student started and mastered each section, and what followed each wrong
/// answer (an explanation read or not, and whether the next answer was right).
fn learning(model: &mut ReadModel, school: School, at: i64, event: &DomainEvent) {
    match event {
        DomainEvent::SectionTestStarted(e) => {
            let p = student(model, school, e.student).sections.entry(e.section).or_default();
            p.started_us = Some(p.started_us.map_or(at, |t| t.min(at)));
        }
        DomainEvent::SectionTestFinished(e) => {
            let p = student(model, school, e.student).sections.entry(e.section).or_default();
            p.mastered_us.get_or_insert(at);
        }
        DomainEvent::ExplanationRead(e) => {
            let p = student(model, school, e.student).sections.entry(e.section).or_default();
            p.explained |= p.after_mistake;
        }
        DomainEvent::QuestionAnsweredCorrectly(e) | DomainEvent::QuestionAnsweredIncorrectly(e) => {
            let right = matches!(event, DomainEvent::QuestionAnsweredCorrectly(_));
            let p = student(model, school, e.student).sections.entry(e.section).or_default();
            let (after_mistake, explained) = (p.after_mistake, p.explained);
            p.after_mistake = !right;
            p.explained = false;
            if after_mistake {
                let m = model.after_mistakes.entry(e.section).or_default();
                m.answers += 1;
                m.explained += u64::from(explained);
                m.explained_right += u64::from(explained && right);
                m.unexplained_right += u64::from(!explained && right);
            }
        }
        _ => {}
    }
}

/// Folds events into a fresh model: `events.fold(model, handle)`.
pub fn fold<'a>(handlers: Handlers, model: ReadModel, events: impl IntoIterator<Item = &'a Envelope>) -> ReadModel {
    events.into_iter().fold(model, |mut m, e| {
        handle(handlers, &mut m, e);
        m
    })
}

fn student(model: &mut ReadModel, school: School, id: Uuid) -> &mut StudentView {
    model.students.entry((school, id)).or_default()
}

fn student_created(model: &mut ReadModel, school: School, e: &StudentCreated) {
    let s = student(model, school, e.student);
    s.account = Some(Account { name: e.name.clone(), year: e.year, level: e.level.clone(), class: None, agreement: 0 });
}

fn class_assigned(model: &mut ReadModel, school: School, e: &ClassAssigned) {
    if let Some(a) = &mut student(model, school, e.student).account {
        a.class = Some(e.class);
    }
}

fn agreement_accepted(model: &mut ReadModel, school: School, e: &AgreementAccepted) {
    if let Some(a) = &mut student(model, school, e.student).account {
        a.agreement = a.agreement.max(e.revision);
    }
}

fn course_published(model: &mut ReadModel, e: &CoursePublished) {
    model.courses.insert(e.course, e.title.clone());
}

fn section_added(model: &mut ReadModel, e: &SectionAdded) {
    let info = SectionInfo {
        course: e.course,
        chapter: e.chapter,
        title: e.title.clone(),
        questions: e.questions.len() as u32,
    };
    model.sections.insert(e.section, info);
}

fn section_test_started(model: &mut ReadModel, school: School, e: &SectionTestStarted) {
    student(model, school, e.student).sections.entry(e.section).or_default();
}

fn question_assigned(model: &mut ReadModel, school: School, e: &QuestionAssigned) {
    let p = student(model, school, e.student).sections.entry(e.section).or_default();
    p.current_question = Some(e.question);
    p.assigned += 1;
}

fn question_answered_correctly(model: &mut ReadModel, school: School, e: &QuestionAnswered) {
    let p = student(model, school, e.student).sections.entry(e.section).or_default();
    p.correct += 1;
    p.current_question = None;
    let q = model.questions.entry(e.question).or_default();
    q.attempts += 1;
    q.correct += 1;
}

fn question_answered_incorrectly(model: &mut ReadModel, school: School, e: &QuestionAnswered) {
    let p = student(model, school, e.student).sections.entry(e.section).or_default();
    p.incorrect += 1;
    p.current_question = None;
    let q = model.questions.entry(e.question).or_default();
    q.attempts += 1;
    match q.wrong_answers.get_mut(e.answer.as_str()) {
        Some(n) => *n += 1,
        None => {
            q.wrong_answers.insert(e.answer.clone(), 1);
        }
    }
}

fn explanation_read(model: &mut ReadModel, school: School, e: &ExplanationRead) {
    student(model, school, e.student).sections.entry(e.section).or_default().explanations += 1;
}

fn section_test_finished(model: &mut ReadModel, school: School, e: &SectionTestFinished) {
    let p = student(model, school, e.student).sections.entry(e.section).or_default();
    p.finished = true;
    p.current_question = None;
}

fn chapter_quiz_started(model: &mut ReadModel, school: School, e: &ChapterQuizStarted) {
    student(model, school, e.student).quizzes.entry(e.chapter).or_default().attempts += 1;
}

fn quiz_question_answered(model: &mut ReadModel, school: School, e: &QuizQuestionAnswered) {
    let q = student(model, school, e.student).quizzes.entry(e.chapter).or_default();
    q.progress += 1;
    q.correct += u32::from(e.correct);
}

fn chapter_quiz_passed(model: &mut ReadModel, school: School, e: &ChapterQuizEnded) {
    student(model, school, e.student).quizzes.entry(e.chapter).or_default().passed = true;
}

/// A failed quiz resets its progress.
fn chapter_quiz_failed(model: &mut ReadModel, school: School, e: &ChapterQuizEnded) {
    let q = student(model, school, e.student).quizzes.entry(e.chapter).or_default();
    q.progress = 0;
    q.correct = 0;
}

/// The student a practice event is about; `None` for other events.
fn practising_student(event: &DomainEvent) -> Option<Uuid> {
    Some(match event {
        DomainEvent::SectionTestStarted(e) => e.student,
        DomainEvent::QuestionAssigned(e) => e.student,
        DomainEvent::QuestionAnsweredCorrectly(e) | DomainEvent::QuestionAnsweredIncorrectly(e) => e.student,
        DomainEvent::ExplanationRead(e) => e.student,
        DomainEvent::SectionTestFinished(e) => e.student,
        DomainEvent::ChapterQuizStarted(e) => e.student,
        DomainEvent::QuizQuestionAnswered(e) => e.student,
        DomainEvent::ChapterQuizPassed(e) | DomainEvent::ChapterQuizFailed(e) => e.student,
        _ => return None,
    })
}

/// v2: time spent practising is the sum of gaps between a student's consecutive practice
/// events shorter than the session timeout; each day a student practises counts once in
/// the school's active students.
fn track_activity(model: &mut ReadModel, school: School, id: Uuid, at: i64) {
    let s = student(model, school, id);
    let gap = at - s.last_active_us;
    let (previous_day, day) = (day_of(s.last_active_us), day_of(at));
    if s.last_active_us > 0 && (0..SESSION_TIMEOUT_US).contains(&gap) {
        s.practice_us += gap;
    }
    let first_today = s.last_active_us == 0 || previous_day != day;
    s.last_active_us = s.last_active_us.max(at);
    if first_today {
        *model.active_per_day.entry(school).or_default().entry(day).or_default() += 1;
    }
}

fn day_of(us: i64) -> i32 {
    us.div_euclid(86_400_000_000) as i32
}
