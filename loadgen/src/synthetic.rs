//! Stand-in rows until the calibrated school workload generator lands: deterministic,
//! realistically sized `SectionTest` events spread over schools with skewed sizes.
//! They exercise the store's paths; they are not a model of school behaviour.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stroom_reference::{School, StoredEvent};
use uuid::Uuid;

const TYPES: &[&str] = &[
    "SectionTest/QuestionAssigned",
    "SectionTest/QuestionAnsweredCorrectly",
    "SectionTest/QuestionAnsweredIncorrectly",
    "SectionTest/ExplanationRead",
];

/// `n` events over schools `1..=schools`, each paired with its position in its school.
/// School sizes are skewed (school k gets weight 1/k); the same seed gives the same rows.
pub fn events(seed: u64, schools: u32, n: u64) -> Vec<(StoredEvent, i64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let weights: Vec<f64> = (1..=schools).map(|k| 1.0 / f64::from(k)).collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cumulative.push(acc);
    }
    let mut positions = vec![0i64; schools as usize];
    let start_us = 1_700_000_000_000_000i64;
    (0..n)
        .map(|i| {
            // Every school gets at least one event, so each has a partition worth reading.
            let idx = if i < u64::from(schools) {
                i as usize
            } else {
                let u: f64 = rng.random();
                cumulative.partition_point(|&c| c < u).min(schools as usize - 1)
            };
            positions[idx] += 1;
            let school = idx as School + 1;
            let student = rng.random_range(0..4000u32);
            let question = rng.random_range(0..2000u32);
            let kind = TYPES[rng.random_range(0..TYPES.len())];
            let payload = format!(
                concat!(
                    r#"{{"student":"{s:08x}-0000-4000-8000-{school:012x}","section":"{sec:08x}-0000-4000-8000-000000000000","#,
                    r#""question":"{q:08x}-0000-4000-8000-000000000000","answer":"{a}","duration_ms":{d},"#,
                    r#""client":{{"app":"web","version":"3.14.2","locale":"nl-NL"}},"attempt":{t}}}"#
                ),
                s = student,
                school = school,
                sec = question / 20,
                q = question,
                a = rng.random_range(0..100_000u32),
                d = rng.random_range(500..120_000u32),
                t = rng.random_range(1..4u32),
            );
            let event = StoredEvent {
                id: Uuid::from_u64_pair(seed, i),
                school,
                stream: Uuid::from_u64_pair(u64::from(school.unsigned_abs()), u64::from(student)),
                version: positions[idx],
                event_type: kind.to_string(),
                recorded_at_us: start_us + i as i64 * 1000,
                payload,
                metadata: r#"{"source":"synthetic"}"#.to_string(),
            };
            (event, positions[idx])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        assert_eq!(events(7, 5, 200), events(7, 5, 200));
        assert_ne!(events(7, 5, 200), events(8, 5, 200));
    }

    #[test]
    fn positions_are_gapless_per_school_and_payloads_realistic() {
        let rows = events(1, 10, 5000);
        let mut last = std::collections::HashMap::new();
        for (e, pos) in &rows {
            let prev = last.insert(e.school, *pos).unwrap_or(0);
            assert_eq!(*pos, prev + 1);
            assert!((150..=400).contains(&e.payload.len()), "{}", e.payload.len());
        }
        assert_eq!(last.len(), 10);
    }
}
