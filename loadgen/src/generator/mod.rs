//! The synthetic school workload: 250 schools and 100,000 students by default, producing
//! about 1.2M events per school day, the same bytes for the same seed at any thread count.
//!
//! Each school has its own random stream derived from the seed and its own students' state,
//! and is generated day by day; schools are spread over threads and collected in school order.
//! Memory holds the population and one day, never the history.

mod calendar;
mod curriculum;
mod growth;
mod population;
mod session;
mod summary;

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Poisson};
use stroom_reference::domain::DomainEvent;
use stroom_reference::{School, StoredEvent, GLOBAL_SCHOOL};
use uuid::Uuid;

pub use calendar::{day_kind, DayKind, DAY_SECS, START_UNIX_SECS};
pub use curriculum::Curriculum;
pub use growth::{Growth, PUBLISHED};
pub use summary::Summary;

use calendar::SlotSampler;
use population::{school_sizes, Roster};
use session::{session, Writer};

/// School days in a simulated year (the calendar's 364 days hold about 195).
const SCHOOL_DAYS_PER_YEAR: f64 = 195.0;

/// The day the user agreement was revised; acceptances before it carry no revision.
pub const AGREEMENT_REVISION_DAY: u32 = 365;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    /// Seed for everything.
    pub seed: u64,
    /// Number of schools (1, 2, … ; school 0 is the global partition).
    pub schools: u32,
    /// Students across all schools.
    pub students: u32,
    /// Target events on an average school day, across all schools.
    pub events_per_school_day: f64,
    /// Chapters per course.
    pub chapters: usize,
    /// Follow the published growth curve, scaled by this factor, instead of a steady volume.
    pub growth: Option<f64>,
    /// New students a year, as a share of each school's founding size, arriving on school
    /// days. The day's volume stays as calibrated; newcomers take their share of it.
    pub enrolment_per_year: f64,
    /// Worker threads.
    pub threads: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            schools: 250,
            students: 100_000,
            events_per_school_day: 1.2e6,
            chapters: 8,
            growth: None,
            enrolment_per_year: 0.15,
            threads: 1,
        }
    }
}

/// One generated event, with its stream coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedEvent {
    /// The school (0 for course material).
    pub school: School,
    /// The aggregate.
    pub stream: Uuid,
    /// Version in the stream.
    pub version: i64,
    /// Unique id.
    pub id: Uuid,
    /// When it happened, µs since the Unix epoch.
    pub recorded_at_us: i64,
    /// The event.
    pub event: DomainEvent,
    /// Stored in its pre-revision form (an agreement without `revision`).
    pub legacy: bool,
}

impl GeneratedEvent {
    /// The payload as stored.
    pub fn payload(&self) -> String {
        match (&self.event, self.legacy) {
            (DomainEvent::AgreementAccepted(a), true) => format!(r#"{{"student":"{}"}}"#, a.student),
            (e, _) => e.encode(),
        }
    }

    /// The event as a one-event append that expects the stream's previous version.
    pub fn to_append(&self) -> stroom_reference::Append {
        stroom_reference::Append {
            school: self.school,
            stream: self.stream,
            expected_version: self.version - 1,
            events: vec![stroom_reference::NewEvent {
                id: self.id,
                event_type: self.event.event_type().to_string(),
                recorded_at_us: self.recorded_at_us,
                payload: self.payload(),
                metadata: "{}".into(),
            }],
        }
    }

    /// The row the store's bulk path writes.
    pub fn to_stored(&self) -> StoredEvent {
        StoredEvent {
            id: self.id,
            school: self.school,
            stream: self.stream,
            version: self.version,
            event_type: self.event.event_type().to_string(),
            recorded_at_us: self.recorded_at_us,
            payload: self.payload(),
            metadata: "{}".to_string(),
        }
    }
}

/// One simulated day's events, per school in school order.
#[derive(Debug)]
pub struct SimulatedDay {
    /// Day index from the start.
    pub day: u32,
    /// What kind of day it was.
    pub kind: DayKind,
    /// Each school's events in time order.
    pub schools: Vec<(School, Vec<GeneratedEvent>)>,
}

impl SimulatedDay {
    /// Events across all schools.
    pub fn len(&self) -> usize {
        self.schools.iter().map(|(_, e)| e.len()).sum()
    }

    /// Whether no school produced anything.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct SchoolState {
    school: School,
    rng: SmallRng,
    roster: Roster,
    /// Students at the start; the school's share of the volume follows it.
    founded: usize,
    next_event: u64,
    id_base: u64,
}

/// The generator: call [`Generator::next_day`] repeatedly.
pub struct Generator {
    config: GeneratorConfig,
    curriculum: Arc<Curriculum>,
    schools: Vec<SchoolState>,
    sessions_per_student: f64,
    growth: Option<(Growth, f64)>,
    day: u32,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator").field("config", &self.config).field("day", &self.day).finish()
    }
}

impl Generator {
    /// Builds the population and calibrates the session rate to the target volume.
    pub fn new(config: GeneratorConfig) -> Self {
        let curriculum = Arc::new(Curriculum::generate(config.seed, config.chapters));
        let sizes = school_sizes(config.seed, config.schools, config.students);
        let schools = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let school = i as School + 1;
                let mut rng = SmallRng::seed_from_u64(splitmix(config.seed ^ (u64::from(school.unsigned_abs()) << 32)));
                let roster = Roster::new(&mut rng, school, size, curriculum.courses.len());
                SchoolState {
                    school,
                    rng,
                    founded: roster.students.len(),
                    roster,
                    next_event: 0,
                    id_base: splitmix(config.seed) ^ (u64::from(school.unsigned_abs()) << 40),
                }
            })
            .collect();
        let events_per_session = pilot_events_per_session(config.seed, &curriculum);
        let sessions_per_student = config.events_per_school_day / (f64::from(config.students) * events_per_session);
        let growth = config.growth.map(|scale| {
            let mean_weight = (0..364).map(|d| day_kind(d).weight()).sum::<f64>() / 364.0;
            (Growth::published(), scale / (config.events_per_school_day * mean_weight))
        });
        Self { config, curriculum, schools, sessions_per_student, growth, day: 0 }
    }

    /// The settings it runs with.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Practice sessions per student on a school day, as calibrated.
    pub fn sessions_per_student(&self) -> f64 {
        self.sessions_per_student
    }

    /// The course material's events, for the global partition (school 0).
    pub fn course_material(&self) -> Vec<GeneratedEvent> {
        let mut versions = std::collections::HashMap::new();
        let at = START_UNIX_SECS * 1_000_000 - 86_400_000_000;
        self.curriculum
            .events()
            .into_iter()
            .enumerate()
            .map(|(i, (stream, event))| {
                let v = versions.entry(stream).or_insert(0i64);
                *v += 1;
                GeneratedEvent {
                    school: GLOBAL_SCHOOL,
                    stream,
                    version: *v,
                    id: Uuid::from_u64_pair(splitmix(self.config.seed) ^ 0xc0, i as u64),
                    recorded_at_us: at + i as i64,
                    event,
                    legacy: false,
                }
            })
            .collect()
    }

    /// The schools, in order.
    pub fn schools(&self) -> Vec<School> {
        self.schools.iter().map(|s| s.school).collect()
    }

    /// Generates the next day for every school.
    pub fn next_day(&mut self) -> SimulatedDay {
        let day = self.day;
        self.day += 1;
        let kind = day_kind(day);
        let mut volume = kind.weight();
        if let Some((growth, per_event)) = &self.growth {
            volume *= growth.rate(f64::from(day)) * per_event;
        }
        let plan = DayPlan {
            day,
            rate: self.sessions_per_student * volume,
            sampler: SlotSampler::new(kind),
            revision: if day >= AGREEMENT_REVISION_DAY { 2 } else { 1 },
            curriculum: &self.curriculum,
            enrolment: if kind == DayKind::SchoolDay && day > 0 {
                self.config.enrolment_per_year / SCHOOL_DAYS_PER_YEAR
            } else {
                0.0
            },
        };
        let threads = self.config.threads.max(1);
        let chunk = self.schools.len().div_ceil(threads).max(1);
        let schools = std::thread::scope(|scope| {
            let plan = &plan;
            let handles: Vec<_> = self
                .schools
                .chunks_mut(chunk)
                .map(|part| scope.spawn(move || part.iter_mut().map(|s| (s.school, plan.run(s))).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("generator thread panicked")).collect()
        });
        SimulatedDay { day, kind, schools }
    }
}

struct DayPlan<'a> {
    day: u32,
    rate: f64,
    sampler: SlotSampler,
    revision: u32,
    curriculum: &'a Curriculum,
    /// Newcomers today per founding student.
    enrolment: f64,
}

impl DayPlan<'_> {
    fn run(&self, s: &mut SchoolState) -> Vec<GeneratedEvent> {
        let arriving = self.enrolment * s.founded as f64;
        if arriving > 0.0 {
            let n = Poisson::new(arriving).map(|p| p.sample(&mut s.rng) as u32).unwrap_or(0);
            s.roster.enrol(&mut s.rng, s.school, n, self.curriculum.courses.len());
        }
        let lambda = self.rate * s.founded as f64;
        let n = if lambda > 0.0 { Poisson::new(lambda).map(|p| p.sample(&mut s.rng) as usize).unwrap_or(0) } else { 0 };
        let mut sittings: Vec<(usize, i64)> = (0..n)
            .map(|_| {
                let student = s.roster.pick(&mut s.rng);
                let (u, w) = (s.rng.random::<f64>(), s.rng.random::<f64>());
                (student, self.sampler.second(u, w))
            })
            .collect();
        sittings.sort_unstable();
        let day_start = (START_UNIX_SECS + i64::from(self.day) * DAY_SECS) * 1_000_000;
        let mut out = Vec::with_capacity(n * 16);
        let mut writer = Writer { school: s.school, id_base: s.id_base, next_event: &mut s.next_event, out: &mut out };
        let mut previous: Option<(usize, i64)> = None;
        for (student, second) in sittings {
            let mut start = day_start + second * 1_000_000;
            // A student's sittings never overlap, so each stream's versions follow time.
            if let Some((p, end)) = previous {
                if p == student {
                    start = start.max(end + 60_000_000);
                }
            }
            let end = session(
                &mut s.roster.students[student],
                self.curriculum,
                &mut s.rng,
                start,
                self.revision,
                &mut writer,
            );
            previous = Some((student, end));
        }
        out.sort_by_key(|e| e.recorded_at_us);
        out
    }
}

/// Mean events per sitting of students already onboarded, measured on a pilot population.
fn pilot_events_per_session(seed: u64, curriculum: &Curriculum) -> f64 {
    let mut rng = SmallRng::seed_from_u64(splitmix(seed ^ 0x9170));
    let mut roster = Roster::new(&mut rng, -1, 500, curriculum.courses.len());
    for s in &mut roster.students {
        s.created = true;
        s.agreement = 1;
    }
    let (mut out, mut next) = (Vec::new(), 0u64);
    let mut w = Writer { school: -1, id_base: 0, next_event: &mut next, out: &mut out };
    const SITTINGS: usize = 20_000;
    for i in 0..SITTINGS {
        let student = i % roster.students.len();
        session(&mut roster.students[student], curriculum, &mut rng, 0, 1, &mut w);
    }
    out.len() as f64 / SITTINGS as f64
}

/// A 64-bit mixer for deriving independent seeds.
pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
