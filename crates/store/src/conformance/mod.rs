//! The conformance suite: every backend runs `run_all` in its tests, so SQLite and
//! PostgreSQL are held to one behaviour. Each check uses fresh ids, so the suite can
//! run against a database that other tests use too.

mod identities;
mod pool_objects;
mod refresh_tokens;
mod sync;
mod user_data_history;

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
    refresh_tokens::refresh_tokens(store).await;
    signing_keys_and_settings(store).await;
    single_use_sessions(store).await;
    devices(store).await;
    pool_objects::pool_objects(store).await;
    pool_objects::group_members(store).await;
    pool_objects::auth_events(store).await;
    identities::identities(store).await;
    sync::sync(store).await;
    user_data_history::user_data_history(store).await;
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
