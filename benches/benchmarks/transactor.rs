//! Per-school transactor batching against the embedded PostgreSQL (fast profile): append
//! throughput per batch size. Each iteration sends `size` one-event appends at once to one
//! school's transactor, which group-commits them.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use stroom_cluster::testing::TestDatabase;
use stroom_reference::{Append, Layout, NewEvent, PayloadType, Schema, Store, Transactor, TransactorConfig};
use uuid::Uuid;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let transactor = rt.block_on(async {
        let db = TestDatabase::create().await;
        let store = Store::install(db.pool().await, Schema::new(Layout::Partitioned, PayloadType::Jsonb))
            .await
            .expect("schema");
        store.add_schools(&[1]).await.expect("school");
        Transactor::start_school(store, 1, TransactorConfig::default()).await.expect("transactor")
    });
    let mut group = c.benchmark_group("transactor_batch");
    group.sample_size(10);
    for size in [1usize, 16, 128, 1024] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.to_async(&rt).iter(|| {
                let appends = (0..size).map(|i| {
                    transactor.append(Append {
                        school: 1,
                        stream: Uuid::new_v4(),
                        expected_version: 0,
                        events: vec![NewEvent {
                            id: Uuid::new_v4(),
                            event_type: "SectionTest/QuestionAssigned".into(),
                            recorded_at_us: 1_700_000_000_000_000 + i as i64,
                            payload: format!(
                                r#"{{"student":"{}","section":"{}","question":"{}","index":{i}}}"#,
                                Uuid::nil(),
                                Uuid::nil(),
                                Uuid::nil()
                            ),
                            metadata: "{}".into(),
                        }],
                    })
                });
                async move { join_all(appends).await.into_iter().filter(Result::is_ok).count() }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
