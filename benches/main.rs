//! `cargo bench`: one criterion group per file under `benchmarks/`.

mod benchmarks;

criterion::criterion_main!(
    benchmarks::fold::benches,
    benchmarks::codecs::benches,
    benchmarks::generator::benches,
    benchmarks::memory_replay::benches,
    benchmarks::copy_encode::benches,
    benchmarks::transactor::benches,
    benchmarks::pg_replay::benches,
);
