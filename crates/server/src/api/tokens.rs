//! Tokens: the pool's signing keys, issuing ID/access/refresh tokens (with the
//! PreTokenGeneration trigger), and reading tokens back: ID tokens for identity pools,
//! access tokens for the operations that take one.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::*;
use crate::verified_tokens::VerifiedToken;
use idpool_core::crypto::{self, sha256_hex};
use idpool_core::tokens::claims::{self, Lifetimes, TokenSubject};
use idpool_core::tokens::jwt;
use idpool_core::tokens::keys::SigningKey;
use idpool_core::{DomainError, ids};
use idpool_store::{ClientRow, PoolRow, RefreshTokenRow, SigningKeyRow, StoreError, UserRow};
use idpool_wire::shapes::cognito_idp::AuthenticationResultType;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};
use std::sync::Arc;

pub fn issuer(ctx: &Ctx, pool_id: &str) -> String {
    format!("{}/{pool_id}", ctx.state.public_url)
}

/// The pool's signing keys, newest first, creating the first one on demand. Keys are
/// rows in the store so every node signs and verifies with the same set.
pub async fn pool_keys(ctx: &Ctx, pool_id: &str) -> ApiResult<Arc<Vec<Arc<SigningKey>>>> {
    let keys = load_keys(ctx, pool_id, true).await?;
    keys.ok_or_else(|| WireError::idp(E::InternalErrorException, "no signing key"))
}

/// The key new tokens of the pool are signed with: its newest.
pub async fn signing_key(ctx: &Ctx, pool_id: &str) -> ApiResult<Arc<SigningKey>> {
    pool_keys(ctx, pool_id)
        .await?
        .first()
        .cloned()
        .ok_or_else(|| WireError::idp(E::InternalErrorException, "no signing key"))
}

/// What a user's tokens say about them whichever way they are minted (sign-in,
/// refresh, token exchange): the pool's issuer, the attributes a token may carry, and
/// the group claims.
pub struct UserTokenFacts {
    pub issuer: String,
    pub attributes: serde_json::Map<String, Value>,
    pub groups: idpool_core::groups::GroupClaims,
}

impl UserTokenFacts {
    pub async fn of(ctx: &Ctx, pool_id: &str, user: &UserRow) -> ApiResult<UserTokenFacts> {
        let mut attributes = user.attributes.clone();
        attributes.retain(|k, _| !k.starts_with("dev:"));
        Ok(UserTokenFacts {
            issuer: issuer(ctx, pool_id),
            attributes,
            groups: super::groups::token_group_claims(ctx, pool_id, user).await?,
        })
    }

    /// The claims' subject for tokens of `client`, from the sign-in of `auth_time`
    /// (seconds) and session `origin_jti`.
    pub fn subject<'a>(
        &'a self,
        client_id: &'a str,
        user: &'a UserRow,
        auth_time: i64,
        origin_jti: &'a str,
        event_id: &'a str,
    ) -> TokenSubject<'a> {
        TokenSubject {
            issuer: &self.issuer,
            client_id,
            username: &user.username,
            sub: &user.sub,
            attributes: &self.attributes,
            groups: &self.groups,
            auth_time,
            origin_jti,
            event_id,
        }
    }
}

/// Loads (and caches) a pool's keys; creates the first one only when `create`.
pub(crate) async fn load_keys(
    ctx: &Ctx,
    pool_id: &str,
    create: bool,
) -> ApiResult<Option<Arc<Vec<Arc<SigningKey>>>>> {
    if let Some(k) = ctx.state.signing_keys.read().expect("lock").get(pool_id) {
        return Ok(Some(k.clone()));
    }
    let store = &ctx.state.store;
    let mut rows = store.list_signing_keys(pool_id).await.wire()?;
    if rows.is_empty() {
        if !create {
            return Ok(None);
        }
        let (key, encrypted) = SigningKey::generate(&ctx.state.master).wire()?;
        match store
            .insert_signing_key(&SigningKeyRow {
                pool_id: pool_id.into(),
                kid: key.kid.clone(),
                private_key: encrypted,
                created_at: ctx.now,
            })
            .await
        {
            // Another node created the first key at the same moment: use theirs.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e).wire(),
        }
        rows = store.list_signing_keys(pool_id).await.wire()?;
    }
    let keys: Vec<Arc<SigningKey>> = rows
        .iter()
        .map(|r| SigningKey::load(&ctx.state.master, &r.kid, &r.private_key).map(Arc::new))
        .collect::<Result<_, DomainError>>()
        .wire()?;
    let keys = Arc::new(keys);
    ctx.state
        .signing_keys
        .write()
        .expect("lock")
        .insert(pool_id.to_string(), keys.clone());
    Ok(Some(keys))
}

pub fn forget_pool_keys(ctx: &Ctx, pool_id: &str) {
    ctx.state
        .signing_keys
        .write()
        .expect("lock")
        .remove(pool_id);
}

/// Mints ID and access tokens (and a refresh token when `refresh` is None) for a
/// successful sign-in. A refresh sign-in passes its stored token row to keep the
/// session's `origin_jti` and `auth_time`.
pub async fn issue_tokens(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: &UserRow,
    refresh: Option<&RefreshTokenRow>,
) -> ApiResult<AuthenticationResultType> {
    issue_tokens_for(ctx, pool, client, user, refresh, &OAuthGrant::default()).await
}

/// What an OAuth authorization adds to the tokens of a sign-in.
#[derive(Default)]
pub struct OAuthGrant<'a> {
    /// Granted scopes, space-separated. None: the API flows, whose access tokens carry
    /// `aws.cognito.signin.user.admin` (a refresh keeps what its authorization granted).
    pub scopes: Option<&'a str>,
    /// The authorization request's `nonce`, echoed in the ID token (OIDC Core 3.1.3.6).
    pub nonce: Option<&'a str>,
    /// When the user signed in at the hosted UI (seconds), for `auth_time`.
    pub auth_time: Option<i64>,
    /// How the user signed in at the hosted UI (RFC 8176 `amr` values), for the ID
    /// token's `amr`.
    pub amr: &'a [String],
    /// The implicit flow hands out no refresh token (it would sit in a URL fragment).
    pub no_refresh_token: bool,
    /// The tracked device of an API sign-in: the access token's `device_key` claim, and
    /// the device its refresh token is bound to.
    pub device_key: Option<&'a str>,
}

/// `issue_tokens` for an OAuth authorization: the access token carries the granted
/// scopes, an ID token is minted only with `openid`, and it carries `nonce` and
/// `at_hash`.
pub async fn issue_tokens_for(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: &UserRow,
    refresh: Option<&RefreshTokenRow>,
    grant: &OAuthGrant<'_>,
) -> ApiResult<AuthenticationResultType> {
    let scopes = grant
        .scopes
        .or_else(|| refresh.and_then(|r| r.scopes.as_deref()));
    let key = signing_key(ctx, &pool.id).await?;
    let lifetimes = Lifetimes::from_client_config(&client.config);
    let now_s = ctx.now_s();
    let origin_jti = refresh
        .map(|r| r.origin_jti.clone())
        .unwrap_or_else(ids::uuid);
    let auth_time = refresh
        .map(|r| r.auth_time)
        .or(grant.auth_time)
        .unwrap_or(now_s);
    let event_id = ids::uuid();
    let facts = UserTokenFacts::of(ctx, &pool.id, user).await?;
    let subject = facts.subject(&client.client_id, user, auth_time, &origin_jti, &event_id);
    let mut id_claims = claims::id_token_claims(&subject, now_s, lifetimes.id, &ids::uuid());
    let mut access_claims =
        claims::access_token_claims(&subject, now_s, lifetimes.access, &ids::uuid());
    let device_key = grant
        .device_key
        .or_else(|| refresh.and_then(|r| r.device_key.as_deref()));
    if let Some(device_key) = device_key {
        access_claims["device_key"] = json!(device_key);
    }
    pre_token_generation(
        ctx,
        pool,
        client,
        user,
        &facts.groups,
        if refresh.is_some() {
            "TokenGeneration_RefreshTokens"
        } else {
            ctx.token_source
        },
        &mut id_claims,
        &mut access_claims,
    )
    .await?;
    if let Some(scopes) = scopes {
        access_claims["scope"] = json!(scopes);
    }
    let access_token = jwt::sign(&key, &access_claims).wire()?;
    let wants_id_token = scopes.is_none_or(|s| s.split_whitespace().any(|s| s == "openid"));
    let id_token = if wants_id_token {
        if !grant.amr.is_empty() {
            id_claims["amr"] = json!(grant.amr);
        }
        if let Some(nonce) = grant.nonce {
            id_claims["nonce"] = json!(nonce);
        }
        if scopes.is_some() {
            id_claims["at_hash"] = json!(at_hash(&access_token));
        }
        Some(jwt::sign(&key, &id_claims).wire()?)
    } else {
        None
    };
    let refresh_token = if refresh.is_none() && !grant.no_refresh_token {
        super::user_sessions::make_room_for_new_session(ctx, pool, user).await?;
        let token = crypto::b64url(&crypto::random_bytes(48));
        ctx.state
            .store
            .insert_refresh_token(&RefreshTokenRow {
                token_hash: sha256_hex(token.as_bytes()),
                pool_id: pool.id.clone(),
                client_id: client.client_id.clone(),
                username_key: user.username_key.clone(),
                origin_jti: origin_jti.clone(),
                auth_time,
                created_at: ctx.now,
                expires_at: ctx.now + lifetimes.refresh * 1000,
                revoked_at: None,
                rotated_at: None,
                scopes: scopes.map(String::from),
                device_key: device_key.map(String::from),
                context: super::user_sessions::session_context(ctx, pool),
            })
            .await
            .wire()?;
        Some(token)
    } else {
        None
    };
    Ok(AuthenticationResultType {
        access_token: Some(access_token),
        expires_in: Some(lifetimes.access),
        token_type: Some("Bearer".into()),
        refresh_token,
        id_token,
        new_device_metadata: None,
    })
}

/// OIDC Core 3.1.3.6: the left half of the access token's SHA-256, base64url.
fn at_hash(access_token: &str) -> String {
    let digest = crypto::sha256(access_token.as_bytes());
    crypto::b64url(&digest[..16])
}

/// Lets the pool's PreTokenGeneration function change the claims about to be signed.
#[allow(clippy::too_many_arguments)]
async fn pre_token_generation(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: &UserRow,
    groups: &idpool_core::groups::GroupClaims,
    source: &str,
    id_claims: &mut Value,
    access_claims: &mut Value,
) -> ApiResult<()> {
    use idpool_core::triggers::{Trigger, token_overrides};
    if !super::triggers::configured(pool, Trigger::PreTokenGeneration) {
        return Ok(());
    }
    let scopes: Vec<&str> = access_claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let request = json!({
        "userAttributes": super::triggers::user_attributes(user),
        "groupConfiguration": {
            "groupsToOverride": groups.groups,
            "iamRolesToOverride": groups.roles,
            "preferredRole": groups.preferred_role,
        },
        "scopes": scopes,
    });
    let Some(fired) = super::triggers::fire(
        ctx,
        pool,
        Trigger::PreTokenGeneration,
        source,
        &user.username,
        Some(&client.client_id),
        request.as_object().cloned().unwrap_or_default(),
    )
    .await?
    else {
        return Ok(());
    };
    let (Some(id), Some(access)) = (id_claims.as_object_mut(), access_claims.as_object_mut())
    else {
        return Ok(());
    };
    token_overrides::apply(&fired.response, &fired.version, id, access)
        .map_err(super::triggers::bad_response)
}

/// Verifies an ID token of user pool `pool_id` (signature, issuer, expiry, `token_use`)
/// and returns its claims: how identity pools trust a user-pool login.
pub async fn verify_id_token(ctx: &Ctx, pool_id: &str, token: &str) -> ApiResult<Value> {
    verify_pool_token(ctx, pool_id, token, "id").await
}

/// Verifies a token of user pool `pool_id` whose `token_use` is `token_use` (signature,
/// issuer, expiry) and returns its claims; nothing about its user or session.
pub async fn verify_pool_token(
    ctx: &Ctx,
    pool_id: &str,
    token: &str,
    token_use: &str,
) -> ApiResult<Value> {
    let invalid = || {
        WireError::idp(
            E::NotAuthorizedException,
            if token_use == "id" {
                "Invalid ID token"
            } else {
                "Invalid Access Token"
            },
        )
    };
    let unverified = jwt::decode(token).ok_or_else(invalid)?;
    if unverified.claims["iss"] != issuer(ctx, pool_id).as_str() {
        return Err(invalid());
    }
    // Existing keys only, as for access tokens: a token never makes us create a key.
    let keys = load_keys(ctx, pool_id, false).await?.ok_or_else(invalid)?;
    let key = keys
        .iter()
        .find(|k| k.kid == unverified.kid)
        .ok_or_else(invalid)?;
    let claims = unverified.verify(&key.public_der).ok_or_else(invalid)?;
    if claims["token_use"] != token_use {
        return Err(invalid());
    }
    if claims["exp"].as_i64().unwrap_or(0) <= ctx.now_s() {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Token has expired",
        ));
    }
    Ok(claims)
}

/// Verifies an access token as GetUser and the other self-service operations do:
/// signature, expiry, `token_use`, and that neither its session (`origin_jti`) nor the
/// user's tokens (GlobalSignOut) were revoked. Returns the pool id, the user and the
/// claims, in one store round trip after the (cached) keys.
pub async fn session_from_access_token(
    ctx: &Ctx,
    token: &str,
) -> ApiResult<(String, UserRow, Value)> {
    let invalid = || WireError::idp(E::NotAuthorizedException, "Invalid Access Token");
    let revoked = || WireError::idp(E::NotAuthorizedException, "Access Token has been revoked");
    let digest = crypto::sha256(token.as_bytes());
    let (kid, claims, unverified) = match ctx.state.verified_tokens.get(&digest) {
        Some(known) => (known.kid.clone(), known.claims.clone(), None),
        None => {
            let u = jwt::decode(token).ok_or_else(invalid)?;
            (u.kid.clone(), u.claims.clone(), Some(u))
        }
    };
    let iss = claims["iss"].as_str().unwrap_or_default();
    let pool_id = iss.rsplit('/').next().unwrap_or_default().to_string();
    if pool_id.is_empty() || iss != issuer(ctx, &pool_id) {
        return Err(invalid());
    }
    // Only existing keys: verification never creates one, or a forged `iss` naming any
    // pool id would make us mint and store a key. Looked up on cache hits too, so a
    // token dies with its pool's keys.
    let keys = load_keys(ctx, &pool_id, false).await?.ok_or_else(invalid)?;
    let key = keys.iter().find(|k| k.kid == kid).ok_or_else(invalid)?;
    if let Some(unverified) = unverified {
        unverified.verify(&key.public_der).ok_or_else(invalid)?;
        ctx.state.verified_tokens.insert(
            digest,
            Arc::new(VerifiedToken {
                kid,
                claims: claims.clone(),
            }),
        );
    }
    if claims["token_use"] != "access" {
        return Err(invalid());
    }
    if claims["exp"].as_i64().unwrap_or(0) <= ctx.now_s() {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Access Token has expired",
        ));
    }
    let username = claims["username"].as_str().unwrap_or_default();
    let user = match user_of_token(ctx, &pool_id, username, &claims).await? {
        TokenUser::Live(user) => user,
        TokenUser::Gone => return Err(revoked()),
        TokenUser::Disabled => {
            return Err(WireError::idp(
                E::NotAuthorizedException,
                "User is disabled.",
            ));
        }
    };
    Ok((pool_id, user, claims))
}

/// Whether the user a verified token names may still use it.
// Returned once and matched at once: boxing the user would only add an allocation to
// GetUser's path.
#[allow(clippy::large_enum_variant)]
pub enum TokenUser {
    Live(UserRow),
    /// No such user any more, or the token's session (`origin_jti`) or all the user's
    /// tokens (GlobalSignOut) were revoked.
    Gone,
    Disabled,
}

/// The user `username` of a verified token of `pool_id` with `claims`, and whether the
/// token still holds, in one store round trip.
pub async fn user_of_token(
    ctx: &Ctx,
    pool_id: &str,
    username: &str,
    claims: &Value,
) -> ApiResult<TokenUser> {
    let origin = claims["origin_jti"].as_str().unwrap_or_default();
    let store = &ctx.state.store;
    // The claim holds the username as stored; case-insensitive pools key it in lower
    // case. Trying both avoids reading the pool; `sub` must match either way.
    let mut found = store
        .get_user_for_session(pool_id, username, origin)
        .await
        .wire()?;
    if found.is_none() && username.to_lowercase() != username {
        found = store
            .get_user_for_session(pool_id, &username.to_lowercase(), origin)
            .await
            .wire()?;
    }
    let Some((user, origin_revoked)) =
        found.filter(|(u, _)| Some(u.sub.as_str()) == claims["sub"].as_str())
    else {
        return Ok(TokenUser::Gone);
    };
    // `iat` has whole seconds: only a token whose whole second ended before the
    // cutoff is certainly older than it (same-second ones are caught by `origin_jti`).
    if origin_revoked || (claims["iat"].as_i64().unwrap_or(0) + 1) * 1000 <= user.tokens_valid_after
    {
        return Ok(TokenUser::Gone);
    }
    if !user.enabled {
        return Ok(TokenUser::Disabled);
    }
    Ok(TokenUser::Live(user))
}

/// `session_from_access_token`, plus the pool for operations that need its settings.
pub async fn user_from_access_token(
    ctx: &Ctx,
    token: &str,
) -> ApiResult<(PoolRow, UserRow, Value)> {
    let (pool_id, user, claims) = session_from_access_token(ctx, token).await?;
    let pool = load_pool(ctx, &pool_id)
        .await
        .map_err(|_| WireError::idp(E::NotAuthorizedException, "Access Token has been revoked"))?;
    Ok((pool, user, claims))
}
