//! Identities and their logins: GetId, DescribeIdentity, ListIdentities,
//! DeleteIdentities, UnlinkIdentity, and the checking and linking of logins every
//! identity operation shares.
//!
//! An identity is the stable id of one person (or one guest device) in an identity
//! pool. Signing in with a login the pool trusts always yields the same identity, so
//! the app's data keyed by it follows the user across devices.

use super::not_found;
use super::oidc::{self, OidcRefusal};
use super::openid;
use super::pools::load_identity_pool;
use crate::api::Ctx;
use crate::api::error::{ApiResult, OrWire};
use crate::api::support::verify_id_token;
use crate::iam::oidc_providers::load_oidc_provider;
use idpool_core::ids;
use idpool_store::{IdentityPoolRow, IdentityRow, StoreError, login_key, split_login_key};
use idpool_wire::shapes::cognito_identity::*;
use idpool_wire::{IdentityException as E, WireError};
use serde_json::Value;
use std::collections::BTreeMap;

fn not_authorized(message: impl Into<String>) -> WireError {
    WireError::identity(E::NotAuthorizedException, message)
}

pub fn conflict(message: impl Into<String>) -> WireError {
    WireError::identity(E::ResourceConflictException, message)
}

pub fn logins_dont_match() -> WireError {
    not_authorized(
        "Logins don't match. Please include at least one valid login for this identity or identity pool.",
    )
}

/// Public providers of `SupportedLoginProviders` whose logins are OpenID Connect ID
/// tokens from the issuer `https://{name}`.
const SOCIAL_OIDC_PROVIDERS: &[&str] = &["accounts.google.com", "appleid.apple.com"];

/// The user pool a login provider name such as
/// `cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC` names.
fn user_pool_of(provider: &str) -> Option<&str> {
    let (host, pool_id) = provider.split_once('/')?;
    (host.starts_with("cognito-idp.") && !pool_id.is_empty()).then_some(pool_id)
}

/// A login the pool trusts, checked.
pub struct VerifiedLogin {
    pub provider: String,
    /// The key that links the login to an identity (provider and the user's subject
    /// there). None for an OpenID token of the pool itself (`cognito-identity.amazonaws.com`,
    /// what developer-authenticated apps send), which names its identity instead.
    pub key: Option<String>,
    /// The identity an OpenID token of this pool was issued for.
    pub token_identity: Option<String>,
    /// The token's claims (for role rules and principal tags).
    pub claims: Value,
    /// What the login adds to the session's `amr` after `authenticated`.
    pub amr: Vec<String>,
}

/// The ARN of the IAM OIDC provider named `provider` among the pool's
/// `OpenIdConnectProviderARNs`.
fn oidc_provider_arn<'a>(pool: &'a IdentityPoolRow, provider: &str) -> Option<&'a str> {
    pool.config["OpenIdConnectProviderARNs"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|arn| {
            arn.split_once(":oidc-provider/")
                .is_some_and(|(_, name)| name == provider)
        })
}

/// An OpenID Connect login's refusal on the wire: the token's fault is
/// NotAuthorizedException, the provider's ExternalServiceException.
fn oidc_refusal(e: OidcRefusal) -> WireError {
    match e {
        OidcRefusal::Invalid(m) => not_authorized(m),
        OidcRefusal::Unreachable(m) => {
            tracing::warn!("OpenID Connect provider unreachable: {m}");
            WireError::identity(
                E::ExternalServiceException,
                "An exception occurred while contacting the OpenID Connect provider.",
            )
        }
    }
}

/// Checks one login: an ID token of one of the pool's user pools (for the app
/// client configured), an ID token of one of its OpenID Connect providers or of
/// Google or Apple, an access token of Facebook, Amazon or Twitter, a SAML response,
/// or an OpenID token this identity service issued for the pool.
async fn verify_login(
    ctx: &Ctx,
    pool: &IdentityPoolRow,
    provider: &str,
    token: &str,
) -> ApiResult<VerifiedLogin> {
    if provider == openid::PROVIDER {
        let now = ctx.now_s();
        let claims = openid::verify(ctx, token).await.map_err(|r| match r {
            openid::Refused::Invalid => {
                not_authorized("Invalid login token. Couldn't verify signed token.")
            }
            openid::Refused::Expired { exp } => not_authorized(format!(
                "Invalid login token. Token expired: {now} >= {exp}"
            )),
        })?;
        if claims["aud"] != pool.id.as_str() {
            return Err(not_authorized(
                "Invalid login token. Incorrect token audience.",
            ));
        }
        let amr: Vec<String> = claims["amr"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        if !amr.iter().any(|a| a == "authenticated") {
            return Err(not_authorized(
                "Invalid login token. An unauthenticated identity's token is not a login.",
            ));
        }
        return Ok(VerifiedLogin {
            provider: provider.to_string(),
            key: None,
            token_identity: claims["sub"].as_str().map(String::from),
            amr: amr.into_iter().filter(|a| a != "authenticated").collect(),
            claims,
        });
    }
    let clients: Vec<String> = pool.config["CognitoIdentityProviders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["ProviderName"] == provider)
        .filter_map(|p| p["ClientId"].as_str().map(String::from))
        .collect();
    if let (Some(user_pool), false) = (user_pool_of(provider), clients.is_empty()) {
        let claims = verify_id_token(ctx, user_pool, token)
            .await
            .map_err(|e| not_authorized(format!("Invalid login token. {}", e.message)))?;
        let aud = claims["aud"].as_str().unwrap_or_default();
        if !clients.iter().any(|c| c == aud) {
            // Cognito's words for an ID token of an app client the pool does not name.
            return Err(not_authorized(
                "Token is not from a supported provider of this identity pool.",
            ));
        }
        let sub = claims["sub"].as_str().unwrap_or_default();
        return Ok(VerifiedLogin {
            provider: provider.to_string(),
            key: Some(login_key(provider, sub)),
            token_identity: None,
            amr: vec![
                provider.to_string(),
                format!("{provider}:CognitoSignIn:{sub}"),
            ],
            claims,
        });
    }
    if let Some(arn) = oidc_provider_arn(pool, provider) {
        let row = load_oidc_provider(ctx, provider)
            .await
            .map_err(|e| WireError::identity(E::InternalErrorException, e.message))?
            .filter(|r| r.doc["Arn"] == arn)
            .ok_or_else(|| {
                WireError::identity(
                    E::InvalidParameterException,
                    format!(
                        "Invalid login token. The OpenID Connect provider {arn} does not exist."
                    ),
                )
            })?;
        let client_ids: Vec<String> = row.doc["ClientIDList"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        let issuer = row.doc["Url"].as_str().unwrap_or_default();
        let claims = oidc::verify(ctx, issuer, &client_ids, token)
            .await
            .map_err(oidc_refusal)?;
        let sub = claims["sub"].as_str().unwrap_or_default();
        return Ok(VerifiedLogin {
            provider: provider.to_string(),
            key: Some(login_key(provider, sub)),
            token_identity: None,
            amr: vec![provider.to_string()],
            claims,
        });
    }
    if super::saml::is_saml_provider(pool, provider) {
        return super::saml::verify(ctx, provider, token).await;
    }
    if pool.config["DeveloperProviderName"] == provider {
        return Err(not_authorized(format!(
            "Invalid login token. {provider} is the pool's developer provider: get a token for it with GetOpenIdTokenForDeveloperIdentity and send it as {}.",
            openid::PROVIDER
        )));
    }
    if let Some(app_ids) = pool.config["SupportedLoginProviders"][provider].as_str() {
        // Facebook, Amazon and Twitter send access tokens that only their own APIs can
        // check. Google's and Apple's logins are OpenID Connect ID tokens, checked like
        // any OIDC provider's with the app ids the pool lists (comma-separated) as
        // audiences.
        if super::social::is_social_provider(provider) {
            return super::social::verify(ctx, provider, app_ids, token).await;
        }
        if !SOCIAL_OIDC_PROVIDERS.contains(&provider) {
            return Err(not_authorized(format!(
                "Logins from {provider} are not supported by this idpool version yet."
            )));
        }
        let client_ids: Vec<String> = app_ids
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        let claims = oidc::verify(ctx, &format!("https://{provider}"), &client_ids, token)
            .await
            .map_err(oidc_refusal)?;
        let sub = claims["sub"].as_str().unwrap_or_default();
        return Ok(VerifiedLogin {
            provider: provider.to_string(),
            key: Some(login_key(provider, sub)),
            token_identity: None,
            amr: vec![provider.to_string()],
            claims,
        });
    }
    Err(WireError::identity(
        E::InvalidParameterException,
        format!("Invalid login token. {provider} is not a provider of this identity pool."),
    ))
}

/// Checks every login of a request.
pub async fn verify_logins(
    ctx: &Ctx,
    pool: &IdentityPoolRow,
    logins: &BTreeMap<String, String>,
) -> ApiResult<Vec<VerifiedLogin>> {
    let mut out = Vec::new();
    for (provider, token) in logins {
        out.push(verify_login(ctx, pool, provider, token).await?);
    }
    Ok(out)
}

fn new_identity(ctx: &Ctx, pool: &IdentityPoolRow) -> IdentityRow {
    IdentityRow {
        identity_id: format!("{}:{}", ctx.region, ids::uuid()),
        pool_id: pool.id.clone(),
        logins: vec![],
        created_at: ctx.now,
        updated_at: ctx.now,
    }
}

/// Links logins to an identity. As Cognito, an identity holds one user per public
/// provider: a second user of the same provider is a conflict (developer providers
/// excepted, whose users MergeDeveloperIdentities gathers), and so is a login that
/// another identity holds.
pub async fn link_logins(
    ctx: &Ctx,
    pool: &IdentityPoolRow,
    identity: &IdentityRow,
    keys: &[String],
) -> ApiResult<IdentityRow> {
    if keys.is_empty() {
        return Ok(identity.clone());
    }
    let store = &ctx.state.store;
    let held = store
        .identity_login_keys(&identity.identity_id)
        .await
        .wire()?;
    let developer = pool.config["DeveloperProviderName"].as_str();
    for key in keys {
        let (provider, _) = split_login_key(key);
        if Some(provider) != developer
            && held
                .iter()
                .any(|h| h != key && split_login_key(h).0 == provider)
        {
            return Err(conflict(format!(
                "The identity {} is already linked to another user of {provider}.",
                identity.identity_id
            )));
        }
    }
    match store
        .link_logins(&identity.identity_id, keys, ctx.now)
        .await
    {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(not_found(format!(
            "Identity '{}' not found.",
            identity.identity_id
        ))),
        Err(StoreError::Conflict(_)) => Err(conflict(
            "A login of this request is already linked to another identity.",
        )),
        Err(e) => Err(e).wire(),
    }
}

/// The identity that logins sign in to, as GetId finds it: the one that holds them
/// (linking those it does not hold yet), else a new identity holding them all.
/// Logins held by two different identities are a conflict.
pub async fn identity_for_logins(
    ctx: &Ctx,
    pool: &IdentityPoolRow,
    keys: &[String],
) -> ApiResult<IdentityRow> {
    let store = &ctx.state.store;
    for attempt in 0..2 {
        let mut owner: Option<IdentityRow> = None;
        let mut unlinked = Vec::new();
        for key in keys {
            match store.find_identity_by_login(&pool.id, key).await.wire()? {
                Some(row) => match &owner {
                    Some(o) if o.identity_id != row.identity_id => {
                        return Err(conflict(
                            "The logins of this request are linked to different identities.",
                        ));
                    }
                    _ => owner = Some(row),
                },
                None => unlinked.push(key.clone()),
            }
        }
        if let Some(owner) = owner {
            return link_logins(ctx, pool, &owner, &unlinked).await;
        }
        match store.create_identity(&new_identity(ctx, pool), keys).await {
            // Two first sign-ins of the same user raced: the other one created it.
            Err(StoreError::Conflict(_)) if attempt == 0 => continue,
            other => return other.wire(),
        }
    }
    Err(conflict(
        "The logins of this request were linked concurrently; try again.",
    ))
}

/// The identity of a request's checked logins (GetId): an OpenID token of the pool
/// names it; other logins find or create it.
async fn identity_of(
    ctx: &Ctx,
    pool: &IdentityPoolRow,
    verified: &[VerifiedLogin],
) -> ApiResult<IdentityRow> {
    let keys: Vec<String> = verified.iter().filter_map(|l| l.key.clone()).collect();
    let Some(named) = verified.iter().find_map(|l| l.token_identity.as_deref()) else {
        return identity_for_logins(ctx, pool, &keys).await;
    };
    let identity = ctx
        .state
        .store
        .get_identity(named)
        .await
        .wire()?
        .filter(|i| i.pool_id == pool.id)
        .ok_or_else(logins_dont_match)?;
    link_logins(ctx, pool, &identity, &keys).await
}

pub async fn get_id(ctx: Ctx, req: GetIdInput) -> ApiResult<GetIdResponse> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let logins: BTreeMap<String, String> = req.logins.unwrap_or_default();
    let verified = verify_logins(&ctx, &pool, &logins).await?;
    if verified.is_empty() && pool.config["AllowUnauthenticatedIdentities"] != true {
        return Err(not_authorized(
            "Unauthenticated access is not supported for this identity pool.",
        ));
    }
    let identity = identity_of(&ctx, &pool, &verified).await?;
    Ok(GetIdResponse {
        identity_id: Some(identity.identity_id),
    })
}

/// The identity a request names, with its checked logins: an identity with logins
/// must be asked for with at least one of them (the token is the proof), a guest
/// identity only when the pool allows guests. Logins the identity does not hold yet
/// are linked to it (a guest signing in keeps its identity, as in Cognito), unless
/// another identity holds them.
pub async fn identity_with_logins(
    ctx: &Ctx,
    identity_id: &str,
    logins: Option<&BTreeMap<String, String>>,
) -> ApiResult<(IdentityPoolRow, IdentityRow, Vec<VerifiedLogin>)> {
    let store = &ctx.state.store;
    let identity = store
        .get_identity(identity_id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("Identity '{identity_id}' not found.")))?;
    let pool = load_identity_pool(ctx, &identity.pool_id).await?;
    let verified = verify_logins(ctx, &pool, logins.unwrap_or(&BTreeMap::new())).await?;
    if verified.is_empty() {
        if !identity.logins.is_empty() {
            return Err(logins_dont_match());
        }
        if pool.config["AllowUnauthenticatedIdentities"] != true {
            return Err(not_authorized(
                "Unauthenticated access is not supported for this identity pool.",
            ));
        }
        return Ok((pool, identity, verified));
    }
    // Each login must be one this identity holds: its subject at the provider, not only
    // the provider's name, or anyone signed in to the same user pool could ask for
    // another user's identity.
    let (mut proven, mut elsewhere, mut unlinked) = (false, false, Vec::new());
    for login in &verified {
        if let Some(named) = &login.token_identity {
            if *named == identity.identity_id {
                proven = true;
            } else {
                elsewhere = true;
            }
            continue;
        }
        let Some(key) = &login.key else { continue };
        match store.find_identity_by_login(&pool.id, key).await.wire()? {
            Some(owner) if owner.identity_id == identity.identity_id => proven = true,
            Some(_) => elsewhere = true,
            None => unlinked.push(key.clone()),
        }
    }
    if !proven && (elsewhere || !identity.logins.is_empty()) {
        return Err(logins_dont_match());
    }
    if elsewhere {
        return Err(conflict(
            "A login of this request is already linked to another identity.",
        ));
    }
    let identity = link_logins(ctx, &pool, &identity, &unlinked).await?;
    Ok((pool, identity, verified))
}

/// UnlinkIdentity: the caller proves it holds the identity with its logins, then
/// unlinks the providers of `LoginsToRemove`.
pub async fn unlink_identity(ctx: Ctx, req: UnlinkIdentityInput) -> ApiResult<Value> {
    let (pool, identity, verified) =
        identity_with_logins(&ctx, &req.identity_id, Some(&req.logins)).await?;
    if verified.is_empty() {
        return Err(logins_dont_match());
    }
    // The developer's backend, not the signed-in user, owns developer links: those
    // are unlinked with the IAM-authorized UnlinkDeveloperIdentity.
    if let Some(dev) = pool.config["DeveloperProviderName"].as_str()
        && req.logins_to_remove.iter().any(|p| p == dev)
    {
        return Err(WireError::identity(
            E::InvalidParameterException,
            format!(
                "{dev} is the pool's developer provider: unlink its users with UnlinkDeveloperIdentity."
            ),
        ));
    }
    let held = ctx
        .state
        .store
        .identity_login_keys(&identity.identity_id)
        .await
        .wire()?;
    let remove: Vec<String> = held
        .into_iter()
        .filter(|k| {
            req.logins_to_remove
                .iter()
                .any(|p| p == split_login_key(k).0)
        })
        .collect();
    ctx.state
        .store
        .unlink_logins(&identity.identity_id, &remove, ctx.now)
        .await
        .wire()?;
    Ok(serde_json::json!({}))
}

fn description(row: &IdentityRow) -> IdentityDescription {
    IdentityDescription {
        identity_id: Some(row.identity_id.clone()),
        logins: Some(row.logins.clone()),
        creation_date: Some(row.created_at as f64 / 1000.0),
        last_modified_date: Some(row.updated_at as f64 / 1000.0),
    }
}

pub async fn describe_identity(
    ctx: Ctx,
    req: DescribeIdentityInput,
) -> ApiResult<IdentityDescription> {
    let row = ctx
        .state
        .store
        .get_identity(&req.identity_id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("Identity '{}' not found.", req.identity_id)))?;
    Ok(description(&row))
}

pub async fn list_identities(
    ctx: Ctx,
    req: ListIdentitiesInput,
) -> ApiResult<ListIdentitiesResponse> {
    load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let limit = req.max_results.clamp(1, 60) as u32;
    let mut rows = ctx
        .state
        .store
        .list_identities(&req.identity_pool_id, req.next_token.as_deref(), limit + 1)
        .await
        .wire()?;
    let next_token = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.identity_id.clone())
    } else {
        None
    };
    Ok(ListIdentitiesResponse {
        identity_pool_id: Some(req.identity_pool_id),
        identities: Some(rows.iter().map(description).collect()),
        next_token,
    })
}

pub async fn delete_identities(
    ctx: Ctx,
    req: DeleteIdentitiesInput,
) -> ApiResult<DeleteIdentitiesResponse> {
    let mut unprocessed = Vec::new();
    for id in &req.identity_ids_to_delete {
        match ctx.state.store.delete_identity(id).await {
            Ok(_) => {}
            Err(_) => unprocessed.push(UnprocessedIdentityId {
                identity_id: Some(id.clone()),
                error_code: Some("InternalServerError".into()),
            }),
        }
    }
    Ok(DeleteIdentitiesResponse {
        unprocessed_identity_ids: Some(unprocessed),
    })
}
