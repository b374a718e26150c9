//! Encoding events into binary COPY rows: the client-side cost of the store's bulk path.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use stroom_reference::store::RowEncoder;
use stroom_reference::{PayloadType, StoredEvent};
use uuid::Uuid;

fn sample(n: u64) -> Vec<StoredEvent> {
    (0..n)
        .map(|i| StoredEvent {
            id: Uuid::from_u64_pair(1, i),
            school: (i % 250) as i32 + 1,
            stream: Uuid::from_u64_pair(2, i % 10_000),
            version: i as i64 + 1,
            event_type: "SectionTest/QuestionAnsweredCorrectly".into(),
            recorded_at_us: 1_700_000_000_000_000 + i as i64,
            payload: format!(
                r#"{{"student":"{i:032x}","section":"{:032x}","question":"{:032x}","answer":"B","duration_ms":{}}}"#,
                i % 40,
                i % 2000,
                i % 60_000
            ),
            metadata: "{}".into(),
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let events = sample(10_000);
    let mut group = c.benchmark_group("copy_encode");
    group.throughput(Throughput::Elements(events.len() as u64));
    for payload in [PayloadType::Jsonb, PayloadType::Bytea] {
        group.bench_with_input(BenchmarkId::from_parameter(payload), &events, |b, events| {
            b.iter(|| {
                let mut enc = RowEncoder::new(payload);
                for (i, e) in events.iter().enumerate() {
                    enc.push(e, i as i64 + 1);
                }
                enc.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encode);
