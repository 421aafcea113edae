//! Identity pools and their identities.

use super::unique;
use crate::*;
use serde_json::json;

/// Identity pools, and identities found by their login: one identity per login, guests
/// always new, deleting a pool or an identity frees the login.
pub async fn identities(s: &dyn Store) {
    let pool = IdentityPoolRow {
        id: unique("us-east-1:pool"),
        name: "ids".into(),
        config: json!({"AllowUnauthenticatedIdentities": true}),
        created_at: 1,
        updated_at: 1,
    };
    s.create_identity_pool(&pool).await.unwrap();
    assert!(matches!(
        s.create_identity_pool(&pool).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_identity_pool(&pool.id).await.unwrap().unwrap(), pool);
    let renamed = IdentityPoolRow {
        name: "renamed".into(),
        updated_at: 2,
        ..pool.clone()
    };
    s.update_identity_pool(&renamed).await.unwrap();
    assert_eq!(
        s.get_identity_pool(&pool.id).await.unwrap().unwrap(),
        renamed
    );
    let listed = s.list_identity_pools(None, 1000).await.unwrap();
    assert!(listed.iter().any(|p| p.id == pool.id));
    assert!(
        s.list_identity_pools(Some(&pool.id), 1000)
            .await
            .unwrap()
            .iter()
            .all(|p| p.id > pool.id)
    );

    let identity = |n: &str| IdentityRow {
        identity_id: format!("{}-{n}", unique("us-east-1:id")),
        pool_id: pool.id.clone(),
        logins: vec![],
        created_at: 5,
        updated_at: 5,
    };
    let alice_key = login_key("provider", "alice");
    assert!(
        s.find_identity_by_login(&pool.id, &alice_key)
            .await
            .unwrap()
            .is_none()
    );
    let alice = s
        .create_identity(&identity("a"), std::slice::from_ref(&alice_key))
        .await
        .unwrap();
    assert_eq!(alice.logins, vec!["provider".to_string()]);
    assert_eq!(
        s.find_identity_by_login(&pool.id, &alice_key)
            .await
            .unwrap()
            .unwrap(),
        alice,
        "a login always finds its identity"
    );
    assert!(
        matches!(
            s.create_identity(&identity("b"), std::slice::from_ref(&alice_key))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "a login links to one identity"
    );
    assert!(
        s.find_identity_by_login("us-east-1:other", &alice_key)
            .await
            .unwrap()
            .is_none(),
        "logins are per pool"
    );
    let guest = s.create_identity(&identity("g"), &[]).await.unwrap();
    assert_ne!(guest.identity_id, alice.identity_id);
    assert!(guest.logins.is_empty());
    assert_eq!(
        s.get_identity(&alice.identity_id).await.unwrap().unwrap(),
        alice
    );
    let listed = s.list_identities(&pool.id, None, 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].identity_id < listed[1].identity_id);
    let page = s
        .list_identities(&pool.id, Some(&listed[0].identity_id), 10)
        .await
        .unwrap();
    assert_eq!(page, vec![listed[1].clone()]);

    // Linking: more logins to one identity; a login of another identity is refused
    // and changes nothing.
    let dev_a = login_key("dev.example", "user-a");
    let dev_b = login_key("dev.example", "user-b");
    let linked = s
        .link_logins(&alice.identity_id, &[dev_a.clone(), alice_key.clone()], 9)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        linked.logins,
        vec!["dev.example".to_string(), "provider".to_string()]
    );
    assert_eq!(linked.updated_at, 9);
    assert_eq!(
        s.identity_login_keys(&alice.identity_id).await.unwrap(),
        vec![dev_a.clone(), alice_key.clone()]
    );
    let bob = s
        .create_identity(&identity("bob"), std::slice::from_ref(&dev_b))
        .await
        .unwrap();
    assert!(matches!(
        s.link_logins(&bob.identity_id, &[login_key("x", "1"), dev_a.clone()], 10)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.identity_login_keys(&bob.identity_id).await.unwrap(),
        vec![dev_b.clone()],
        "a refused link stores nothing"
    );
    assert!(
        s.link_logins("us-east-1:none", &[], 10)
            .await
            .unwrap()
            .is_none()
    );

    // Merging moves the logins and removes the source identity.
    let merged = s
        .merge_identities(&bob.identity_id, &alice.identity_id, 11)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(merged.identity_id, alice.identity_id);
    assert!(s.get_identity(&bob.identity_id).await.unwrap().is_none());
    assert_eq!(
        s.find_identity_by_login(&pool.id, &dev_b)
            .await
            .unwrap()
            .unwrap()
            .identity_id,
        alice.identity_id
    );
    assert!(
        s.merge_identities(&bob.identity_id, &alice.identity_id, 12)
            .await
            .unwrap()
            .is_none()
    );

    // Unlinking frees the login; the identity's providers follow.
    let unlinked = s
        .unlink_logins(&alice.identity_id, &[dev_a.clone(), dev_b.clone()], 13)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unlinked.logins, vec!["provider".to_string()]);
    assert!(
        s.find_identity_by_login(&pool.id, &dev_a)
            .await
            .unwrap()
            .is_none()
    );
    // Unlinking a login of another identity does nothing.
    let other = s
        .create_identity(&identity("o"), std::slice::from_ref(&dev_a))
        .await
        .unwrap();
    s.unlink_logins(&alice.identity_id, std::slice::from_ref(&dev_a), 14)
        .await
        .unwrap();
    assert_eq!(
        s.find_identity_by_login(&pool.id, &dev_a)
            .await
            .unwrap()
            .unwrap()
            .identity_id,
        other.identity_id
    );

    assert!(s.delete_identity(&alice.identity_id).await.unwrap());
    assert!(!s.delete_identity(&alice.identity_id).await.unwrap());
    let fresh = s
        .create_identity(&identity("c"), std::slice::from_ref(&alice_key))
        .await
        .unwrap();
    assert_ne!(
        fresh.identity_id, alice.identity_id,
        "a deleted identity frees its login"
    );

    assert!(s.delete_identity_pool(&pool.id).await.unwrap());
    assert!(s.get_identity_pool(&pool.id).await.unwrap().is_none());
    assert!(s.get_identity(&fresh.identity_id).await.unwrap().is_none());
    assert!(!s.delete_identity_pool(&pool.id).await.unwrap());
}
