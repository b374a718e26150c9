//! A stable digest of a whole read model, so two rebuilds compare cheaply.

use sha2::{Digest, Sha256};

use super::model::ReadModel;

/// Feeds values into the hash with lengths, so different shapes never collide by accident.
struct Hasher(Sha256);

impl Hasher {
    fn u64(&mut self, v: u64) {
        self.0.update(v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.update(v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.update(b);
    }
    fn uuid(&mut self, u: &uuid::Uuid) {
        self.0.update(u.as_bytes());
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => {
                self.u64(1);
                self.i64(v);
            }
            None => self.u64(0),
        }
    }
    fn opt_uuid(&mut self, u: &Option<uuid::Uuid>) {
        match u {
            Some(u) => {
                self.u64(1);
                self.uuid(u);
            }
            None => self.u64(0),
        }
    }
}

fn sorted<K: Ord + Clone, V>(map: impl IntoIterator<Item = (K, V)>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = map.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

impl ReadModel {
    /// Hex SHA-256 of the model's content in a canonical order. Equal models give equal
    /// digests, whatever order their events were folded or merged in. Every collection is
    /// prefixed with its length and every string with its byte length, so two different
    /// models cannot feed the hash the same bytes (moving an entry from one collection to the
    /// next would otherwise hash alike).
    pub fn digest(&self) -> String {
        let mut h = Hasher(Sha256::new());
        h.u64(self.events);
        h.u64(self.students.len() as u64);
        for ((school, id), s) in sorted(self.students.iter().map(|(k, v)| (*k, v))) {
            h.i64(i64::from(school));
            h.uuid(&id);
            match &s.account {
                Some(a) => {
                    h.u64(1);
                    h.bytes(a.name.as_bytes());
                    h.u64(u64::from(a.year));
                    h.bytes(a.level.as_bytes());
                    h.opt_uuid(&a.class);
                    h.u64(u64::from(a.agreement));
                }
                None => h.u64(0),
            }
            h.u64(s.sections.len() as u64);
            for (sec, p) in sorted(s.sections.iter().map(|(k, v)| (*k, v))) {
                h.uuid(&sec);
                h.opt_uuid(&p.current_question);
                for n in [p.assigned, p.correct, p.incorrect, p.explanations, u32::from(p.finished)] {
                    h.u64(u64::from(n));
                }
                h.opt_i64(p.started_us);
                h.opt_i64(p.mastered_us);
                h.u64(u64::from(p.after_mistake));
                h.u64(u64::from(p.explained));
            }
            h.u64(s.quizzes.len() as u64);
            for (ch, q) in sorted(s.quizzes.iter().map(|(k, v)| (*k, v))) {
                h.uuid(&ch);
                for n in [q.progress, q.correct, q.attempts, u32::from(q.passed)] {
                    h.u64(u64::from(n));
                }
            }
            h.i64(s.practice_us);
            h.i64(s.last_active_us);
        }
        h.u64(self.questions.len() as u64);
        for (q, st) in sorted(self.questions.iter().map(|(k, v)| (*k, v))) {
            h.uuid(&q);
            h.u64(st.attempts);
            h.u64(st.correct);
            h.u64(st.wrong_answers.len() as u64);
            for (answer, n) in sorted(st.wrong_answers.iter().map(|(k, v)| (k.clone(), *v))) {
                h.bytes(answer.as_bytes());
                h.u64(n);
            }
        }
        h.u64(self.active_per_day.len() as u64);
        for (school, days) in sorted(self.active_per_day.iter().map(|(k, v)| (*k, v))) {
            h.i64(i64::from(school));
            h.u64(days.len() as u64);
            for (day, n) in days {
                h.i64(i64::from(*day));
                h.u64(u64::from(*n));
            }
        }
        h.u64(self.sections.len() as u64);
        for (sec, info) in sorted(self.sections.iter().map(|(k, v)| (*k, v))) {
            h.uuid(&sec);
            h.uuid(&info.course);
            h.uuid(&info.chapter);
            h.bytes(info.title.as_bytes());
            h.u64(u64::from(info.questions));
        }
        h.u64(self.courses.len() as u64);
        for (course, title) in sorted(self.courses.iter().map(|(k, v)| (*k, v))) {
            h.uuid(&course);
            h.bytes(title.as_bytes());
        }
        h.u64(self.after_mistakes.len() as u64);
        for (section, m) in sorted(self.after_mistakes.iter().map(|(k, v)| (*k, *v))) {
            h.uuid(&section);
            for n in [m.answers, m.explained, m.explained_right, m.unexplained_right] {
                h.u64(n);
            }
        }
        h.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_model::QuestionStats;

    /// Without a length before each collection, a wrong answer whose bytes spell a school and a
    /// day (length 8 reads as school 8, "0000\0\0\0\0" as day 0x30303030) hashed exactly like
    /// an active-per-day entry with no wrong answer.
    #[test]
    fn an_entry_moved_from_one_collection_to_the_next_changes_the_digest() {
        let question = uuid::Uuid::from_u128(1);
        let mut a = ReadModel::default();
        a.questions.insert(question, QuestionStats::default());
        a.active_per_day.insert(8, [(0x3030_3030, 5)].into_iter().collect());

        let mut b = ReadModel::default();
        let mut stats = QuestionStats::default();
        stats.wrong_answers.insert("0000\0\0\0\0".into(), 5);
        b.questions.insert(question, stats);

        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), a.clone().digest(), "the digest is a function of the model");
    }
}
