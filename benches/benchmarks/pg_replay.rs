//! Replay from the embedded PostgreSQL (fast profile), one worker: keyset pages of rows
//! against streaming binary COPY, same history, same fold.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use stroom_cluster::testing::TestDatabase;
use stroom_reference::read_model::{Fold, Handlers};
use stroom_reference::replay;
use stroom_reference::{Layout, PayloadType, Schema, Store};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (store, events) = rt.block_on(async {
        let db = TestDatabase::create().await;
        let store = Store::install(db.pool().await, Schema::new(Layout::Partitioned, PayloadType::Jsonb))
            .await
            .expect("schema");
        let mut generator = stroom_loadgen::generator::Generator::new(super::sample::config());
        let loaded =
            stroom_loadgen::backfill(&store, &mut generator, None, Some(2), None, None, None).await.expect("load");
        (store, loaded.events)
    });
    let fold = Fold::new(Handlers::V2);
    let mut group = c.benchmark_group("pg_replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    group.bench_function(BenchmarkId::new("copy", 1), |b| {
        b.to_async(&rt).iter(|| async { replay::parallel(&store, fold, 1).await.expect("replay").events })
    });
    for page in [1_000usize, 10_000] {
        group.bench_function(BenchmarkId::new("keyset", page), |b| {
            b.to_async(&rt).iter(|| async { replay::keyset(&store, fold, page).await.expect("replay").events })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
