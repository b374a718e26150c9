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
    /// When the student first started the section's test, µs (v2 handlers only).
    pub started_us: Option<i64>,
    /// When the student first finished it, µs: mastered (v2 handlers only).
    pub mastered_us: Option<i64>,
    /// The last answer was wrong (v2 handlers only).
    pub after_mistake: bool,
    /// An explanation was read since that wrong answer (v2 handlers only).
    pub explained: bool,
}

impl SectionProgress {
    /// Time from first start to mastery, µs, once mastered.
    pub fn time_to_master_us(&self) -> Option<i64> {
        Some(self.mastered_us? - self.started_us?)
    }
}

/// What followed a wrong answer in one section, across students (v2 handlers only): the talk's
/// "how often is the explanation read after a mistake, and does it help?".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AfterMistakes {
    /// Answers given right after a wrong answer.
    pub answers: u64,
    /// Of those, answers with an explanation read in between.
    pub explained: u64,
    /// Of the explained ones, answers that were right.
    pub explained_right: u64,
    /// Of the others, answers that were right.
    pub unexplained_right: u64,
}

impl AfterMistakes {
    /// Share of answers after a mistake with an explanation read first.
    pub fn explained_share(&self) -> f64 {
        ratio(self.explained, self.answers)
    }

    /// Share right after reading an explanation, and without one.
    pub fn right_shares(&self) -> (f64, f64) {
        (ratio(self.explained_right, self.explained), ratio(self.unexplained_right, self.answers - self.explained))
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// How long a section took its students to master, µs: the quick learners' quartile, the
/// median and the slow learners' quartile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mastery {
    /// Students who mastered it.
    pub students: usize,
    /// A quarter of them took this long or less.
    pub quick_us: i64,
    /// Half of them.
    pub median_us: i64,
    /// Three quarters of them; the rest, the slow learners, took longer.
    pub slow_us: i64,
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
    /// What followed wrong answers, per section (v2 handlers only).
    pub after_mistakes: FxHashMap<Uuid, AfterMistakes>,
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

    /// Quick and slow learners of `section`: the quartiles of the time its students took from
    /// first starting its test to finishing it. `None` when nobody mastered it.
    pub fn mastery(&self, section: Uuid) -> Option<Mastery> {
        let mut times: Vec<i64> =
            self.students.values().filter_map(|s| s.sections.get(&section)?.time_to_master_us()).collect();
        if times.is_empty() {
            return None;
        }
        times.sort_unstable();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        Some(Mastery { students: times.len(), quick_us: at(0.25), median_us: at(0.5), slow_us: at(0.75) })
    }

    /// Total practice time of all students, in hours.
    pub fn practice_hours(&self) -> f64 {
        self.students.values().map(|s| s.practice_us).sum::<i64>() as f64 / 3.6e9
    }
}
