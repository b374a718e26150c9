//! The read model: what dashboards need, in plain in-memory maps.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use uuid::Uuid;

use crate::event::School;

/// A student's account.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Account {
    /// Display name.
    pub name: String,
    /// School year.
    pub year: u8,
    /// Level.
    pub level: String,
    /// Current class.
    pub class: Option<Uuid>,
    /// Last accepted agreement revision.
    pub agreement: u32,
}

/// A student's progress on one section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SectionProgress {
    /// The question currently assigned.
    pub current_question: Option<Uuid>,
    /// Questions assigned so far (the progress).
    pub assigned: u32,
    /// Correct answers.
    pub correct: u32,
    /// Incorrect answers.
    pub incorrect: u32,
    /// Explanations read.
    pub explanations: u32,
    /// Whether the section is finished.
    pub finished: bool,
}

/// A student's chapter quiz.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuizState {
    /// Questions answered in the current attempt (reset by a failure).
    pub progress: u32,
    /// Correct answers in the current attempt.
    pub correct: u32,
    /// Attempts started.
    pub attempts: u32,
    /// Whether it was passed.
    pub passed: bool,
}

/// Everything about one student in one school.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudentView {
    /// The account, once created.
    pub account: Option<Account>,
    /// Progress per section.
    pub sections: FxHashMap<Uuid, SectionProgress>,
    /// Quiz per chapter.
    pub quizzes: FxHashMap<Uuid, QuizState>,
    /// Time spent practising, in µs (v2 handlers only).
    pub practice_us: i64,
    /// When the student was last active, in µs (v2 handlers only).
    pub last_active_us: i64,
}

/// Attempts on one question, across schools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuestionStats {
    /// Answers given.
    pub attempts: u64,
    /// Correct answers.
    pub correct: u64,
    /// How often each wrong answer was given.
    pub wrong_answers: FxHashMap<String, u64>,
}

impl QuestionStats {
    /// Share of attempts that were correct.
    pub fn correct_ratio(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            self.correct as f64 / self.attempts as f64
        }
    }

    /// The most common wrong answers, most common first (ties by answer).
    pub fn common_mistakes(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.wrong_answers.iter().map(|(a, c)| (a.as_str(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
}

/// Where a section sits in the course material.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SectionInfo {
    /// Its course.
    pub course: Uuid,
    /// Its chapter.
    pub chapter: Uuid,
    /// Its title.
    pub title: String,
    /// Number of questions.
    pub questions: u32,
}

/// The whole read model. A school's model holds that school's students plus the course
/// material; the whole model is the merge of the schools' models.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadModel {
    /// Students by (school, student).
    pub students: FxHashMap<(School, Uuid), StudentView>,
    /// Question statistics across schools.
    pub questions: FxHashMap<Uuid, QuestionStats>,
    /// Active students per day (days since the Unix epoch), per school (v2 handlers only).
    pub active_per_day: FxHashMap<School, BTreeMap<i32, u32>>,
    /// Course material: sections by id.
    pub sections: FxHashMap<Uuid, SectionInfo>,
    /// Course material: course titles by id.
    pub courses: FxHashMap<Uuid, String>,
    /// Events folded in.
    pub events: u64,
}

impl ReadModel {
    /// The hardest questions: lowest correct ratio among those with at least `min_attempts`.
    pub fn hardest_questions(&self, n: usize, min_attempts: u64) -> Vec<(Uuid, f64)> {
        let mut v: Vec<(Uuid, f64)> = self
            .questions
            .iter()
            .filter(|(_, s)| s.attempts >= min_attempts)
            .map(|(q, s)| (*q, s.correct_ratio()))
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Total practice time of all students, in hours.
    pub fn practice_hours(&self) -> f64 {
        self.students.values().map(|s| s.practice_us).sum::<i64>() as f64 / 3.6e9
    }
}
