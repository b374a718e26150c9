//! The hand-written binary COPY encoder stores exactly what it was given, in every layout and
//! with every payload type.

use stroom_cluster::testing::TestDatabase;
use stroom_reference::{Layout, PayloadType, Schema, Store, StoredEvent};
use uuid::Uuid;

fn events() -> Vec<(StoredEvent, i64)> {
    (1..=50)
        .map(|i: i64| {
            let event = StoredEvent {
                id: Uuid::from_u64_pair(7, i as u64),
                school: (i % 3) as i32 + 1,
                stream: Uuid::from_u64_pair(1, (i % 5) as u64),
                version: i,
                event_type: format!("SectionTest/Type{}", i % 4),
                recorded_at_us: 1_700_000_000_123_456 + i * 1_000_001,
                payload: format!(r#"{{"n": {i}, "text": "naïve \"quoted\" ✓", "nested": {{"a": [1, 2]}}}}"#),
                metadata: format!(r#"{{"causation": "{i}"}}"#),
            };
            (event, i)
        })
        .collect()
}

/// id, school, stream, version, type, recorded_at (µs), payload text, position.
type StoredRow = (Uuid, i32, Uuid, i64, String, i64, String, i64);

async fn round_trip(layout: Layout, payload: PayloadType) {
    let db = TestDatabase::create().await;
    let store = Store::install(db.pool().await, Schema::new(layout, payload)).await.unwrap();
    store.add_schools(&[1, 2, 3]).await.unwrap();
    let rows = events();
    assert_eq!(store.raw_copy_in(&rows).await.unwrap(), rows.len() as u64);

    let sql = "SELECT id, school, stream, version, event_type, \
               (extract(epoch FROM recorded_at) * 1000000)::bigint, payload::text, position \
               FROM events ORDER BY version";
    let sql = if payload == PayloadType::Bytea {
        sql.replace("payload::text", "convert_from(payload, 'UTF8')")
    } else {
        sql.to_string()
    };
    let back: Vec<StoredRow> = sqlx::query_as(&sql).fetch_all(store.pool()).await.unwrap();
    assert_eq!(back.len(), rows.len());
    for ((e, pos), b) in rows.iter().zip(back) {
        assert_eq!(
            (e.id, e.school, e.stream, e.version, &e.event_type, e.recorded_at_us, *pos),
            (b.0, b.1, b.2, b.3, &b.4, b.5, b.7)
        );
        let (want, got): (serde_json::Value, serde_json::Value) =
            (serde_json::from_str(&e.payload).unwrap(), serde_json::from_str(&b.6).unwrap());
        assert_eq!(want, got, "{layout} {payload}");
        if payload != PayloadType::Jsonb {
            assert_eq!(e.payload, b.6, "json and bytea keep the text as given");
        }
    }
    assert!(store.raw_copy_out().await.unwrap() > 50 * 100);
}

#[tokio::test]
async fn partitioned_jsonb() {
    round_trip(Layout::Partitioned, PayloadType::Jsonb).await;
}

#[tokio::test]
async fn partitioned_json() {
    round_trip(Layout::Partitioned, PayloadType::Json).await;
}

#[tokio::test]
async fn partitioned_bytea() {
    round_trip(Layout::Partitioned, PayloadType::Bytea).await;
}

#[tokio::test]
async fn hash_partitioned_jsonb() {
    let db = TestDatabase::create().await;
    let schema = Schema::new(Layout::Partitioned, PayloadType::Jsonb).with_hash_partitions(4);
    let store = Store::install(db.pool().await, schema).await.unwrap();
    store.add_schools(&[1, 2, 3]).await.unwrap();
    let rows = events();
    assert_eq!(store.raw_copy_in(&rows).await.unwrap(), rows.len() as u64);
    let partitions: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(partitions, 4, "four hash buckets, whatever the number of schools");
    for school in 1..=3 {
        let mut reader = store.read_school(school, 0, 100);
        let page = reader.next_page().await.unwrap();
        assert!(!page.is_empty() && page.iter().all(|e| e.school == school));
    }
}

#[tokio::test]
async fn single_log_jsonb() {
    round_trip(Layout::SingleLog, PayloadType::Jsonb).await;
}

#[tokio::test]
async fn single_log_bytea() {
    round_trip(Layout::SingleLog, PayloadType::Bytea).await;
}

#[tokio::test]
async fn installing_twice_is_harmless_and_another_payload_type_is_refused() {
    let db = TestDatabase::create().await;
    let schema = Schema::new(Layout::Partitioned, PayloadType::Jsonb);
    Store::install(db.pool().await, schema).await.unwrap();
    Store::install(db.pool().await, schema).await.unwrap();
    let other = Schema { payload: PayloadType::Bytea, ..schema };
    let err = Store::install(db.pool().await, other).await.unwrap_err().to_string();
    assert!(err.contains("applying the partitioned schema"), "{err}");
}
