//! Session management: Get/SetUserPoolSessionConfiguration, their app-client twins,
//! ListUserSessions, RevokeUserSession and their Admin twins.
//!
//! A token session is what one sign-in began: its refresh token and every rotation of
//! it, which share the `origin_jti` that the access and ID tokens minted from them carry.
//! Its id (`tkn` and 25 letters and digits) is a keyed hash of that `origin_jti`, so the
//! id names the session without disclosing anything that works as a token. Revoking a
//! session revokes its refresh tokens, and GetUser and the other token-authorized
//! operations then refuse its access tokens (through `origin_jti`, as after RevokeToken).
//!
//! An SSO session is a sign-in at the hosted UI: its session cookie names a record (a
//! pool object, `sso` and 25 random letters and digits), which sign-out and revocation
//! delete, ending the cookie's single sign-on; the token sessions its authorization
//! codes begin name it as their origin (`OriginSessionId`, and `RevokeAssociatedSessions`
//! LINKED), carried in their refresh tokens' context through every renewal.
//!
//! Cognito tracks sessions only while the pool's `UserSessionTracking` is ENABLED and
//! keeps no record of the sessions begun before; idpool lists the token sessions begun
//! since tracking was last turned on, and, when a sign-in would take a user past the
//! pool's `MaxPerUser`, evicts their least recently used session first.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::*;
use idpool_store::{ClientRow, ObjectKind, PoolObjectRow, PoolRow, TokenSessionRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};

/// Where the pool's session configuration is kept in its settings document. Not a
/// member of UserPoolType, so DescribeUserPool never shows it.
pub const CONFIG_KEY: &str = "idpoolSessionConfiguration";
/// Where an app client's SSO session configuration is kept in its document.
const CLIENT_CONFIG_KEY: &str = "idpoolSSOSession";
/// Cognito's defaults: tracking off, 20 token sessions per user, SSO sessions silently
/// reused for 60 minutes.
const DEFAULT_MAX_PER_USER: i64 = 20;
const DEFAULT_SSO_MAX_VALIDITY_MINUTES: i64 = 60;
/// Cognito answers with every session in one page of at most 125.
const MAX_SESSIONS_LISTED: usize = 125;

struct SessionTracking {
    enabled: bool,
    max_per_user: i64,
    /// When tracking was last turned on: earlier sessions were never tracked.
    since: i64,
}

fn tracking(pool: &PoolRow) -> SessionTracking {
    let c = &pool.config[CONFIG_KEY];
    SessionTracking {
        enabled: c["UserSessionTracking"] == "ENABLED",
        max_per_user: c["TokenSession"]["MaxPerUser"]
            .as_i64()
            .unwrap_or(DEFAULT_MAX_PER_USER),
        since: c["TrackedSince"].as_i64().unwrap_or(0),
    }
}

/// Cognito's session tracking is a feature of its Essentials and Plus plans.
fn require_tier(pool: &PoolRow) -> ApiResult<()> {
    if pool.config["UserPoolTier"] == "LITE" {
        return Err(WireError::idp(
            E::FeatureUnavailableInTierException,
            "Session management requires the ESSENTIALS or PLUS feature plan.",
        ));
    }
    Ok(())
}

fn require_tracking(pool: &PoolRow) -> ApiResult<SessionTracking> {
    let t = tracking(pool);
    if !t.enabled {
        return Err(WireError::idp(
            E::OperationNotEnabledException,
            "Session tracking is not enabled for this user pool.",
        ));
    }
    Ok(t)
}

pub async fn get_user_pool_session_configuration(
    ctx: Ctx,
    req: GetUserPoolSessionConfigurationRequest,
) -> ApiResult<GetUserPoolSessionConfigurationResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let t = tracking(&pool);
    Ok(GetUserPoolSessionConfigurationResponse {
        user_pool_id: Some(pool.id.clone()),
        user_session_tracking: Some(tracking_name(t.enabled)),
        token_session: Some(UserPoolTokenSessionConfigType {
            max_per_user: t.max_per_user,
        }),
    })
}

fn tracking_name(enabled: bool) -> String {
    if enabled { "ENABLED" } else { "DISABLED" }.to_string()
}

pub async fn set_user_pool_session_configuration(
    ctx: Ctx,
    req: SetUserPoolSessionConfigurationRequest,
) -> ApiResult<SetUserPoolSessionConfigurationResponse> {
    let mut pool = load_pool(&ctx, &req.user_pool_id).await?;
    require_tier(&pool)?;
    let before = tracking(&pool);
    let enabled = req.user_session_tracking == "ENABLED";
    // Turning tracking on starts a fresh record; leaving it on keeps the one it has.
    let since = if enabled && before.enabled {
        before.since
    } else {
        ctx.now
    };
    pool.config[CONFIG_KEY] = json!({
        "UserSessionTracking": tracking_name(enabled),
        "TokenSession": {"MaxPerUser": req.token_session.max_per_user},
        "TrackedSince": since,
    });
    pool.updated_at = ctx.now;
    ctx.state.store.update_pool(&pool).await.wire()?;
    Ok(SetUserPoolSessionConfigurationResponse {
        user_pool_id: Some(pool.id.clone()),
        user_session_tracking: Some(tracking_name(enabled)),
        token_session: Some(req.token_session),
    })
}

pub async fn get_user_pool_client_session_configuration(
    ctx: Ctx,
    req: GetUserPoolClientSessionConfigurationRequest,
) -> ApiResult<GetUserPoolClientSessionConfigurationResponse> {
    let (client, _) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let minutes = client.config[CLIENT_CONFIG_KEY]["MaxValidityMinutes"]
        .as_i64()
        .unwrap_or(DEFAULT_SSO_MAX_VALIDITY_MINUTES);
    Ok(GetUserPoolClientSessionConfigurationResponse {
        user_pool_id: Some(client.pool_id.clone()),
        client_id: Some(client.client_id.clone()),
        sso_session: Some(ClientSSOSessionConfigType {
            max_validity_minutes: minutes,
        }),
    })
}

pub async fn set_user_pool_client_session_configuration(
    ctx: Ctx,
    req: SetUserPoolClientSessionConfigurationRequest,
) -> ApiResult<SetUserPoolClientSessionConfigurationResponse> {
    let (mut client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    require_tier(&pool)?;
    require_tracking(&pool)?;
    client.config[CLIENT_CONFIG_KEY] =
        json!({"MaxValidityMinutes": req.sso_session.max_validity_minutes});
    client.updated_at = ctx.now;
    ctx.state.store.update_client(&client).await.wire()?;
    Ok(SetUserPoolClientSessionConfigurationResponse {
        user_pool_id: Some(client.pool_id.clone()),
        client_id: Some(client.client_id.clone()),
        sso_session: Some(req.sso_session),
    })
}

/// Whether the hosted UI may sign a user in to `client` silently with the sign-in of
/// `auth_time` (seconds): with tracking on, only within the client's SSO session
/// `MaxValidityMinutes`.
pub fn sso_reusable(ctx: &Ctx, pool: &PoolRow, client: &ClientRow, auth_time: i64) -> bool {
    if !tracking(pool).enabled {
        return true;
    }
    let minutes = client.config[CLIENT_CONFIG_KEY]["MaxValidityMinutes"]
        .as_i64()
        .unwrap_or(DEFAULT_SSO_MAX_VALIDITY_MINUTES);
    ctx.now - auth_time * 1000 < minutes * 60_000
}

/// What ListUserSessions reports of where a session was last seen, recorded with each
/// refresh token while the pool tracks sessions (and never otherwise: Cognito keeps no
/// session records with tracking off).
pub fn session_context(ctx: &Ctx, pool: &PoolRow) -> Option<String> {
    if !tracking(pool).enabled {
        return None;
    }
    let mut doc = serde_json::Map::new();
    if let Some(ip) = ctx.source_ip {
        doc.insert("ip".into(), json!(ip.to_string()));
        if let Some(place) = super::auth_events::locate(ctx, ip) {
            doc.insert("city".into(), json!(place.city));
            doc.insert("country".into(), json!(place.country));
        }
    }
    if let Some(device) = super::threat_protection::device_name(ctx) {
        doc.insert("device".into(), json!(device));
    }
    if let Some(sso) = &ctx.sso_session {
        doc.insert("sso".into(), json!(sso));
    }
    Some(Value::Object(doc).to_string())
}

/// The context of a renewal of a token session whose last context was `previous`: where
/// the renewal came from, and still the SSO session the token session began in.
pub fn renewal_context(ctx: &Ctx, pool: &PoolRow, previous: Option<&str>) -> Option<String> {
    let fresh = session_context(ctx, pool)?;
    let origin = previous
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|p| p["sso"].as_str().map(String::from));
    match (origin, serde_json::from_str::<Value>(&fresh)) {
        (Some(sso), Ok(Value::Object(mut doc))) => {
            doc.insert("sso".into(), json!(sso));
            Some(Value::Object(doc).to_string())
        }
        _ => Some(fresh),
    }
}

/// A session id: its prefix (`tkn`, `sso`) and 25 letters and digits.
fn session_id(prefix: &str, from: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::from(prefix);
    id.extend(
        from.iter()
            .take(25)
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char),
    );
    id
}

/// The key of a user's SSO session record.
fn sso_key(username_key: &str, sid: &str) -> String {
    format!("{username_key} {sid}")
}

/// With tracking on, records the hosted-UI sign-in whose session cookie is about to be
/// set (an SSO session), and names it in `proof`, which the cookie carries.
pub async fn begin_sso_session(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: &UserRow,
    proof: &mut crate::oauth::authorize::SignInProof,
) -> ApiResult<()> {
    if !tracking(pool).enabled {
        return Ok(());
    }
    let sid = session_id("sso", &idpool_core::crypto::random_bytes(25));
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::SsoSession,
        key: sso_key(&user.username_key, &sid),
        doc: json!({
            "ClientId": client.client_id,
            "AuthTime": proof.auth_time,
            "LastActiveAt": ctx.now,
            "ExpiresAt": ctx.now + crate::oauth::authorize::SESSION_LIFETIME_S * 1000,
            "Context": session_context(ctx, pool),
        }),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    ctx.state.store.create_object(&row).await.wire()?;
    proof.sso = Some(sid);
    Ok(())
}

async fn sso_record(
    ctx: &Ctx,
    pool_id: &str,
    username_key: &str,
    sid: &str,
) -> Option<PoolObjectRow> {
    ctx.state
        .store
        .get_object(pool_id, ObjectKind::SsoSession, &sso_key(username_key, sid))
        .await
        .ok()
        .flatten()
        .filter(|r| r.doc["ExpiresAt"].as_i64().unwrap_or(0) > ctx.now)
}

/// Whether the SSO session a hosted-UI cookie names still stands: not revoked, signed
/// out of, or expired.
pub async fn sso_session_alive(ctx: &Ctx, pool_id: &str, username_key: &str, sid: &str) -> bool {
    sso_record(ctx, pool_id, username_key, sid).await.is_some()
}

/// A sign-in through the SSO session without a password: its latest activity.
pub async fn note_sso_use(ctx: &Ctx, pool: &PoolRow, username_key: &str, sid: &str) {
    if let Some(mut row) = sso_record(ctx, &pool.id, username_key, sid).await {
        row.doc["LastActiveAt"] = json!(ctx.now);
        if let Some(context) = session_context(ctx, pool) {
            row.doc["Context"] = json!(context);
        }
        row.updated_at = ctx.now;
        if let Err(e) = ctx.state.store.put_object(&row).await {
            tracing::warn!("recording an SSO session's activity failed: {e}");
        }
    }
}

/// Sign-out: the SSO session ends.
pub async fn end_sso_session(ctx: &Ctx, pool_id: &str, username_key: &str, sid: &str) {
    if let Err(e) = ctx
        .state
        .store
        .delete_object(pool_id, ObjectKind::SsoSession, &sso_key(username_key, sid))
        .await
    {
        tracing::warn!("ending an SSO session failed: {e}");
    }
}

/// The user's live SSO sessions, as (id, record).
async fn sso_sessions(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    since: i64,
) -> ApiResult<Vec<(String, PoolObjectRow)>> {
    let prefix = sso_key(&user.username_key, "");
    let mut live = Vec::new();
    for row in objects_with_prefix(ctx, &pool.id, ObjectKind::SsoSession, &prefix).await? {
        let sid = row.key[prefix.len()..].to_string();
        let auth_ms = row.doc["AuthTime"].as_i64().unwrap_or(0) * 1000;
        let alive = row.doc["ExpiresAt"].as_i64().unwrap_or(0) > ctx.now
            && auth_ms >= user.tokens_valid_after
            && row.created_at >= user.created_at
            && row.created_at >= since;
        if alive {
            live.push((sid, row));
        } else {
            // Expired or signed out everywhere: nothing can use it any more.
            ctx.state
                .store
                .delete_object(&pool.id, ObjectKind::SsoSession, &row.key)
                .await
                .wire()?;
        }
    }
    Ok(live)
}

/// The id ListUserSessions gives the token session of `origin_jti`.
fn token_session_id(ctx: &Ctx, origin_jti: &str) -> String {
    let digest = ctx
        .state
        .master
        .keyed_hash(format!("token-session\n{origin_jti}").as_bytes());
    session_id("tkn", &digest)
}

/// The SSO session a token session began in, if it began at the hosted UI of a pool
/// that tracked sessions.
fn origin_sso(row: &TokenSessionRow) -> Option<String> {
    let context: Value = serde_json::from_str(row.context.as_deref()?).ok()?;
    context["sso"].as_str().map(String::from)
}

/// The user's tracked, live token sessions.
async fn sessions(ctx: &Ctx, pool: &PoolRow, user: &UserRow) -> ApiResult<Vec<TokenSessionRow>> {
    let t = require_tracking(pool)?;
    let mut rows = ctx
        .state
        .store
        .list_token_sessions(&pool.id, &user.username_key, ctx.now)
        .await
        .wire()?;
    rows.retain(|r| r.created_at >= t.since);
    Ok(rows)
}

/// What a session's context says of where it was last seen.
fn seen(context: Option<&str>) -> (Option<String>, Option<String>, Option<SessionLocationType>) {
    let seen: Value = context
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    let text = |key: &str| seen[key].as_str().map(String::from);
    let location =
        (text("city").is_some() || text("country").is_some()).then(|| SessionLocationType {
            city: text("city"),
            country: text("country"),
        });
    (
        Some(text("device").unwrap_or_else(|| "unknown".into())),
        text("ip"),
        location,
    )
}

fn describe(ctx: &Ctx, row: &TokenSessionRow, current: Option<&str>) -> SessionDescriptionType {
    let (device_type, last_ip_address, last_location) = seen(row.context.as_deref());
    SessionDescriptionType {
        device_type,
        last_ip_address,
        last_location,
        session_id: Some(token_session_id(ctx, &row.origin_jti)),
        session_type: Some("TOKEN".into()),
        client_id: Some(row.client_id.clone()),
        create_date: Some(row.created_at as f64 / 1000.0),
        last_active_date: Some(row.last_active_at as f64 / 1000.0),
        origin_session_id: origin_sso(row),
        is_current_session: Some(current == Some(row.origin_jti.as_str())),
    }
}

fn describe_sso(sid: &str, row: &PoolObjectRow) -> SessionDescriptionType {
    let (device_type, last_ip_address, last_location) = seen(row.doc["Context"].as_str());
    let ms = |key: &str| row.doc[key].as_i64().map(|t| t as f64 / 1000.0);
    SessionDescriptionType {
        device_type,
        last_ip_address,
        last_location,
        session_id: Some(sid.to_string()),
        session_type: Some("SSO".into()),
        client_id: row.doc["ClientId"].as_str().map(String::from),
        create_date: Some(row.created_at as f64 / 1000.0),
        last_active_date: ms("LastActiveAt"),
        origin_session_id: None,
        // The caller's access token belongs to a token session, never to an SSO one.
        is_current_session: Some(false),
    }
}

/// Newest first, token and SSO sessions together.
async fn list(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    current: Option<&str>,
) -> ApiResult<Vec<SessionDescriptionType>> {
    let rows = sessions(ctx, pool, user).await?;
    let ssos = sso_sessions(ctx, pool, user, tracking(pool).since).await?;
    let mut all: Vec<SessionDescriptionType> = rows
        .iter()
        .map(|r| describe(ctx, r, current))
        .chain(ssos.iter().map(|(sid, r)| describe_sso(sid, r)))
        .collect();
    all.sort_by(|a, b| {
        b.create_date
            .partial_cmp(&a.create_date)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    all.truncate(MAX_SESSIONS_LISTED);
    Ok(all)
}

pub async fn list_user_sessions(
    ctx: Ctx,
    req: ListUserSessionsRequest,
) -> ApiResult<ListUserSessionsResponse> {
    let (pool, user, claims) = user_from_access_token(&ctx, &req.access_token).await?;
    let current = claims["origin_jti"].as_str();
    Ok(ListUserSessionsResponse {
        sessions: Some(list(&ctx, &pool, &user, current).await?),
        next_token: None,
    })
}

pub async fn admin_list_user_sessions(
    ctx: Ctx,
    req: AdminListUserSessionsRequest,
) -> ApiResult<AdminListUserSessionsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    Ok(AdminListUserSessionsResponse {
        sessions: Some(list(&ctx, &pool, &user, None).await?),
        next_token: None,
    })
}

/// Ends one of the user's sessions, and with `RevokeAssociatedSessions` LINKED the ones
/// linked to it: a token session's origin SSO session, or an SSO session's token
/// sessions. The caller's own token session is never among them.
async fn revoke(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    session_id: &str,
    linked: bool,
    current: Option<&str>,
) -> ApiResult<()> {
    let not_found = || {
        WireError::idp(
            E::ResourceNotFoundException,
            format!("Session {session_id} does not exist."),
        )
    };
    let itself = || {
        WireError::invalid_parameter(
            "A session cannot revoke itself: use GlobalSignOut or RevokeToken.",
        )
    };
    let rows = sessions(ctx, pool, user).await?;
    let ssos = sso_sessions(ctx, pool, user, tracking(pool).since).await?;
    let store = &ctx.state.store;
    let (token_sessions, sso_ids): (Vec<&TokenSessionRow>, Vec<String>) = if let Some(row) = rows
        .iter()
        .find(|r| token_session_id(ctx, &r.origin_jti) == session_id)
    {
        let origin = linked.then(|| origin_sso(row)).flatten();
        (vec![row], origin.into_iter().collect())
    } else if ssos.iter().any(|(sid, _)| sid == session_id) {
        let from_it: Vec<&TokenSessionRow> = if linked {
            rows.iter()
                .filter(|r| origin_sso(r).as_deref() == Some(session_id))
                .collect()
        } else {
            Vec::new()
        };
        (from_it, vec![session_id.to_string()])
    } else {
        return Err(not_found());
    };
    if token_sessions
        .iter()
        .any(|r| current == Some(r.origin_jti.as_str()))
    {
        return Err(itself());
    }
    for row in token_sessions {
        store
            .revoke_token_session(&pool.id, &user.username_key, &row.origin_jti, ctx.now)
            .await
            .wire()?;
    }
    for sid in sso_ids {
        store
            .delete_object(
                &pool.id,
                ObjectKind::SsoSession,
                &sso_key(&user.username_key, &sid),
            )
            .await
            .wire()?;
    }
    Ok(())
}

pub async fn revoke_user_session(
    ctx: Ctx,
    req: RevokeUserSessionRequest,
) -> ApiResult<RevokeUserSessionResponse> {
    let (pool, user, claims) = user_from_access_token(&ctx, &req.access_token).await?;
    let linked = req.revoke_associated_sessions.as_deref() == Some("LINKED");
    revoke(
        &ctx,
        &pool,
        &user,
        &req.session_id,
        linked,
        claims["origin_jti"].as_str(),
    )
    .await?;
    Ok(RevokeUserSessionResponse {})
}

pub async fn admin_revoke_user_session(
    ctx: Ctx,
    req: AdminRevokeUserSessionRequest,
) -> ApiResult<AdminRevokeUserSessionResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    let linked = req.revoke_associated_sessions.as_deref() == Some("LINKED");
    revoke(&ctx, &pool, &user, &req.session_id, linked, None).await?;
    Ok(AdminRevokeUserSessionResponse {})
}

/// Before a sign-in begins a new token session: with tracking on and the user at the
/// pool's `MaxPerUser`, their least recently used sessions end, as Cognito evicts them.
pub async fn make_room_for_new_session(ctx: &Ctx, pool: &PoolRow, user: &UserRow) -> ApiResult<()> {
    let t = tracking(pool);
    if !t.enabled {
        return Ok(());
    }
    let mut rows = sessions(ctx, pool, user).await?;
    let excess = (rows.len() as i64 + 1 - t.max_per_user).max(0) as usize;
    rows.sort_by_key(|r| (r.last_active_at, r.created_at));
    for row in rows.iter().take(excess) {
        ctx.state
            .store
            .revoke_token_session(&pool.id, &user.username_key, &row.origin_jti, ctx.now)
            .await
            .wire()?;
    }
    Ok(())
}

/// UpdateUserPool and UpdateUserPoolClient replace a pool's or client's settings; the
/// session configuration belongs to the session operations and survives them.
pub fn keep_configuration(old: &Value, new: &mut serde_json::Map<String, Value>) {
    for key in [CONFIG_KEY, CLIENT_CONFIG_KEY] {
        if let Some(c) = old.get(key) {
            new.insert(key.into(), c.clone());
        }
    }
}
