//! What a student does in one sitting: practise a section question by question, or take a
//! chapter quiz. Correctness follows a logistic item-response model; wrong answers come from
//! the question's typical mistakes, and explanations are read after some of them.

use std::borrow::Cow;

use rand::rngs::SmallRng;
use rand::Rng;
use stroom_reference::domain::{
    chapter_quiz_stream, section_test_stream, AgreementAccepted, ChapterQuizEnded, ChapterQuizStarted, ClassAssigned,
    Client, DomainEvent, ExplanationRead, QuestionAnswered, QuestionAssigned, QuizQuestionAnswered,
    SectionTestFinished, SectionTestStarted, StudentCreated,
};
use stroom_reference::School;
use uuid::Uuid;

use super::curriculum::{Curriculum, SECTIONS_PER_CHAPTER};
use super::population::Student;
use super::GeneratedEvent;

/// Questions a section test has before it is finished.
pub const QUESTIONS_PER_TEST: u8 = 10;
/// Mean questions answered in one practice sitting.
pub const MEAN_QUESTIONS_PER_SESSION: f64 = 6.0;
/// Chance of reading the explanation after a mistake.
pub const EXPLANATION_CHANCE: f64 = 0.55;
/// Questions in a chapter quiz, and the score that passes it.
pub const QUIZ_QUESTIONS: u32 = 10;
/// Correct quiz answers needed to pass.
pub const QUIZ_PASS: u32 = 6;

const FIRST_NAMES: &[&str] = &["Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Tess", "Finn", "Zoë", "Noah"];
const LAST_NAMES: &[&str] = &["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder"];
const APPS: &[(&str, &str)] = &[("web", "3.14.2"), ("web", "3.15.0"), ("ios", "2.8.1"), ("android", "2.8.0")];

/// Collects one school's events for a day, numbering their ids.
pub struct Writer<'a> {
    /// The school.
    pub school: School,
    /// High bits of every id this school gives.
    pub id_base: u64,
    /// The school's event counter.
    pub next_event: &'a mut u64,
    /// Where events go.
    pub out: &'a mut Vec<GeneratedEvent>,
}

impl Writer<'_> {
    fn emit(&mut self, stream: Uuid, version: u32, at_us: i64, event: DomainEvent) {
        *self.next_event += 1;
        self.out.push(GeneratedEvent {
            school: self.school,
            stream,
            version: i64::from(version),
            id: Uuid::from_u64_pair(self.id_base, *self.next_event),
            recorded_at_us: at_us,
            event,
            legacy: false,
        });
    }
}

/// One sitting of `student` from `start_us`; returns when it ended.
pub fn session(
    student: &mut Student,
    curriculum: &Curriculum,
    rng: &mut SmallRng,
    start_us: i64,
    revision: u32,
    w: &mut Writer<'_>,
) -> i64 {
    let mut t = start_us;
    let (app, version) = APPS[rng.random_range(0..APPS.len())];
    let client = Client { app: Cow::Borrowed(app), version: Cow::Borrowed(version) };
    if !student.created {
        onboard(student, rng, t, w);
        t += seconds(rng, 20.0);
    }
    if student.agreement < revision {
        student.agreement = revision;
        student.student_version += 1;
        w.emit(
            student.id,
            student.student_version,
            t,
            DomainEvent::AgreementAccepted(AgreementAccepted { student: student.id, revision }),
        );
        // Before the agreement was revised, its events carried no revision at all.
        w.out.last_mut().expect("just emitted").legacy = revision == 1;
        t += seconds(rng, 8.0);
    }
    if usize::from(student.section) >= SECTIONS_PER_CHAPTER {
        quiz(student, curriculum, rng, t, client, w)
    } else {
        practice(student, curriculum, rng, t, client, w)
    }
}

fn onboard(student: &mut Student, rng: &mut SmallRng, t: i64, w: &mut Writer<'_>) {
    student.created = true;
    let name = format!(
        "{} {}",
        FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
        LAST_NAMES[rng.random_range(0..LAST_NAMES.len())]
    );
    let year = 1 + (student.class % 6) as u8;
    w.emit(
        student.id,
        1,
        t,
        DomainEvent::StudentCreated(StudentCreated { student: student.id, name, year, level: "havo".into() }),
    );
    let class = Uuid::from_u64_pair(student.id.as_u64_pair().0, 0xc1a5_5000 + u64::from(student.class));
    let class_name = format!("{}H{}", year, student.class % 4 + 1);
    w.emit(student.id, 2, t + 1, DomainEvent::ClassAssigned(ClassAssigned { student: student.id, class, class_name }));
    student.student_version = 2;
}

fn practice(
    student: &mut Student,
    curriculum: &Curriculum,
    rng: &mut SmallRng,
    mut t: i64,
    client: Client,
    w: &mut Writer<'_>,
) -> i64 {
    let course = &curriculum.courses[usize::from(student.course) % curriculum.courses.len()];
    let chapter = &course.chapters[usize::from(student.chapter)];
    let section = &chapter.sections[usize::from(student.section)];
    let stream = section_test_stream(student.stream_key(), section.id);
    if student.test_version == 0 {
        student.test_version = 1;
        let started = SectionTestStarted {
            student: student.id,
            chapter: chapter.id,
            section: section.id,
            client: client.clone(),
        };
        w.emit(stream, 1, t, DomainEvent::SectionTestStarted(started));
    }
    let questions = 1 + geometric(rng, MEAN_QUESTIONS_PER_SESSION - 1.0);
    for _ in 0..questions {
        let q = &section.questions[rng.random_range(0..section.questions.len())];
        t += seconds(rng, 4.0);
        student.test_version += 1;
        let assigned = QuestionAssigned {
            student: student.id,
            section: section.id,
            question: q.id,
            index: u32::from(student.test_answered),
            client: client.clone(),
        };
        w.emit(stream, student.test_version, t, DomainEvent::QuestionAssigned(assigned));
        let duration = seconds(rng, 22.0);
        t += duration;
        let correct = rng.random::<f32>() < logistic(student.ability - q.difficulty);
        let answer =
            if correct { q.answer.clone() } else { q.mistakes[geometric(rng, 1.0).min(q.mistakes.len() - 1)].clone() };
        let answered = QuestionAnswered {
            student: student.id,
            section: section.id,
            question: q.id,
            answer,
            duration_ms: (duration / 1000) as u32,
        };
        student.test_version += 1;
        let event = if correct {
            DomainEvent::QuestionAnsweredCorrectly(answered)
        } else {
            DomainEvent::QuestionAnsweredIncorrectly(answered)
        };
        w.emit(stream, student.test_version, t, event);
        student.test_answered += 1;
        student.test_correct += u8::from(correct);
        if !correct && rng.random_bool(EXPLANATION_CHANCE) {
            let read = seconds(rng, 35.0);
            t += read;
            student.test_version += 1;
            let e = ExplanationRead {
                student: student.id,
                section: section.id,
                question: q.id,
                duration_ms: (read / 1000) as u32,
            };
            w.emit(stream, student.test_version, t, DomainEvent::ExplanationRead(e));
        }
        if student.test_answered >= QUESTIONS_PER_TEST {
            t += 1_000_000;
            student.test_version += 1;
            let finished = SectionTestFinished {
                student: student.id,
                section: section.id,
                correct: u32::from(student.test_correct),
                incorrect: u32::from(student.test_answered - student.test_correct),
            };
            w.emit(stream, student.test_version, t, DomainEvent::SectionTestFinished(finished));
            student.section += 1;
            student.test_version = 0;
            student.test_answered = 0;
            student.test_correct = 0;
            break;
        }
    }
    t
}

fn quiz(
    student: &mut Student,
    curriculum: &Curriculum,
    rng: &mut SmallRng,
    mut t: i64,
    client: Client,
    w: &mut Writer<'_>,
) -> i64 {
    let course = &curriculum.courses[usize::from(student.course) % curriculum.courses.len()];
    let chapter = &course.chapters[usize::from(student.chapter)];
    let stream = chapter_quiz_stream(student.stream_key(), chapter.id);
    student.quiz_version += 1;
    let started = ChapterQuizStarted {
        student: student.id,
        chapter: chapter.id,
        questions: QUIZ_QUESTIONS,
        client: client.clone(),
    };
    w.emit(stream, student.quiz_version, t, DomainEvent::ChapterQuizStarted(started));
    let mut score = 0;
    for _ in 0..QUIZ_QUESTIONS {
        let section = &chapter.sections[rng.random_range(0..chapter.sections.len())];
        let q = &section.questions[rng.random_range(0..section.questions.len())];
        t += seconds(rng, 30.0);
        let correct = rng.random::<f32>() < logistic(student.ability - q.difficulty);
        score += u32::from(correct);
        let answer = if correct { q.answer.clone() } else { q.mistakes[0].clone() };
        student.quiz_version += 1;
        let e = QuizQuestionAnswered { student: student.id, chapter: chapter.id, question: q.id, answer, correct };
        w.emit(stream, student.quiz_version, t, DomainEvent::QuizQuestionAnswered(e));
    }
    t += 2_000_000;
    student.quiz_version += 1;
    let ended = ChapterQuizEnded { student: student.id, chapter: chapter.id, score, questions: QUIZ_QUESTIONS, client };
    if score >= QUIZ_PASS {
        w.emit(stream, student.quiz_version, t, DomainEvent::ChapterQuizPassed(ended));
        student.chapter += 1;
        student.section = 0;
        student.quiz_version = 0;
        if usize::from(student.chapter) >= course.chapters.len() {
            // Course done: on to the next one, in a new round of streams.
            student.chapter = 0;
            student.course = (student.course + 1) % curriculum.courses.len() as u16;
            student.round += 1;
        }
    } else {
        w.emit(stream, student.quiz_version, t, DomainEvent::ChapterQuizFailed(ended));
    }
    t
}

/// P(correct) for ability minus difficulty.
fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + (-1.3 * (x + 0.7)).exp())
}

/// A geometric count with the given mean (0, 1, 2, …).
fn geometric(rng: &mut SmallRng, mean: f64) -> usize {
    let p = 1.0 / (1.0 + mean);
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    (u.ln() / (1.0 - p).ln()) as usize
}

/// A duration in microseconds around `median_s` seconds (lognormal, σ 0.6).
fn seconds(rng: &mut SmallRng, median_s: f64) -> i64 {
    let z: f64 = rng.sample(rand_distr::StandardNormal);
    (median_s * (0.6 * z).exp() * 1e6) as i64
}
