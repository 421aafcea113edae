//! The conformance suite: every backend runs `run_all` in its tests, so SQLite and
//! PostgreSQL are held to one behaviour. Each check uses fresh ids, so the suite can
//! run against a database that other tests use too.

mod pool_objects;
mod sync;

use crate::*;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

static SEQ: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{t:x}{n}")
}

pub async fn run_all(store: &dyn Store) {
    pools(store).await;
    clients(store).await;
    users(store).await;
    user_listing(store).await;
    codes(store).await;
    outbox(store).await;
    refresh_tokens(store).await;
    signing_keys_and_settings(store).await;
    single_use_sessions(store).await;
    devices(store).await;
    pool_objects::pool_objects(store).await;
    pool_objects::group_members(store).await;
    pool_objects::auth_events(store).await;
    identities(store).await;
    sync::sync(store).await;
}

/// Identity pools, and identities found by their login: one identity per login, guests
/// always new, deleting a pool or an identity frees the login.
async fn identities(s: &dyn Store) {
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

async fn single_use_sessions(s: &dyn Store) {
    let key = unique("session");
    assert!(!s.is_consumed(&key).await.unwrap());
    assert!(s.consume_once(&key, 2_000, 1_000).await.unwrap());
    assert!(s.is_consumed(&key).await.unwrap());
    assert!(
        !s.consume_once(&key, 2_000, 1_000).await.unwrap(),
        "a session is spent once"
    );
    // Concurrent consumers: exactly one wins.
    let key = unique("race");
    let mut wins = 0;
    let results = futures_join(s, &key).await;
    for r in results {
        if r {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    // Expired rows are purged by later calls but a purge never frees a live key.
    let old = unique("old");
    assert!(s.consume_once(&old, 10, 5).await.unwrap());
    let live = unique("live");
    assert!(s.consume_once(&live, i64::MAX, 5).await.unwrap());
    assert!(
        s.consume_once(&unique("later"), i64::MAX, 1_000)
            .await
            .unwrap()
    );
    assert!(!s.consume_once(&live, i64::MAX, 1_000).await.unwrap());
}

async fn futures_join(s: &dyn Store, key: &str) -> Vec<bool> {
    let (a, b, c, d) = tokio::join!(
        s.consume_once(key, 5_000, 1_000),
        s.consume_once(key, 5_000, 1_000),
        s.consume_once(key, 5_000, 1_000),
        s.consume_once(key, 5_000, 1_000)
    );
    vec![a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()]
}

async fn devices(s: &dyn Store) {
    let pool_id = unique("us-east-1_dev");
    let mut d = DeviceRow {
        pool_id: pool_id.clone(),
        username_key: "alice".into(),
        device_key: "us-east-1_b".into(),
        group_key: "-grp".into(),
        verifier: None,
        salt: None,
        remembered_status: None,
        attributes: serde_json::Map::new(),
        created_at: 1,
        updated_at: 1,
        last_authenticated_at: 1,
    };
    s.put_device(&d).await.unwrap();
    d.device_key = "us-east-1_a".into();
    d.verifier = Some("v".into());
    d.salt = Some("s".into());
    d.attributes.insert("device_name".into(), json!("phone"));
    s.put_device(&d).await.unwrap();
    d.remembered_status = Some("remembered".into());
    d.updated_at = 2;
    s.put_device(&d).await.unwrap();
    let got = s
        .get_device(&pool_id, "alice", "us-east-1_a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, d, "put replaces");
    assert!(
        s.get_device(&pool_id, "bob", "us-east-1_a")
            .await
            .unwrap()
            .is_none(),
        "devices belong to one user"
    );
    let page = s.list_devices(&pool_id, "alice", None, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].device_key, "us-east-1_a");
    let rest = s
        .list_devices(&pool_id, "alice", Some("us-east-1_a"), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].device_key, "us-east-1_b");
    assert!(
        s.delete_device(&pool_id, "alice", "us-east-1_a")
            .await
            .unwrap()
    );
    assert!(
        !s.delete_device(&pool_id, "alice", "us-east-1_a")
            .await
            .unwrap()
    );
    // Deleting the user deletes their devices.
    s.create_user(&user(&pool_id, "alice")).await.unwrap();
    assert!(s.delete_user(&pool_id, "alice").await.unwrap());
    assert!(
        s.list_devices(&pool_id, "alice", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

fn pool(id: &str) -> PoolRow {
    PoolRow {
        id: id.to_string(),
        name: "pool".into(),
        config: json!({"Policies": {"PasswordPolicy": {"MinimumLength": 8}}}),
        created_at: 1,
        updated_at: 1,
    }
}

pub fn user(pool_id: &str, username: &str) -> UserRow {
    let mut attributes = serde_json::Map::new();
    attributes.insert("email".into(), json!(format!("{username}@example.com")));
    UserRow {
        pool_id: pool_id.to_string(),
        username: username.to_string(),
        username_key: username.to_lowercase(),
        sub: unique("sub-"),
        status: "UNCONFIRMED".into(),
        enabled: true,
        attributes,
        password: Some(json!({"v": "verifier"})),
        extra: serde_json::Map::new(),
        tokens_valid_after: 0,
        created_at: 10,
        updated_at: 10,
    }
}

async fn pools(s: &dyn Store) {
    let id = unique("us-east-1_P");
    s.create_pool(&pool(&id)).await.unwrap();
    assert!(matches!(
        s.create_pool(&pool(&id)).await,
        Err(StoreError::Conflict(_))
    ));
    let mut got = s.get_pool(&id).await.unwrap().expect("pool stored");
    assert_eq!(got, pool(&id));
    got.name = "renamed".into();
    got.config = json!({"a": [1, 2]});
    s.update_pool(&got).await.unwrap();
    assert_eq!(s.get_pool(&id).await.unwrap().unwrap(), got);

    let id2 = format!("{id}z");
    s.create_pool(&pool(&id2)).await.unwrap();
    let page = s.list_pools(Some(&id), 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert!(page[0].id > id);

    // Deleting a pool takes its users and clients with it.
    s.create_user(&user(&id, "gone")).await.unwrap();
    assert!(s.delete_pool(&id).await.unwrap());
    assert!(!s.delete_pool(&id).await.unwrap());
    assert!(s.get_pool(&id).await.unwrap().is_none());
    assert!(s.get_user(&id, "gone").await.unwrap().is_none());
    s.delete_pool(&id2).await.unwrap();
}

async fn clients(s: &dyn Store) {
    let pool_id = unique("us-east-1_C");
    s.create_pool(&pool(&pool_id)).await.unwrap();
    let mk = |id: &str| ClientRow {
        client_id: id.to_string(),
        pool_id: pool_id.clone(),
        name: "app".into(),
        secret: Some("enc".into()),
        config: json!({"ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"]}),
        created_at: 5,
        updated_at: 5,
    };
    let a = unique("a");
    let b = unique("b");
    s.create_client(&mk(&a)).await.unwrap();
    s.create_client(&mk(&b)).await.unwrap();
    assert!(matches!(
        s.create_client(&mk(&a)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_client(&a).await.unwrap().unwrap(), mk(&a));
    let mut changed = mk(&a);
    changed.name = "renamed".into();
    s.update_client(&changed).await.unwrap();
    assert_eq!(s.get_client(&a).await.unwrap().unwrap().name, "renamed");
    let all = s.list_clients(&pool_id, None, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    let rest = s
        .list_clients(&pool_id, Some(&all[0].client_id), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert!(s.delete_client(&a).await.unwrap());
    assert!(s.get_client(&a).await.unwrap().is_none());
    s.delete_pool(&pool_id).await.unwrap();
    assert!(
        s.get_client(&b).await.unwrap().is_none(),
        "pool delete drops clients"
    );
}

async fn users(s: &dyn Store) {
    let pool_id = unique("us-east-1_U");
    s.create_pool(&pool(&pool_id)).await.unwrap();
    let alice = user(&pool_id, "Alice");
    s.create_user(&alice).await.unwrap();
    assert!(matches!(
        s.create_user(&user(&pool_id, "ALICE")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_user(&pool_id, "alice").await.unwrap().unwrap(), alice);
    let by_email = s
        .find_users_by(&pool_id, IndexedAttr::Email, "Alice@example.com")
        .await
        .unwrap();
    assert_eq!(by_email.len(), 1);
    let by_sub = s
        .find_users_by(&pool_id, IndexedAttr::Sub, &alice.sub)
        .await
        .unwrap();
    assert_eq!(by_sub[0].username, "Alice");

    let mut changed = alice.clone();
    changed.status = "CONFIRMED".into();
    changed.enabled = false;
    changed
        .attributes
        .insert("email".into(), json!("new@example.com"));
    changed
        .attributes
        .insert("custom:team".into(), json!("blue"));
    changed.extra.insert("mfa".into(), json!({"totp": true}));
    changed.password = None;
    changed.tokens_valid_after = 99;
    s.update_user(&changed).await.unwrap();
    assert_eq!(
        s.get_user(&pool_id, "alice").await.unwrap().unwrap(),
        changed
    );
    assert!(
        s.find_users_by(&pool_id, IndexedAttr::Email, "Alice@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.find_users_by(&pool_id, IndexedAttr::Email, "new@example.com")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.count_users(&pool_id).await.unwrap(), 1);
    assert!(s.delete_user(&pool_id, "alice").await.unwrap());
    assert!(!s.delete_user(&pool_id, "alice").await.unwrap());
    assert_eq!(s.count_users(&pool_id).await.unwrap(), 0);
    s.delete_pool(&pool_id).await.unwrap();
}

async fn user_listing(s: &dyn Store) {
    let pool_id = unique("us-east-1_L");
    s.create_pool(&pool(&pool_id)).await.unwrap();
    for name in ["bob", "bobby", "carol", "dave", "b%_x"] {
        let mut u = user(&pool_id, name);
        if name == "carol" {
            u.status = "CONFIRMED".into();
        }
        s.create_user(&u).await.unwrap();
    }
    // Keyset pagination: pages of 2 cover everyone exactly once, in order.
    let mut seen = Vec::new();
    let mut after: Option<UserCursor> = None;
    loop {
        let page = s
            .list_users(&pool_id, None, after.as_ref(), 2)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(UserCursor::after(page.last().unwrap(), None));
        seen.extend(page.into_iter().map(|u| u.username));
    }
    assert_eq!(seen, ["b%_x", "bob", "bobby", "carol", "dave"]);

    let f = |attr, op, value: &str| UserFilter {
        attr,
        op,
        value: value.to_string(),
    };
    let names = |rows: Vec<UserRow>| rows.into_iter().map(|u| u.username).collect::<Vec<_>>();
    let prefix = s
        .list_users(
            &pool_id,
            Some(&f(IndexedAttr::Username, FilterOp::Prefix, "bob")),
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(names(prefix), ["bob", "bobby"]);
    // LIKE metacharacters in a prefix are literal.
    let literal = s
        .list_users(
            &pool_id,
            Some(&f(IndexedAttr::Username, FilterOp::Prefix, "b%")),
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(names(literal), ["b%_x"]);
    let eq = s
        .list_users(
            &pool_id,
            Some(&f(IndexedAttr::Email, FilterOp::Equals, "bob@example.com")),
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(names(eq), ["bob"]);
    let status = s
        .list_users(
            &pool_id,
            Some(&f(IndexedAttr::UserStatus, FilterOp::Equals, "CONFIRMED")),
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(names(status), ["carol"]);
    let enabled = s
        .list_users(
            &pool_id,
            Some(&f(IndexedAttr::Enabled, FilterOp::Equals, "Enabled")),
            Some(&UserCursor {
                value: String::new(),
                username_key: "carol".into(),
            }),
            10,
        )
        .await
        .unwrap();
    assert_eq!(names(enabled), ["dave"]);

    // A prefix on an attribute lists in the attribute's order, and its cursor resumes
    // within users sharing a value.
    let mut more = Vec::new();
    for (name, email) in [
        ("x1", "z-b@example.com"),
        ("x2", "z-a@example.com"),
        ("x3", "z-b@example.com"),
        ("x0", "y@example.com"),
    ] {
        let mut u = user(&pool_id, name);
        u.attributes.insert("email".into(), json!(email));
        more.push(u);
    }
    s.create_users(&more).await.unwrap();
    let by_email = f(IndexedAttr::Email, FilterOp::Prefix, "z-");
    let mut listed = Vec::new();
    let mut after: Option<UserCursor> = None;
    loop {
        let page = s
            .list_users(&pool_id, Some(&by_email), after.as_ref(), 1)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(UserCursor::after(last, Some(&by_email)));
        listed.extend(names(page));
    }
    assert_eq!(listed, ["x2", "x1", "x3"]);

    // A batch with one taken username inserts nothing.
    let batch = vec![user(&pool_id, "new1"), user(&pool_id, "bob")];
    assert!(matches!(
        s.create_users(&batch).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.get_user(&pool_id, "new1").await.unwrap().is_none());
    s.delete_pool(&pool_id).await.unwrap();
}

async fn codes(s: &dyn Store) {
    let pool_id = unique("us-east-1_K");
    s.create_pool(&pool(&pool_id)).await.unwrap();
    let code = CodeRow {
        pool_id: pool_id.clone(),
        username_key: "u".into(),
        purpose: "signup".into(),
        code_hash: "h1".into(),
        expires_at: 100,
        failed_attempts: 0,
        created_at: 1,
    };
    s.put_code(&code).await.unwrap();
    assert_eq!(
        s.record_code_failure(&pool_id, "u", "signup")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.record_code_failure(&pool_id, "u", "signup")
            .await
            .unwrap(),
        2
    );
    let replaced = CodeRow {
        code_hash: "h2".into(),
        ..code.clone()
    };
    s.put_code(&replaced).await.unwrap();
    assert_eq!(
        s.get_code(&pool_id, "u", "signup").await.unwrap().unwrap(),
        replaced
    );
    assert!(
        s.get_code(&pool_id, "u", "forgot_password")
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.delete_code(&pool_id, "u", "signup").await.unwrap());
    assert!(
        !s.delete_code(&pool_id, "u", "signup").await.unwrap(),
        "single use"
    );
    s.delete_pool(&pool_id).await.unwrap();
}

async fn outbox(s: &dyn Store) {
    let pool_id = unique("us-east-1_O");
    for (i, who) in ["ann", "ben", "ann"].iter().enumerate() {
        s.push_message(&OutboxRow {
            id: unique("m"),
            pool_id: pool_id.clone(),
            username: who.to_string(),
            channel: "EMAIL".into(),
            destination: format!("{who}@example.com"),
            subject: Some("Your code".into()),
            message: format!("code {i}"),
            code: Some(i.to_string()),
            created_at: 100 + i as i64,
        })
        .await
        .unwrap();
    }
    let ann = s.list_messages(Some(&pool_id), Some("ann")).await.unwrap();
    assert_eq!(
        ann.iter().map(|m| m.message.as_str()).collect::<Vec<_>>(),
        ["code 0", "code 2"]
    );
    assert_eq!(
        s.list_messages(Some(&pool_id), None).await.unwrap().len(),
        3
    );
}

async fn refresh_tokens(s: &dyn Store) {
    let pool_id = unique("us-east-1_R");
    let mk = |hash: &str, user: &str| RefreshTokenRow {
        token_hash: hash.to_string(),
        pool_id: pool_id.clone(),
        client_id: "client".into(),
        username_key: user.to_string(),
        origin_jti: format!("origin-{hash}"),
        auth_time: 1,
        created_at: 1,
        expires_at: 1_000,
        revoked_at: None,
        rotated_at: None,
        scopes: None,
        device_key: None,
    };
    let (h1, h2, h3) = (unique("h"), unique("h"), unique("h"));
    s.insert_refresh_token(&mk(&h1, "u")).await.unwrap();
    let h4 = unique("h");
    let scoped = RefreshTokenRow {
        scopes: Some("openid email api/read".into()),
        device_key: Some("us-east-1_5d0c1e9a-7f2b-4c1d-9e8f-0a1b2c3d4e5f".into()),
        ..mk(&h4, "u")
    };
    s.insert_refresh_token(&scoped).await.unwrap();
    assert_eq!(s.get_refresh_token(&h4).await.unwrap().unwrap(), scoped);
    s.insert_refresh_token(&mk(&h2, "u")).await.unwrap();
    s.insert_refresh_token(&mk(&h3, "other")).await.unwrap();
    assert_eq!(
        s.get_refresh_token(&h1).await.unwrap().unwrap(),
        mk(&h1, "u")
    );
    assert!(s.revoke_refresh_token(&h1, 50).await.unwrap());
    assert_eq!(
        s.get_refresh_token(&h1).await.unwrap().unwrap().revoked_at,
        Some(50)
    );
    assert!(!s.revoke_refresh_token("no-such-token", 50).await.unwrap());
    s.revoke_user_refresh_tokens(&pool_id, "u", 60)
        .await
        .unwrap();
    let revoked = |row: Option<RefreshTokenRow>| row.unwrap().revoked_at;
    assert_eq!(revoked(s.get_refresh_token(&h2).await.unwrap()), Some(60));
    assert_eq!(
        revoked(s.get_refresh_token(&h1).await.unwrap()),
        Some(50),
        "first revocation time kept"
    );
    assert_eq!(
        revoked(s.get_refresh_token(&h3).await.unwrap()),
        None,
        "other users untouched"
    );

    let u = user(&pool_id, "sessioned");
    s.create_user(&u).await.unwrap();
    let (found, revoked) = s
        .get_user_for_session(&pool_id, "sessioned", &format!("origin-{h3}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found, revoked), (u.clone(), false));
    let (_, revoked) = s
        .get_user_for_session(&pool_id, "sessioned", &format!("origin-{h1}"))
        .await
        .unwrap()
        .unwrap();
    assert!(revoked);
    assert!(
        s.get_user_for_session(&pool_id, "nobody", "x")
            .await
            .unwrap()
            .is_none()
    );
    refresh_token_rotation(s, &pool_id).await;
}

/// GetTokensFromRefreshToken on a rotating client: a token rotates once without a grace
/// period, any number of times within one, and revoking any token of the session
/// revokes all of them.
async fn refresh_token_rotation(s: &dyn Store, pool_id: &str) {
    let session = unique("origin");
    let mk = |hash: &str| RefreshTokenRow {
        token_hash: hash.to_string(),
        pool_id: pool_id.to_string(),
        client_id: "client".into(),
        username_key: "rotating".into(),
        origin_jti: session.clone(),
        auth_time: 1,
        created_at: 100,
        expires_at: 10_000,
        revoked_at: None,
        rotated_at: None,
        scopes: None,
        device_key: None,
    };
    let (first, second, third, fourth) = (unique("r"), unique("r"), unique("r"), unique("r"));
    s.insert_refresh_token(&mk(&first)).await.unwrap();
    assert!(
        s.rotate_refresh_token(&first, 200, 0, &mk(&second))
            .await
            .unwrap()
    );
    let old = s.get_refresh_token(&first).await.unwrap().unwrap();
    assert_eq!((old.rotated_at, old.expires_at), (Some(200), 10_000));
    assert!(
        !s.rotate_refresh_token(&first, 200, 0, &mk(&third))
            .await
            .unwrap(),
        "no grace period: a token rotates once"
    );
    assert!(
        s.get_refresh_token(&third).await.unwrap().is_none(),
        "nothing stored"
    );

    // Within a 60 s grace period the rotated token still rotates; after it, not.
    assert!(
        s.rotate_refresh_token(&second, 1_000, 60_000, &mk(&third))
            .await
            .unwrap()
    );
    assert!(
        s.rotate_refresh_token(&second, 5_000, 60_000, &mk(&fourth))
            .await
            .unwrap()
    );
    let old = s.get_refresh_token(&second).await.unwrap().unwrap();
    assert_eq!(old.rotated_at, Some(1_000), "first rotation time kept");
    assert_eq!(old.expires_at, 10_000, "expiry never extended");
    let late = unique("r");
    assert!(
        !s.rotate_refresh_token(&second, 10_000, 60_000, &mk(&late))
            .await
            .unwrap()
    );
    assert!(
        !s.rotate_refresh_token("no-such-token", 1_000, 60_000, &mk(&late))
            .await
            .unwrap()
    );

    assert!(s.revoke_refresh_token(&third, 6_000).await.unwrap());
    for hash in [&first, &second, &third, &fourth] {
        assert_eq!(
            s.get_refresh_token(hash).await.unwrap().unwrap().revoked_at,
            Some(6_000),
            "the whole session is revoked"
        );
    }
    assert!(
        !s.rotate_refresh_token(&fourth, 6_001, 60_000, &mk(&late))
            .await
            .unwrap()
    );
}

async fn signing_keys_and_settings(s: &dyn Store) {
    let pool_id = unique("us-east-1_S");
    let key = |kid: &str, at: i64| SigningKeyRow {
        pool_id: pool_id.clone(),
        kid: kid.to_string(),
        private_key: "enc".into(),
        created_at: at,
    };
    let (k1, k2) = (unique("k"), unique("k"));
    s.insert_signing_key(&key(&k1, 1)).await.unwrap();
    s.insert_signing_key(&key(&k2, 2)).await.unwrap();
    assert!(matches!(
        s.insert_signing_key(&key(&k1, 3)).await,
        Err(StoreError::Conflict(_))
    ));
    let keys = s.list_signing_keys(&pool_id).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>(),
        [k2, k1]
    );

    let name = unique("setting-");
    assert!(s.get_setting(&name).await.unwrap().is_none());
    assert_eq!(
        s.put_setting_if_absent(&name, "first").await.unwrap(),
        "first"
    );
    assert_eq!(
        s.put_setting_if_absent(&name, "second").await.unwrap(),
        "first"
    );
    assert_eq!(
        s.get_setting(&name).await.unwrap().as_deref(),
        Some("first")
    );
}
