//! The workload generator: determinism, calibration, shape, validity and growth.

use std::collections::HashMap;

use stroom_loadgen::generator::{GeneratedEvent, Generator, GeneratorConfig, Summary, PUBLISHED};
use stroom_reference::domain::DomainEvent;
use uuid::Uuid;

fn small(threads: usize) -> GeneratorConfig {
    GeneratorConfig { schools: 12, students: 3_000, events_per_school_day: 40_000.0, threads, ..Default::default() }
}

#[test]
fn the_same_seed_gives_the_same_bytes_on_1_and_4_threads() {
    let (mut one, mut four) = (Generator::new(small(1)), Generator::new(small(4)));
    for _ in 0..3 {
        let (a, b) = (one.next_day(), four.next_day());
        assert!(!a.is_empty());
        assert_eq!(a.schools.len(), b.schools.len());
        for ((sa, ea), (sb, eb)) in a.schools.iter().zip(&b.schools) {
            assert_eq!(sa, sb);
            let bytes = |e: &Vec<GeneratedEvent>| e.iter().map(GeneratedEvent::to_stored).collect::<Vec<_>>();
            assert_eq!(bytes(ea), bytes(eb), "school {sa} differs");
        }
    }
    let first_id = |seed| Generator::new(GeneratorConfig { seed, ..small(1) }).next_day().schools[0].1[0].id;
    assert_ne!(first_id(7), first_id(42), "another seed gives other events");
}

#[test]
fn the_defaults_produce_the_target_volume_per_school_day() {
    let mut g = Generator::new(GeneratorConfig { threads: 2, ..Default::default() });
    let mut summary = Summary::default();
    g.next_day(); // day 0 also onboards every student
    for _ in 1..7 {
        summary.add(&g.next_day());
    }
    let per_day = summary.events_per_school_day();
    let target = g.config().events_per_school_day;
    assert!(target >= 1.1e6);
    assert!((per_day - target).abs() / target <= 0.10, "{per_day:.0} events per school day, target {target:.0}");
}

#[test]
fn the_hourly_profile_peaks_on_weekday_mornings() {
    let mut g = Generator::new(small(2));
    let mut weekday = Summary::default();
    for _ in 0..5 {
        weekday.add(&g.next_day());
    }
    let peak = (0..24).max_by_key(|&h| weekday.per_hour[h]).unwrap();
    assert!((9..=12).contains(&peak), "peak hour {peak}:00");
    let mut weekend = Summary::default();
    for _ in 0..2 {
        weekend.add(&g.next_day());
    }
    // Per day, a weekend has well under a fifth of a weekday's events.
    assert!(
        weekend.events * 5 * 5 < weekday.events * 2,
        "weekends are quiet: {} vs {}",
        weekend.events,
        weekday.events
    );
}

#[test]
fn streams_are_gapless_answers_follow_assignments_and_schools_stay_apart() {
    let mut g = Generator::new(small(2));
    let mut versions: HashMap<Uuid, i64> = HashMap::new();
    let mut owner: HashMap<Uuid, i32> = HashMap::new();
    let mut open: HashMap<Uuid, Uuid> = HashMap::new(); // test stream -> assigned question
    let mut answers = 0;
    for e in g.course_material() {
        let v = versions.entry(e.stream).or_default();
        assert_eq!(e.version, *v + 1);
        *v += 1;
    }
    for _ in 0..10 {
        let day = g.next_day();
        for (school, events) in &day.schools {
            assert!(events.windows(2).all(|w| w[0].recorded_at_us <= w[1].recorded_at_us), "time order");
            for e in events {
                assert_eq!(e.school, *school, "an event left its school");
                assert_eq!(*owner.entry(e.stream).or_insert(*school), *school, "a stream spans schools");
                let v = versions.entry(e.stream).or_default();
                assert_eq!(e.version, *v + 1, "gap in stream {}", e.stream);
                *v += 1;
                match &e.event {
                    DomainEvent::QuestionAssigned(q) => {
                        open.insert(e.stream, q.question);
                    }
                    DomainEvent::QuestionAnsweredCorrectly(a) | DomainEvent::QuestionAnsweredIncorrectly(a) => {
                        assert_eq!(open.remove(&e.stream), Some(a.question), "an answer without its assignment");
                        answers += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(answers > 10_000, "{answers}");
}

#[test]
fn growth_reproduces_the_published_history_at_a_hundredth_of_the_scale() {
    let scale = 1e-2;
    let mut g = Generator::new(GeneratorConfig {
        schools: 10,
        students: 1_000,
        growth: Some(scale),
        threads: 2,
        ..Default::default()
    });
    let mut total = 0u64;
    let mut checkpoints = PUBLISHED.iter().peekable();
    for day in 1..=888u32 {
        total += g.next_day().len() as u64;
        if let Some(&&(at, cumulative)) = checkpoints.peek() {
            if day == at {
                let want = cumulative * scale;
                assert!((total as f64 - want).abs() / want < 0.05, "day {day}: {total} events, want {want:.0}");
                checkpoints.next();
            }
        }
    }
    assert!(checkpoints.next().is_none());
}

#[test]
fn new_students_arrive_over_the_year_and_the_volume_stays_calibrated() {
    // 2 schools of 50, everyone active: by day 60 each founding student has been created.
    let config = GeneratorConfig {
        schools: 2,
        students: 100,
        events_per_school_day: 20_000.0,
        enrolment_per_year: 0.5,
        ..small(1)
    };
    let mut g = Generator::new(config);
    let mut created = std::collections::HashSet::new();
    let (mut early, mut late) = (Summary::default(), Summary::default());
    for day in 0..120 {
        let d = g.next_day();
        for (_, events) in &d.schools {
            for e in events {
                if let DomainEvent::StudentCreated(c) = &e.event {
                    assert!(created.insert(c.student), "a student was created twice");
                }
            }
        }
        match day {
            1..=14 => early.add(&d),
            106..=119 => late.add(&d),
            _ => {}
        }
    }
    // About a quarter of a year at 50% a year: some 12 newcomers on top of the 100.
    assert!(created.len() > 104, "{} students created in 120 days", created.len());
    assert!(created.len() < 130, "{} students created in 120 days", created.len());
    // Newcomers share the calibrated volume rather than adding to it.
    let (a, b) = (early.events_per_school_day(), late.events_per_school_day());
    assert!((a - b).abs() / a < 0.15, "{a:.0} then {b:.0} events per school day");
}
