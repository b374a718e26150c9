//! Payload codecs: encoding domain events and decoding them, as json text, as the jsonb form
//! binary COPY carries (a version byte, then text), and as bytea.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use stroom_reference::domain::DomainEvent;

fn bench(c: &mut Criterion) {
    let history = super::sample::history(1);
    let events: Vec<(String, DomainEvent)> = history
        .iter()
        .filter(|e| e.event_type != "UserAgreement/Accepted")
        .map(|e| (e.event_type.clone(), DomainEvent::decode(&e.event_type, e.payload.as_bytes()).expect("decodes")))
        .collect();
    let n = events.len() as u64;
    let mut group = c.benchmark_group("codecs");
    group.throughput(Throughput::Elements(n));
    for form in ["json", "jsonb", "bytea"] {
        group.bench_with_input(BenchmarkId::new("encode", form), &events, |b, events| {
            let mut buf = Vec::with_capacity(1 << 20);
            b.iter(|| {
                buf.clear();
                for (_, e) in events {
                    if form == "jsonb" {
                        buf.push(1);
                    }
                    e.encode_into(&mut buf);
                }
                buf.len()
            })
        });
        let stored: Vec<(String, Vec<u8>)> = events
            .iter()
            .map(|(t, e)| {
                let mut v = if form == "jsonb" { vec![1u8] } else { Vec::new() };
                e.encode_into(&mut v);
                (t.clone(), v)
            })
            .collect();
        group.bench_with_input(BenchmarkId::new("decode", form), &stored, |b, stored| {
            b.iter(|| {
                stored
                    .iter()
                    .map(|(t, bytes)| {
                        let body = if form == "jsonb" { &bytes[1..] } else { &bytes[..] };
                        DomainEvent::decode(t, body).is_ok() as usize
                    })
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
