//! `cargo bench`: one criterion group per file under `benchmarks/`.

mod benchmarks;

criterion::criterion_main!(benchmarks::copy_encode::benches);
