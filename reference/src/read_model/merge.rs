//! Merging read models: schools' models combine into the whole.
//!
//! Every field combines with a commutative, associative operation (sum, or, max), so merge
//! is too, whatever the models hold; the property tests check it. Schools' models never share
//! students, so for them merge is simply the union, with question statistics added up.

use std::collections::hash_map::Entry;
use std::hash::Hash;

use rustc_hash::FxHashMap;

use super::model::{QuizState, ReadModel, SectionProgress, StudentView};

impl ReadModel {
    /// Combines two models into one.
    pub fn merge(mut self, other: ReadModel) -> ReadModel {
        union(&mut self.students, other.students, merge_student);
        union(&mut self.questions, other.questions, |a, b| {
            a.attempts += b.attempts;
            a.correct += b.correct;
            union(&mut a.wrong_answers, b.wrong_answers, |x, y| *x += y);
        });
        union(&mut self.active_per_day, other.active_per_day, |a, b| {
            for (day, n) in b {
                *a.entry(day).or_default() += n;
            }
        });
        union(&mut self.sections, other.sections, keep_max);
        union(&mut self.courses, other.courses, keep_max);
        union(&mut self.after_mistakes, other.after_mistakes, |a, b| {
            a.answers += b.answers;
            a.explained += b.explained;
            a.explained_right += b.explained_right;
            a.unexplained_right += b.unexplained_right;
        });
        self.events += other.events;
        self
    }
}

fn union<K: Eq + Hash, V>(into: &mut FxHashMap<K, V>, from: FxHashMap<K, V>, combine: impl Fn(&mut V, V)) {
    // Merge the smaller map into the larger one.
    let (mut into_map, from_map) =
        if into.len() >= from.len() { (std::mem::take(into), from) } else { (from, std::mem::take(into)) };
    for (k, v) in from_map {
        match into_map.entry(k) {
            Entry::Occupied(mut e) => combine(e.get_mut(), v),
            Entry::Vacant(e) => {
                e.insert(v);
            }
        }
    }
    *into = into_map;
}

fn keep_max<V: Ord>(a: &mut V, b: V) {
    if b > *a {
        *a = b;
    }
}

fn merge_student(a: &mut StudentView, b: StudentView) {
    match (&mut a.account, b.account) {
        (Some(x), Some(y)) => keep_max(x, y),
        (slot @ None, y) => *slot = y,
        (Some(_), None) => {}
    }
    union(&mut a.sections, b.sections, merge_section);
    union(&mut a.quizzes, b.quizzes, merge_quiz);
    a.practice_us += b.practice_us;
    a.last_active_us = a.last_active_us.max(b.last_active_us);
}

fn merge_section(a: &mut SectionProgress, b: SectionProgress) {
    a.current_question = a.current_question.max(b.current_question);
    a.assigned += b.assigned;
    a.correct += b.correct;
    a.incorrect += b.incorrect;
    a.explanations += b.explanations;
    a.finished |= b.finished;
    a.started_us = earliest(a.started_us, b.started_us);
    a.mastered_us = earliest(a.mastered_us, b.mastered_us);
    a.after_mistake |= b.after_mistake;
    a.explained |= b.explained;
}

/// The earlier of two optional times (either, if only one is set).
fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn merge_quiz(a: &mut QuizState, b: QuizState) {
    a.progress += b.progress;
    a.correct += b.correct;
    a.attempts += b.attempts;
    a.passed |= b.passed;
}
