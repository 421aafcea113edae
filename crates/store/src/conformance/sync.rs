//! Cognito Sync: datasets, records with sync counts, conflicts, limits, deletion
//! tombstones, usage and the change log.

use super::unique;
use crate::*;

fn patch(key: &str, value: Option<&str>, expected: i64) -> SyncPatch {
    SyncPatch {
        key: key.into(),
        value: value.map(String::from),
        expected_sync_count: expected,
        device_last_modified_at: Some(7),
    }
}

const LIMITS: SyncLimits = SyncLimits {
    max_datasets_per_identity: 2,
    max_records_per_dataset: 3,
    max_bytes_per_dataset: 100,
};

fn update(
    pool: &str,
    identity: &str,
    dataset: &str,
    patches: Vec<SyncPatch>,
    now: i64,
) -> SyncUpdate {
    SyncUpdate {
        pool_id: pool.into(),
        identity_id: identity.into(),
        dataset: dataset.into(),
        patches,
        modified_by: "device-a".into(),
        now,
        limits: LIMITS,
    }
}

fn applied(
    outcome: SyncOutcome,
) -> (
    SyncDatasetRow,
    Vec<SyncRecordRow>,
    Option<Box<SyncChangeRow>>,
) {
    match outcome {
        SyncOutcome::Applied {
            dataset,
            records,
            change,
        } => (dataset, records, change),
        other => panic!("expected Applied, got {other:?}"),
    }
}

pub(super) async fn sync(s: &dyn Store) {
    let pool = unique("us-east-1:sync");
    let id = format!("{pool}-identity");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    assert_eq!(s.get_dataset(&pool, &id, "prefs").await.unwrap(), None);
    // Nothing to change: nothing is created.
    let (d, r, c) = applied(
        s.update_records(&update(&pool, &id, "prefs", vec![], now))
            .await
            .unwrap(),
    );
    assert!(d.deleted && r.is_empty() && c.is_none());
    assert_eq!(s.get_dataset(&pool, &id, "prefs").await.unwrap(), None);

    // First write creates the dataset at sync count 1.
    let (d, r, c) = applied(
        s.update_records(&update(
            &pool,
            &id,
            "prefs",
            vec![patch("color", Some("red"), 0), patch("size", Some("L"), 0)],
            now,
        ))
        .await
        .unwrap(),
    );
    assert_eq!((d.sync_count, d.num_records, d.deleted), (1, 2, false));
    assert_eq!(
        d.data_storage,
        ("color".len() + 3 + "size".len() + 1) as i64
    );
    assert_eq!(r.len(), 2);
    assert!(
        r.iter()
            .all(|r| r.sync_count == 1 && r.last_modified_by == "device-a")
    );
    let c = c.expect("a change is logged");
    assert_eq!(
        (c.operation.as_str(), c.sync_count, c.records.len()),
        ("replace", 1, 2)
    );
    assert_eq!(
        s.get_dataset(&pool, &id, "prefs").await.unwrap().unwrap(),
        d
    );

    // A stale sync count is a conflict and stores nothing.
    let out = s
        .update_records(&update(
            &pool,
            &id,
            "prefs",
            vec![patch("size", Some("M"), 1), patch("color", Some("blue"), 0)],
            now + 1,
        ))
        .await
        .unwrap();
    assert_eq!(
        out,
        SyncOutcome::Conflict {
            key: "color".into(),
            current: 1,
            given: 0
        }
    );
    assert_eq!(
        s.get_dataset(&pool, &id, "prefs")
            .await
            .unwrap()
            .unwrap()
            .sync_count,
        1
    );

    // Replace one, remove the other: removals stay listed for devices syncing later.
    let (d, _, _) = applied(
        s.update_records(&update(
            &pool,
            &id,
            "prefs",
            vec![patch("color", Some("blue"), 1), patch("size", None, 1)],
            now + 2,
        ))
        .await
        .unwrap(),
    );
    assert_eq!((d.sync_count, d.num_records), (2, 1));
    assert_eq!(d.data_storage, ("color".len() + 4) as i64);
    let all = s
        .list_records(&pool, &id, "prefs", 0, None, 100)
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|r| (r.key.as_str(), r.value.as_deref(), r.sync_count))
            .collect::<Vec<_>>(),
        vec![("color", Some("blue"), 2), ("size", None, 2)]
    );
    assert!(
        s.list_records(&pool, &id, "prefs", 2, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let page = s
        .list_records(&pool, &id, "prefs", 0, None, 1)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    let rest = s
        .list_records(&pool, &id, "prefs", 0, Some(&page[0].key), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].key, "size");

    // Limits: records, bytes, datasets per identity.
    let many = vec![
        patch("a", Some("1"), 0),
        patch("b", Some("2"), 0),
        patch("c", Some("3"), 0),
    ];
    assert_eq!(
        s.update_records(&update(&pool, &id, "prefs", many, now + 3))
            .await
            .unwrap(),
        SyncOutcome::TooManyRecords
    );
    let big = "x".repeat(200);
    assert_eq!(
        s.update_records(&update(
            &pool,
            &id,
            "prefs",
            vec![patch("big", Some(&big), 0)],
            now + 3
        ))
        .await
        .unwrap(),
        SyncOutcome::TooLarge
    );
    applied(
        s.update_records(&update(
            &pool,
            &id,
            "second",
            vec![patch("k", Some("v"), 0)],
            now + 4,
        ))
        .await
        .unwrap(),
    );
    assert_eq!(
        s.update_records(&update(
            &pool,
            &id,
            "third",
            vec![patch("k", Some("v"), 0)],
            now + 4
        ))
        .await
        .unwrap(),
        SyncOutcome::TooManyDatasets
    );
    assert_eq!(s.get_dataset(&pool, &id, "third").await.unwrap(), None);
    let names: Vec<String> = s
        .list_datasets(&pool, &id, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, vec!["prefs", "second"]);
    assert_eq!(
        s.list_datasets(&pool, &id, Some("prefs"), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let usage = s.sync_usage(&pool, Some(&id)).await.unwrap();
    assert_eq!(usage.dataset_count, 2);
    assert_eq!(usage.data_storage, ("color".len() + 4 + 2) as i64);
    assert_eq!(usage.sync_sessions, 3);
    assert_eq!(usage.last_modified, Some(now + 4));
    let other = format!("{pool}-other");
    applied(
        s.update_records(&update(
            &pool,
            &other,
            "prefs",
            vec![patch("k", Some("v"), 0)],
            now + 5,
        ))
        .await
        .unwrap(),
    );
    assert_eq!(s.sync_usage(&pool, None).await.unwrap().dataset_count, 3);
    assert_eq!(
        s.list_pool_datasets(&pool, None, 10).await.unwrap().len(),
        3
    );
    let after_first = s
        .list_pool_datasets(&pool, Some((&id, "prefs")), 10)
        .await
        .unwrap();
    assert_eq!(after_first.len(), 2);
    assert_eq!(after_first[0].name, "second");

    // Deletion leaves a tombstone whose sync count keeps counting.
    let (before, removal) = s
        .delete_dataset(&pool, &id, "prefs", now + 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (removal.operation.as_str(), removal.sync_count),
        ("remove", 3)
    );
    assert_eq!((before.sync_count, before.num_records), (2, 1));
    assert_eq!(
        s.delete_dataset(&pool, &id, "prefs", now + 6)
            .await
            .unwrap(),
        None
    );
    let tomb = s.get_dataset(&pool, &id, "prefs").await.unwrap().unwrap();
    assert!(tomb.deleted);
    assert_eq!(
        (tomb.sync_count, tomb.deleted_sync_count, tomb.num_records),
        (3, 3, 0)
    );
    assert!(
        s.list_records(&pool, &id, "prefs", 0, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.list_datasets(&pool, &id, None, 10).await.unwrap().len(),
        1
    );
    // Written again: a new dataset, with the counting continued.
    let (d, _, _) = applied(
        s.update_records(&update(
            &pool,
            &id,
            "prefs",
            vec![patch("color", Some("green"), 0)],
            now + 7,
        ))
        .await
        .unwrap(),
    );
    assert_eq!(
        (d.sync_count, d.deleted_sync_count, d.deleted, d.created_at),
        (4, 3, false, now + 7)
    );

    // The change log, in order, per pool and per identity.
    let log = s.list_changes(&pool, None, 0, 100).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|c| (c.dataset.as_str(), c.operation.as_str(), c.sync_count))
            .collect::<Vec<_>>(),
        vec![
            ("prefs", "replace", 1),
            ("prefs", "replace", 2),
            ("second", "replace", 1),
            ("prefs", "replace", 1),
            ("prefs", "remove", 3),
            ("prefs", "replace", 4),
        ]
    );
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(log[1].records[1].value, None);
    let mine = s.list_changes(&pool, Some(&id), 0, 100).await.unwrap();
    assert_eq!(mine.len(), 5);
    let tail = s.list_changes(&pool, None, log[3].seq, 100).await.unwrap();
    assert_eq!(tail.len(), 2);
    let appended = s
        .append_changes(&[SyncChangeRow::replace(&d, &[])])
        .await
        .unwrap();
    assert!(appended[0].seq > log[5].seq);
    assert_eq!(
        s.list_changes(&pool, None, log[5].seq, 10).await.unwrap(),
        appended
    );

    // Racing writers of one record: exactly one wins.
    let racer = format!("{pool}-racer");
    let race = |v: &str| update(&pool, &racer, "race", vec![patch("k", Some(v), 0)], now + 8);
    let (a, b, c, e) = (race("a"), race("b"), race("c"), race("e"));
    let (a, b, c, e) = tokio::join!(
        s.update_records(&a),
        s.update_records(&b),
        s.update_records(&c),
        s.update_records(&e)
    );
    let outcomes = [a.unwrap(), b.unwrap(), c.unwrap(), e.unwrap()];
    let wins = outcomes
        .iter()
        .filter(|o| matches!(o, SyncOutcome::Applied { .. }))
        .count();
    assert_eq!(wins, 1, "{outcomes:?}");

    // Deleting the identity, then the pool, takes their sync data along.
    s.delete_identity(&other).await.unwrap();
    assert_eq!(s.get_dataset(&pool, &other, "prefs").await.unwrap(), None);
    let ipool = IdentityPoolRow {
        id: pool.clone(),
        name: "sync".into(),
        config: serde_json::json!({}),
        created_at: 1,
        updated_at: 1,
    };
    s.create_identity_pool(&ipool).await.unwrap();
    assert!(s.delete_identity_pool(&pool).await.unwrap());
    assert_eq!(s.get_dataset(&pool, &id, "prefs").await.unwrap(), None);
    assert!(s.list_changes(&pool, None, 0, 10).await.unwrap().is_empty());
}
