//! The read model's algebra and the handler versions, on generated event sequences.

use std::borrow::Cow;

use proptest::prelude::*;
use stroom_reference::domain::*;
use stroom_reference::read_model::{fold, Envelope, Handlers, ReadModel, SESSION_TIMEOUT_US};
use uuid::Uuid;

fn id(n: u8) -> Uuid {
    Uuid::from_u128(u128::from(n) + 1)
}

fn client() -> Client {
    Client { app: Cow::Borrowed("web"), version: Cow::Borrowed("1.0") }
}

/// One event about a small world of students, sections and questions.
fn event() -> impl Strategy<Value = (i32, u8, DomainEvent)> {
    let student = 0u8..5;
    let section = 10u8..13;
    let question = 20u8..26;
    let answer = prop::sample::select(vec!["1", "2", "x = 3", "-4"]);
    (1i32..4, 0u8..30, student, section, question, answer, 0u8..9).prop_map(|(school, gap, s, sec, q, a, kind)| {
        let (s, sec, q) = (id(s), id(sec), id(q));
        let answered = QuestionAnswered { student: s, section: sec, question: q, answer: a.into(), duration_ms: 1000 };
        let e = match kind {
            0 => DomainEvent::StudentCreated(StudentCreated {
                student: s,
                name: "N".into(),
                year: 2,
                level: "vwo".into(),
            }),
            1 => DomainEvent::QuestionAssigned(QuestionAssigned {
                student: s,
                section: sec,
                question: q,
                index: 0,
                client: client(),
            }),
            2 => DomainEvent::QuestionAnsweredCorrectly(answered),
            3 => DomainEvent::QuestionAnsweredIncorrectly(answered),
            4 => {
                DomainEvent::ExplanationRead(ExplanationRead { student: s, section: sec, question: q, duration_ms: 10 })
            }
            5 => DomainEvent::SectionTestFinished(SectionTestFinished {
                student: s,
                section: sec,
                correct: 1,
                incorrect: 1,
            }),
            6 => DomainEvent::QuizQuestionAnswered(QuizQuestionAnswered {
                student: s,
                chapter: sec,
                question: q,
                answer: a.into(),
                correct: gap % 2 == 0,
            }),
            7 => DomainEvent::ChapterQuizFailed(ChapterQuizEnded {
                student: s,
                chapter: sec,
                score: 2,
                questions: 10,
                client: client(),
            }),
            _ => DomainEvent::AgreementAccepted(AgreementAccepted { student: s, revision: u32::from(gap % 3) }),
        };
        (school, gap, e)
    })
}

/// Events in time order: each carries a gap (minutes) from the one before.
fn events(max: usize) -> impl Strategy<Value = Vec<Envelope>> {
    prop::collection::vec(event(), 0..max).prop_map(|raw| {
        let mut t = 1_700_000_000_000_000i64;
        raw.into_iter()
            .map(|(school, gap, event)| {
                t += i64::from(gap) * 60_000_000;
                Envelope { school, recorded_at_us: t, event }
            })
            .collect()
    })
}

fn model(events: &[Envelope]) -> ReadModel {
    fold(Handlers::V2, ReadModel::default(), events)
}

proptest! {
    #[test]
    fn merge_is_commutative(a in events(60), b in events(60)) {
        let (a, b) = (model(&a), model(&b));
        let (ab, ba) = (a.clone().merge(b.clone()), b.merge(a));
        prop_assert_eq!(ab.digest(), ba.digest());
        prop_assert_eq!(ab, ba);
    }

    #[test]
    fn merge_is_associative(a in events(40), b in events(40), c in events(40)) {
        let (a, b, c) = (model(&a), model(&b), model(&c));
        let left = a.clone().merge(b.clone()).merge(c.clone());
        let right = a.merge(b.merge(c));
        prop_assert_eq!(left.digest(), right.digest());
        prop_assert_eq!(left, right);
    }

    #[test]
    fn merging_school_models_equals_folding_everything(all in events(120)) {
        let whole = model(&all);
        let merged = (1..4).map(|school| {
            let mine: Vec<Envelope> = all.iter().filter(|e| e.school == school).cloned().collect();
            model(&mine)
        }).fold(ReadModel::default(), ReadModel::merge);
        prop_assert_eq!(whole.digest(), merged.digest());
    }

    #[test]
    fn the_empty_model_is_neutral(a in events(60)) {
        let a = model(&a);
        prop_assert_eq!(a.clone().merge(ReadModel::default()), a);
    }
}

#[test]
fn rebuilding_with_v2_gives_past_events_their_practice_time() {
    let (s, sec, q) = (id(1), id(2), id(3));
    let at = |minute: i64| 1_700_000_000_000_000 + minute * 60_000_000;
    let assigned = |t| Envelope {
        school: 1,
        recorded_at_us: at(t),
        event: DomainEvent::QuestionAssigned(QuestionAssigned {
            student: s,
            section: sec,
            question: q,
            index: 0,
            client: client(),
        }),
    };
    let answered = |t| Envelope {
        school: 1,
        recorded_at_us: at(t),
        event: DomainEvent::QuestionAnsweredCorrectly(QuestionAnswered {
            student: s,
            section: sec,
            question: q,
            answer: "1".into(),
            duration_ms: 60_000,
        }),
    };
    // Two sittings: minutes 0, 2, 3 and, after a long break, 60, 61.
    let history = vec![assigned(0), answered(2), assigned(3), assigned(60), answered(61)];
    const { assert!(SESSION_TIMEOUT_US < 57 * 60_000_000) };

    let v1 = fold(Handlers::V1, ReadModel::default(), &history);
    let v2 = fold(Handlers::V2, ReadModel::default(), &history);
    let practice = |m: &ReadModel| m.students[&(1, s)].practice_us / 60_000_000;
    assert_eq!(practice(&v1), 0, "v1 tracks no activity");
    assert_eq!(practice(&v2), 4, "3 minutes in the first sitting, 1 in the second");
    assert_eq!(v2.active_per_day[&1].values().sum::<u32>(), 1);
    // Everything else is the same model.
    assert_eq!(v1.students[&(1, s)].sections, v2.students[&(1, s)].sections);
    assert_eq!(v1.questions, v2.questions);
}

/// The talk's learning analytics on a hand-made history: two students on one section, one
/// quick and one slow; a mistake followed by the explanation and a right answer, and a mistake
/// followed straight by another wrong answer.
#[test]
fn v2_folds_time_to_master_and_what_follows_a_mistake() {
    let (quick, slow, sec, q) = (id(1), id(2), id(10), id(20));
    let at = |minute: i64| 1_700_000_000_000_000 + minute * 60_000_000;
    let e = |t, event| Envelope { school: 1, recorded_at_us: at(t), event };
    let answer = |student, right: bool| {
        let a = QuestionAnswered { student, section: sec, question: q, answer: "x".into(), duration_ms: 1000 };
        if right {
            DomainEvent::QuestionAnsweredCorrectly(a)
        } else {
            DomainEvent::QuestionAnsweredIncorrectly(a)
        }
    };
    let started = |student| {
        DomainEvent::SectionTestStarted(SectionTestStarted { student, chapter: id(9), section: sec, client: client() })
    };
    let finished = |student| {
        DomainEvent::SectionTestFinished(SectionTestFinished { student, section: sec, correct: 1, incorrect: 1 })
    };
    let explanation =
        |student| DomainEvent::ExplanationRead(ExplanationRead { student, section: sec, question: q, duration_ms: 10 });
    let history = vec![
        e(0, started(quick)),
        e(1, answer(quick, false)),
        e(2, explanation(quick)),
        e(3, answer(quick, true)), // after a mistake, explained, right
        e(5, finished(quick)),     // mastered in 5 minutes
        e(0, started(slow)),
        e(10, answer(slow, false)),
        e(20, answer(slow, false)), // after a mistake, not explained, wrong
        e(30, answer(slow, true)),  // after a mistake, not explained, right
        e(40, explanation(slow)),   // after a right answer: not counted as explained
        e(50, answer(slow, true)),  // not after a mistake
        e(90, finished(slow)),      // mastered in 90 minutes
        e(95, finished(slow)),      // finishing again changes nothing
    ];
    let v2 = fold(Handlers::V2, ReadModel::default(), &history);
    let m = v2.after_mistakes[&sec];
    assert_eq!((m.answers, m.explained, m.explained_right, m.unexplained_right), (3, 1, 1, 1));
    assert_eq!(m.explained_share(), 1.0 / 3.0);
    assert_eq!(m.right_shares(), (1.0, 0.5));
    let mastery = v2.mastery(sec).unwrap();
    assert_eq!(mastery.students, 2);
    assert_eq!((mastery.quick_us, mastery.slow_us), (5 * 60_000_000, 90 * 60_000_000));
    assert_eq!(v2.students[&(1, slow)].sections[&sec].time_to_master_us(), Some(90 * 60_000_000));

    let v1 = fold(Handlers::V1, ReadModel::default(), &history);
    assert!(v1.after_mistakes.is_empty() && v1.mastery(sec).is_none(), "v1 has no learning analytics");
    assert_ne!(v1.digest(), v2.digest());
    // A rebuild in parallel (each student's events on their own) gives the same figures.
    let (a, b): (Vec<Envelope>, Vec<Envelope>) = history.iter().cloned().partition(|e| match &e.event {
        DomainEvent::SectionTestStarted(x) => x.student == quick,
        DomainEvent::SectionTestFinished(x) => x.student == quick,
        DomainEvent::ExplanationRead(x) => x.student == quick,
        DomainEvent::QuestionAnsweredCorrectly(x) | DomainEvent::QuestionAnsweredIncorrectly(x) => x.student == quick,
        _ => false,
    });
    let merged = fold(Handlers::V2, ReadModel::default(), &a).merge(fold(Handlers::V2, ReadModel::default(), &b));
    assert_eq!(merged.digest(), v2.digest());
}
