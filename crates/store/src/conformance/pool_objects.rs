//! Conformance checks of the pool-object aggregates: `PoolObjectStore`,
//! `GroupMemberStore` and `AuthEventStore`.

use super::{pool, unique, user};
use crate::*;
use serde_json::json;

fn object(pool_id: &str, kind: ObjectKind, key: &str, doc: serde_json::Value) -> PoolObjectRow {
    PoolObjectRow {
        pool_id: pool_id.into(),
        kind,
        key: key.into(),
        doc,
        created_at: 1,
        updated_at: 1,
    }
}

pub(super) async fn pool_objects(s: &dyn Store) {
    let pool_id = unique("us-east-1_obj");
    let g = object(
        &pool_id,
        ObjectKind::Group,
        "admins",
        json!({"Precedence": 1}),
    );
    s.create_object(&g).await.unwrap();
    assert!(
        matches!(s.create_object(&g).await, Err(StoreError::Conflict(_))),
        "a key is taken once per pool and kind"
    );
    // The same key under another kind or pool is another object.
    s.create_object(&object(
        &pool_id,
        ObjectKind::ResourceServer,
        "admins",
        json!({}),
    ))
    .await
    .unwrap();
    let other_pool = unique("us-east-1_obj");
    s.create_object(&object(&other_pool, ObjectKind::Group, "admins", json!({})))
        .await
        .unwrap();
    assert_eq!(
        s.get_object(&pool_id, ObjectKind::Group, "admins")
            .await
            .unwrap()
            .unwrap(),
        g
    );
    assert!(
        s.get_object(&pool_id, ObjectKind::Group, "Admins")
            .await
            .unwrap()
            .is_none(),
        "keys are case-sensitive"
    );
    let mut changed = g.clone();
    changed.doc = json!({"Precedence": 2});
    changed.updated_at = 5;
    s.put_object(&changed).await.unwrap();
    let got = s
        .get_object(&pool_id, ObjectKind::Group, "admins")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.doc, json!({"Precedence": 2}));
    assert_eq!(
        (got.created_at, got.updated_at),
        (1, 5),
        "put keeps created_at"
    );
    for key in ["b", "c", "a"] {
        s.put_object(&object(&pool_id, ObjectKind::Group, key, json!({})))
            .await
            .unwrap();
    }
    let page = s
        .list_objects(&pool_id, ObjectKind::Group, None, 2)
        .await
        .unwrap();
    let keys: Vec<_> = page.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["a", "admins"]);
    let rest = s
        .list_objects(&pool_id, ObjectKind::Group, Some("admins"), 10)
        .await
        .unwrap();
    let keys: Vec<_> = rest.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["b", "c"], "listing stays within the pool and kind");
    assert_eq!(
        s.count_objects(&pool_id, ObjectKind::Group).await.unwrap(),
        4
    );
    assert!(
        s.delete_object(&pool_id, ObjectKind::Group, "b")
            .await
            .unwrap()
    );
    assert!(
        !s.delete_object(&pool_id, ObjectKind::Group, "b")
            .await
            .unwrap()
    );

    // Domains are unique across pools.
    let domain = unique("auth-");
    s.create_object(&object(&pool_id, ObjectKind::Domain, &domain, json!({})))
        .await
        .unwrap();
    assert!(matches!(
        s.create_object(&object(&other_pool, ObjectKind::Domain, &domain, json!({})))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.put_object(&object(&other_pool, ObjectKind::Domain, &domain, json!({})))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let found = s
        .find_global_object(ObjectKind::Domain, &domain)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.pool_id, pool_id);
    assert!(
        s.find_global_object(ObjectKind::Group, "admins")
            .await
            .unwrap()
            .is_none(),
        "only globally unique kinds are found without a pool"
    );
    assert!(
        s.delete_object(&pool_id, ObjectKind::Domain, &domain)
            .await
            .unwrap()
    );
    s.create_object(&object(&other_pool, ObjectKind::Domain, &domain, json!({})))
        .await
        .unwrap();

    // Deleting the pool deletes its objects.
    s.create_pool(&pool(&pool_id)).await.unwrap();
    assert!(s.delete_pool(&pool_id).await.unwrap());
    assert!(
        s.list_objects(&pool_id, ObjectKind::Group, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(super) async fn group_members(s: &dyn Store) {
    let pool_id = unique("us-east-1_grp");
    for name in ["alice", "bob", "carol"] {
        s.create_user(&user(&pool_id, name)).await.unwrap();
    }
    for g in ["admins", "readers", "writers"] {
        s.create_object(&object(
            &pool_id,
            ObjectKind::Group,
            g,
            json!({"GroupName": g}),
        ))
        .await
        .unwrap();
    }
    s.add_member(&pool_id, "readers", "carol").await.unwrap();
    s.add_member(&pool_id, "readers", "alice").await.unwrap();
    s.add_member(&pool_id, "readers", "alice").await.unwrap();
    s.add_member(&pool_id, "readers", "bob").await.unwrap();
    s.add_member(&pool_id, "admins", "alice").await.unwrap();
    s.add_member(&pool_id, "writers", "alice").await.unwrap();
    let names =
        |users: Vec<UserRow>| -> Vec<String> { users.into_iter().map(|u| u.username).collect() };
    let first = s.list_members(&pool_id, "readers", None, 2).await.unwrap();
    assert_eq!(names(first), ["alice", "bob"], "adding twice is a no-op");
    let rest = s
        .list_members(&pool_id, "readers", Some("bob"), 2)
        .await
        .unwrap();
    assert_eq!(names(rest), ["carol"]);
    let groups = s
        .list_groups_of_user(&pool_id, "alice", None, 2)
        .await
        .unwrap();
    let keys: Vec<_> = groups.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["admins", "readers"]);
    assert_eq!(groups[0].doc["GroupName"], "admins");
    let more = s
        .list_groups_of_user(&pool_id, "alice", Some("readers"), 2)
        .await
        .unwrap();
    assert_eq!(more.len(), 1);

    assert!(s.remove_member(&pool_id, "writers", "alice").await.unwrap());
    assert!(!s.remove_member(&pool_id, "writers", "alice").await.unwrap());
    // A deleted group takes its memberships along, so a new group of the same name
    // starts empty; a deleted user leaves every group.
    assert!(
        s.delete_object(&pool_id, ObjectKind::Group, "admins")
            .await
            .unwrap()
    );
    s.create_object(&object(&pool_id, ObjectKind::Group, "admins", json!({})))
        .await
        .unwrap();
    assert!(
        s.list_members(&pool_id, "admins", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.delete_user(&pool_id, "bob").await.unwrap());
    s.create_user(&user(&pool_id, "bob")).await.unwrap();
    assert_eq!(
        names(s.list_members(&pool_id, "readers", None, 10).await.unwrap()),
        ["alice", "carol"]
    );
}

pub(super) async fn auth_events(s: &dyn Store) {
    let pool_id = unique("us-east-1_evt");
    let event = |id: &str, at: i64| AuthEventRow {
        pool_id: pool_id.clone(),
        username_key: "alice".into(),
        event_id: id.into(),
        created_at: at,
        doc: json!({"EventType": "SignIn"}),
    };
    for (id, at) in [("a", 100), ("b", 300), ("c", 200), ("d", 300)] {
        s.insert_auth_event(&event(id, at), 0).await.unwrap();
    }
    let ids =
        |rows: Vec<AuthEventRow>| -> Vec<String> { rows.into_iter().map(|e| e.event_id).collect() };
    let first = s
        .list_auth_events(&pool_id, "alice", None, 2)
        .await
        .unwrap();
    assert_eq!(ids(first), ["d", "b"], "newest first, ties by id");
    let rest = s
        .list_auth_events(&pool_id, "alice", Some((300, "b")), 10)
        .await
        .unwrap();
    assert_eq!(ids(rest), ["c", "a"]);
    assert!(
        s.list_auth_events(&pool_id, "bob", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let mut e = s
        .get_auth_event(&pool_id, "alice", "c")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e, event("c", 200));
    e.doc = json!({"EventType": "SignIn", "EventFeedback": {"FeedbackValue": "Valid"}});
    assert!(s.update_auth_event(&e).await.unwrap());
    assert_eq!(
        s.get_auth_event(&pool_id, "alice", "c")
            .await
            .unwrap()
            .unwrap()
            .doc,
        e.doc
    );
    let mut missing = e.clone();
    missing.event_id = "zz".into();
    assert!(!s.update_auth_event(&missing).await.unwrap());

    // Inserting purges the user's events older than `keep_after`.
    s.insert_auth_event(&event("e", 400), 250).await.unwrap();
    let left = s
        .list_auth_events(&pool_id, "alice", None, 10)
        .await
        .unwrap();
    assert_eq!(ids(left), ["e", "d", "b"]);
    // Events leave with their user.
    s.create_user(&user(&pool_id, "alice")).await.unwrap();
    assert!(s.delete_user(&pool_id, "alice").await.unwrap());
    assert!(
        s.list_auth_events(&pool_id, "alice", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
