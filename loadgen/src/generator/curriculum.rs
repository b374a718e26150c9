//! Course material: courses → chapters → sections → questions, each question with a
//! difficulty and its typical mistakes. It lives in the global (non-school) partition.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use stroom_reference::domain::{CoursePublished, DomainEvent, SectionAdded};
use uuid::Uuid;

/// Sections a chapter has.
pub const SECTIONS_PER_CHAPTER: usize = 5;
/// Questions a section has.
pub const QUESTIONS_PER_SECTION: usize = 24;

const SUBJECTS: &[&str] = &["wiskunde", "natuurkunde", "scheikunde", "biologie", "economie", "aardrijkskunde"];
const LEVELS: &[&str] = &["vmbo", "havo", "vwo"];

/// One question.
#[derive(Debug, Clone)]
pub struct Question {
    /// Its id.
    pub id: Uuid,
    /// Item-response difficulty, about -2.5..2.5.
    pub difficulty: f32,
    /// The right answer.
    pub answer: String,
    /// Typical wrong answers, most common first.
    pub mistakes: Vec<String>,
}

/// One section of a chapter.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its id.
    pub id: Uuid,
    /// Its questions.
    pub questions: Vec<Question>,
}

/// One chapter of a course; its quiz draws on its sections' questions.
#[derive(Debug, Clone)]
pub struct Chapter {
    /// Its id.
    pub id: Uuid,
    /// Its sections, in order.
    pub sections: Vec<Section>,
}

/// One course (a subject at a level).
#[derive(Debug, Clone)]
pub struct Course {
    /// Its id.
    pub id: Uuid,
    /// e.g. `wiskunde havo`.
    pub title: String,
    /// The subject.
    pub subject: &'static str,
    /// Its chapters, in order.
    pub chapters: Vec<Chapter>,
}

/// All course material.
#[derive(Debug, Clone)]
pub struct Curriculum {
    /// The courses.
    pub courses: Vec<Course>,
}

impl Curriculum {
    /// Generates `chapters` chapters for every subject at every level.
    pub fn generate(seed: u64, chapters: usize) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0xc0_55e5);
        let difficulty = Normal::new(0.0f32, 1.0).expect("valid normal");
        let mut n = 0u64;
        let mut next_id = || {
            n += 1;
            Uuid::from_u64_pair(0x00c0_75e0_0000_0000 | (seed & 0xffff_ffff), n)
        };
        let mut courses = Vec::new();
        for level in LEVELS {
            for &subject in SUBJECTS {
                let course = Course {
                    id: next_id(),
                    title: format!("{subject} {level}"),
                    subject,
                    chapters: (0..chapters)
                        .map(|_| Chapter {
                            id: next_id(),
                            sections: (0..SECTIONS_PER_CHAPTER)
                                .map(|_| Section {
                                    id: next_id(),
                                    questions: (0..QUESTIONS_PER_SECTION)
                                        .map(|_| Question {
                                            id: next_id(),
                                            difficulty: difficulty.sample(&mut rng).clamp(-2.5, 2.5),
                                            answer: format!("{}", rng.random_range(-99..999)),
                                            mistakes: (0..rng.random_range(3..=5))
                                                .map(|_| format!("{}", rng.random_range(-99..999)))
                                                .collect(),
                                        })
                                        .collect(),
                                })
                                .collect(),
                        })
                        .collect(),
                };
                courses.push(course);
            }
        }
        Self { courses }
    }

    /// The events that publish the material: `Course/Published`, then its sections.
    pub fn events(&self) -> Vec<(Uuid, DomainEvent)> {
        let mut out = Vec::new();
        for c in &self.courses {
            out.push((
                c.id,
                DomainEvent::CoursePublished(CoursePublished {
                    course: c.id,
                    title: c.title.clone(),
                    subject: c.subject.to_string(),
                    chapters: c.chapters.iter().map(|ch| ch.id).collect(),
                }),
            ));
            for (ci, ch) in c.chapters.iter().enumerate() {
                for (si, s) in ch.sections.iter().enumerate() {
                    out.push((
                        c.id,
                        DomainEvent::SectionAdded(SectionAdded {
                            course: c.id,
                            chapter: ch.id,
                            section: s.id,
                            title: format!("{} {}.{}", c.title, ci + 1, si + 1),
                            questions: s.questions.iter().map(|q| (q.id, q.difficulty)).collect(),
                        }),
                    ));
                }
            }
        }
        out
    }
}
