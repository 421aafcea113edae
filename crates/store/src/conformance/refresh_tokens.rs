//! Refresh tokens: revocation by session and by user, and rotation.

use super::{unique, user};
use crate::*;

pub async fn refresh_tokens(s: &dyn Store) {
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
        context: None,
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
    token_sessions(s, &pool_id).await;
}

/// ListUserSessions' view: one session per origin, live ones only, and revoking one
/// session leaves the others.
async fn token_sessions(s: &dyn Store, pool_id: &str) {
    let user = unique("sessions");
    let mk = |hash: &str, origin: &str, client: &str, created_at: i64| RefreshTokenRow {
        token_hash: hash.to_string(),
        pool_id: pool_id.to_string(),
        client_id: client.into(),
        username_key: user.clone(),
        origin_jti: origin.into(),
        auth_time: created_at,
        created_at,
        expires_at: created_at + 1_000,
        revoked_at: None,
        rotated_at: None,
        scopes: None,
        device_key: None,
        context: None,
    };
    let (a, b, c, d) = (unique("a"), unique("b"), unique("c"), unique("d"));
    s.insert_refresh_token(&mk(&unique("h"), &a, "web", 10))
        .await
        .unwrap();
    // A rotation of session a: the session's last activity moves, its start does not.
    s.insert_refresh_token(&RefreshTokenRow {
        context: Some(r#"{"ip":"192.0.2.7"}"#.into()),
        ..mk(&unique("h"), &a, "web", 40)
    })
    .await
    .unwrap();
    // Session b renews without rotation: its one token records the use.
    let phone_token = unique("h");
    s.insert_refresh_token(&mk(&phone_token, &b, "phone", 20))
        .await
        .unwrap();
    s.note_refresh_token_use(&phone_token, 45, r#"{"ip":"198.51.100.9"}"#)
        .await
        .unwrap();
    s.insert_refresh_token(&mk(&unique("h"), &c, "web", 5))
        .await
        .unwrap();
    let ended = unique("h");
    s.insert_refresh_token(&mk(&ended, &d, "web", 30))
        .await
        .unwrap();
    s.revoke_refresh_token(&ended, 35).await.unwrap();

    let sessions = s.list_token_sessions(pool_id, &user, 1_010).await.unwrap();
    assert_eq!(
        sessions,
        vec![
            TokenSessionRow {
                origin_jti: a.clone(),
                client_id: "web".into(),
                created_at: 10,
                last_active_at: 40,
                expires_at: 1_040,
                context: Some(r#"{"ip":"192.0.2.7"}"#.into()),
            },
            TokenSessionRow {
                origin_jti: b.clone(),
                client_id: "phone".into(),
                created_at: 20,
                last_active_at: 45,
                expires_at: 1_020,
                context: Some(r#"{"ip":"198.51.100.9"}"#.into()),
            },
        ],
        "c has expired and d is revoked; oldest first, each with its last activity's time and context"
    );
    assert!(
        !s.revoke_token_session(pool_id, "someone-else", &b, 50)
            .await
            .unwrap(),
        "another user's session is not found"
    );
    assert!(
        s.revoke_token_session(pool_id, &user, &b, 50)
            .await
            .unwrap()
    );
    let left = s.list_token_sessions(pool_id, &user, 1_010).await.unwrap();
    assert_eq!(
        left.iter()
            .map(|t| t.origin_jti.as_str())
            .collect::<Vec<_>>(),
        vec![a.as_str()]
    );
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
        context: None,
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
