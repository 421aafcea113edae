//! Conformance checks of `UserDataHistoryStore`: every write path journals the user
//! data, and the journal rebuilds it as it was at an instant.

use super::{unique, user};
use crate::*;
use serde_json::json;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Waits until the clock has moved past `t`, so a change made next is strictly after it.
async fn past(t: i64) {
    while now_ms() <= t {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

fn group(pool_id: &str, name: &str, precedence: i64) -> PoolObjectRow {
    PoolObjectRow {
        pool_id: pool_id.into(),
        kind: ObjectKind::Group,
        key: name.into(),
        doc: json!({"GroupName": name, "Precedence": precedence}),
        created_at: 1,
        updated_at: 1,
    }
}

pub(super) async fn user_data_history(s: &dyn Store) {
    let pool_id = unique("us-east-1_hist");
    // Before the instant: alice and bob, group staff (alice a member).
    let alice = user(&pool_id, "alice");
    let bob = user(&pool_id, "bob");
    s.create_user(&alice).await.unwrap();
    s.create_user(&bob).await.unwrap();
    s.create_object(&group(&pool_id, "staff", 1)).await.unwrap();
    s.add_member(&pool_id, "staff", "alice").await.unwrap();
    // The journal's clock is the database's: step clear of the last write's millisecond
    // before taking the instant, and of the instant before writing again.
    past(now_ms() + 2).await;
    let t = now_ms();
    past(t + 2).await;
    assert_eq!(
        s.user_data_at(&pool_id, t).await.unwrap(),
        UserDataAt::default(),
        "nothing changed after the instant"
    );

    // After it: alice changed twice, bob deleted, carol created, staff changed and
    // a new group made, alice's membership dropped and carol's added.
    let mut changed = alice.clone();
    changed.status = "CONFIRMED".into();
    s.update_user(&changed).await.unwrap();
    changed.enabled = false;
    s.update_user(&changed).await.unwrap();
    s.delete_user(&pool_id, "bob").await.unwrap();
    s.create_user(&user(&pool_id, "carol")).await.unwrap();
    s.put_object(&group(&pool_id, "staff", 9)).await.unwrap();
    s.create_object(&group(&pool_id, "new", 1)).await.unwrap();
    s.remove_member(&pool_id, "staff", "alice").await.unwrap();
    s.add_member(&pool_id, "staff", "carol").await.unwrap();
    // Not user data: other pool objects are configuration.
    s.put_object(&PoolObjectRow {
        kind: ObjectKind::ResourceServer,
        ..group(&pool_id, "https://api", 1)
    })
    .await
    .unwrap();

    let at = s.user_data_at(&pool_id, t).await.unwrap();
    let users: Vec<(&str, Option<&UserRow>)> = at
        .users
        .iter()
        .map(|(k, u)| (k.as_str(), u.as_ref()))
        .collect();
    assert_eq!(
        users,
        vec![
            ("alice", Some(&alice)),
            ("bob", Some(&bob)),
            ("carol", None)
        ],
        "each user as it was at the instant, the first of several changes winning"
    );
    let groups: Vec<(&str, Option<i64>)> = at
        .groups
        .iter()
        .map(|(k, g)| {
            (
                k.as_str(),
                g.as_ref().map(|g| g.doc["Precedence"].as_i64().unwrap()),
            )
        })
        .collect();
    assert_eq!(groups, vec![("new", None), ("staff", Some(1))]);
    assert_eq!(
        at.memberships,
        vec![
            (("staff".into(), "alice".into()), true),
            (("staff".into(), "carol".into()), false)
        ]
    );
    // Deleting bob deleted nothing else of his that is journaled; another pool's
    // journal is apart.
    assert_eq!(
        s.user_data_at(&unique("us-east-1_other"), t).await.unwrap(),
        UserDataAt::default()
    );

    // A later instant sees only what changed after it.
    past(now_ms() + 2).await;
    let t2 = now_ms();
    past(t2 + 2).await;
    s.delete_object(&pool_id, ObjectKind::Group, "new")
        .await
        .unwrap();
    let at = s.user_data_at(&pool_id, t2).await.unwrap();
    assert!(at.users.is_empty() && at.memberships.is_empty());
    assert_eq!(at.groups.len(), 1);
    assert_eq!(at.groups[0].1.as_ref().unwrap().doc["Precedence"], 1);

    // Pruning forgets what is older than its bound (of every pool).
    past(now_ms()).await;
    assert!(s.prune_user_data_history(now_ms()).await.unwrap() >= 10);
    assert_eq!(
        s.user_data_at(&pool_id, t).await.unwrap(),
        UserDataAt::default()
    );

    // Deleting the pool leaves no journal of it behind.
    past(now_ms() + 2).await;
    let t3 = now_ms();
    past(t3 + 2).await;
    s.delete_pool(&pool_id).await.unwrap();
    assert_eq!(
        s.user_data_at(&pool_id, t3).await.unwrap(),
        UserDataAt::default()
    );
}
