//! In-memory parallel replay (decode + fold, merged) at 1, 2 and 4 threads.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use stroom_reference::read_model::{Fold, Handlers};
use stroom_reference::replay::MemoryLog;
use stroom_reference::Upcasters;

fn bench(c: &mut Criterion) {
    let log = MemoryLog::new(super::sample::history(2));
    let upcasters = Upcasters::standard();
    let mut group = c.benchmark_group("memory_replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(log.len() as u64));
    for threads in [1, 2, 4] {
        group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &threads| {
            b.iter(|| log.parallel(Fold::new(Handlers::V2), &upcasters, threads).expect("replays").events)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
