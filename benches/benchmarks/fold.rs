//! The handler fold alone, on events decoded beforehand: v1 and v2.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use stroom_reference::read_model::{fold, Handlers, ReadModel};
use stroom_reference::replay::MemoryLog;
use stroom_reference::Upcasters;

fn bench(c: &mut Criterion) {
    let log = MemoryLog::new(super::sample::history(2));
    let events = log.decode_all(&Upcasters::standard()).expect("generated events decode");
    let mut group = c.benchmark_group("fold");
    group.throughput(Throughput::Elements(events.len() as u64));
    for handlers in [Handlers::V1, Handlers::V2] {
        group.bench_with_input(BenchmarkId::from_parameter(handlers.name()), &events, |b, events| {
            b.iter(|| fold(handlers, ReadModel::default(), events).events)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
