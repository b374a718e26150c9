//! The placement map (school → server) on real PostgreSQL.

use stroom_cluster::testing::TestDatabase;
use stroom_reference::placement::{Placement, PlacementChange};

#[tokio::test]
async fn schools_are_placed_round_robin_and_every_change_is_recorded() {
    let pool = TestDatabase::create().await.pool().await;
    let placement = Placement::install(pool.clone()).await.unwrap();
    Placement::install(pool.clone()).await.unwrap(); // idempotent
    assert_eq!(placement.load().await.unwrap().version, 0);

    let map = placement.place_missing(&[1, 2, 3, 4, 5], 2).await.unwrap();
    assert_eq!(map.version, 5);
    assert_eq!(map.schools_on(0), vec![1, 3, 5]);
    assert_eq!(map.schools_on(1), vec![2, 4]);
    // Placing again moves nothing and adds no version.
    assert_eq!(placement.place_missing(&[1, 2, 3, 4, 5, 6], 2).await.unwrap().version, 6);

    assert_eq!(placement.move_school(3, 0, 1, "migrate").await.unwrap(), 7);
    let map = placement.load().await.unwrap();
    assert_eq!((map.version, map.server_of(3)), (7, Some(1)));

    let changes = placement.changes().await.unwrap();
    assert_eq!(changes.len(), 7);
    assert_eq!(
        changes.last().unwrap(),
        &PlacementChange { version: 7, school: 3, from_server: Some(0), to_server: 1, reason: "migrate".into() }
    );
    assert!(changes[..6].iter().all(|c| c.from_server.is_none() && c.reason == "initial placement"));
}

#[tokio::test]
async fn a_move_from_where_the_school_is_not_changes_nothing() {
    let pool = TestDatabase::create().await.pool().await;
    let placement = Placement::install(pool).await.unwrap();
    placement.place_missing(&[1, 2], 2).await.unwrap();
    let stale = placement.move_school(1, 1, 0, "migrate").await.unwrap_err();
    assert!(stale.to_string().contains("school 1 is on server 0, not on server 1"), "{stale}");
    let unplaced = placement.move_school(9, 0, 1, "migrate").await.unwrap_err();
    assert!(unplaced.to_string().contains("school 9 is unplaced"), "{unplaced}");
    let map = placement.load().await.unwrap();
    assert_eq!((map.version, map.server_of(1)), (2, Some(0)));
    assert_eq!(placement.changes().await.unwrap().len(), 2);
}

#[tokio::test]
async fn concurrent_movers_of_one_school_cannot_both_win() {
    let pool = TestDatabase::create().await.pool().await;
    let placement = Placement::install(pool).await.unwrap();
    placement.place_missing(&[1], 3).await.unwrap();
    let (a, b) = tokio::join!(placement.move_school(1, 0, 1, "a"), placement.move_school(1, 0, 2, "b"));
    assert!(a.is_ok() != b.is_ok(), "exactly one move wins: {a:?} {b:?}");
    let map = placement.load().await.unwrap();
    assert_eq!(map.version, 2);
    assert_eq!(map.server_of(1), Some(if a.is_ok() { 1 } else { 2 }));
}
