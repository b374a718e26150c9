//! Schools and students: skewed school sizes, classes, abilities and activity.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal};
use uuid::Uuid;

/// School sizes drawn from a lognormal (σ 0.8) and scaled to total `students`; every school
/// has at least 20 students.
pub fn school_sizes(seed: u64, schools: u32, students: u32) -> Vec<u32> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5c_4001);
    let dist = LogNormal::new(0.0, 0.8).expect("valid lognormal");
    let raw: Vec<f64> = (0..schools).map(|_| dist.sample(&mut rng)).collect();
    let floor = 20u32.min(students / schools.max(1));
    let spare = f64::from(students - floor * schools);
    let total: f64 = raw.iter().sum();
    let mut sizes: Vec<u32> = raw.iter().map(|r| floor + (r / total * spare) as u32).collect();
    // Hand out what rounding lost to the largest schools first.
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| raw[b].total_cmp(&raw[a]));
    let mut missing = students - sizes.iter().sum::<u32>();
    for &i in order.iter().cycle() {
        if missing == 0 {
            break;
        }
        sizes[i] += 1;
        missing -= 1;
    }
    sizes
}

/// One student's lasting traits and progress. Small: the generator keeps every student.
#[derive(Debug, Clone)]
pub struct Student {
    /// The student's id.
    pub id: Uuid,
    /// Item-response ability.
    pub ability: f32,
    /// The student's class within the school.
    pub class: u16,
    /// The course the student follows.
    pub course: u16,
    /// Courses completed; streams of a later round differ from the first's.
    pub round: u16,
    /// Current chapter.
    pub chapter: u16,
    /// Current section within the chapter.
    pub section: u16,
    /// Whether `Student/Created` was recorded.
    pub created: bool,
    /// The agreement revision last accepted.
    pub agreement: u32,
    /// Version of the student's own stream.
    pub student_version: u32,
    /// Version of the current section test's stream (0: not started).
    pub test_version: u32,
    /// Questions answered in the current test.
    pub test_answered: u8,
    /// Correct answers in the current test.
    pub test_correct: u8,
    /// Version of the current chapter quiz's stream.
    pub quiz_version: u32,
}

/// The students of one school, with a cumulative activity distribution to draw sessions from.
#[derive(Debug, Clone)]
pub struct Roster {
    /// The students.
    pub students: Vec<Student>,
    /// Cumulative activity weights (some students practise far more than others).
    pub activity: Vec<f32>,
    /// Classes, fixed at the school's founding size; newcomers join them in turn.
    classes: u32,
}

impl Student {
    /// The identity the student's test and quiz streams derive from in the current round.
    pub fn stream_key(&self) -> Uuid {
        if self.round == 0 {
            return self.id;
        }
        let (hi, lo) = self.id.as_u64_pair();
        let r = u64::from(self.round);
        Uuid::from_u64_pair(super::splitmix(hi ^ r.rotate_left(17)), super::splitmix(lo ^ r))
    }
}

impl Roster {
    /// `size` students of `school`, following one of `courses` courses per class.
    pub fn new(rng: &mut SmallRng, school: i32, size: u32, courses: usize) -> Self {
        let mut roster =
            Self { students: Vec::with_capacity(size as usize), activity: Vec::new(), classes: (size / 28).max(1) };
        roster.enrol(rng, school, size, courses);
        roster
    }

    /// Adds `n` new students to the school's classes; they record `Student/Created` when
    /// they first practise.
    pub fn enrol(&mut self, rng: &mut SmallRng, school: i32, n: u32, courses: usize) {
        let ability = Normal::new(0.0f32, 1.0).expect("valid normal");
        let activity = LogNormal::new(0.0f32, 0.7).expect("valid lognormal");
        let classes = self.classes;
        let mut acc = self.activity.last().copied().unwrap_or(0.0);
        let first = self.students.len() as u32;
        let weights = &mut self.activity;
        let students = (first..first + n).map(|i| {
            acc += activity.sample(rng);
            weights.push(acc);
            let class = (i % classes) as u16;
            Student {
                id: Uuid::from_u64_pair(0x5700_0000_0000_0000 | u64::from(school.unsigned_abs()), u64::from(i)),
                ability: ability.sample(rng),
                class,
                course: ((school.unsigned_abs() as usize * 7 + class as usize) % courses) as u16,
                round: 0,
                chapter: rng.random_range(0..3),
                section: 0,
                created: false,
                agreement: 0,
                student_version: 0,
                test_version: 0,
                test_answered: 0,
                test_correct: 0,
                quiz_version: 0,
            }
        });
        self.students.extend(students);
    }

    /// Draws a student, weighted by activity.
    pub fn pick(&self, rng: &mut SmallRng) -> usize {
        let total = *self.activity.last().unwrap_or(&1.0);
        let u = rng.random::<f32>() * total;
        self.activity.partition_point(|&c| c < u).min(self.students.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_skewed_and_add_up() {
        let sizes = school_sizes(1, 250, 100_000);
        assert_eq!(sizes.iter().sum::<u32>(), 100_000);
        assert!(sizes.iter().all(|&s| s >= 20));
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max / min >= 5, "not skewed: {min}..{max}");
    }
}
