//! The workload generator, one thread: one school day of the default 250 schools and
//! 100,000 students per iteration.

use criterion::{criterion_group, Criterion, Throughput};
use stroom_loadgen::generator::{Generator, GeneratorConfig};

fn bench(c: &mut Criterion) {
    let config = GeneratorConfig { threads: 1, ..Default::default() };
    let mut probe = Generator::new(config.clone());
    probe.next_day(); // day 0 onboards everyone; measure an ordinary school day
    let per_day = probe.next_day().len() as u64;
    let mut group = c.benchmark_group("generator");
    group.sample_size(10);
    group.throughput(Throughput::Elements(per_day));
    group.bench_function("school_day_1_thread", |b| {
        b.iter_batched(
            || {
                let mut g = Generator::new(config.clone());
                g.next_day();
                g
            },
            |mut g| g.next_day().len(),
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
