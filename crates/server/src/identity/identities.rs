//! Identities: GetId, DescribeIdentity, ListIdentities, DeleteIdentities.
//!
//! An identity is the stable id of one person (or one guest device) in an identity
//! pool. Signing in with a login the pool trusts always yields the same identity, so
//! the app's data keyed by it follows the user across devices.

use super::not_found;
use super::pools::load_identity_pool;
use crate::api::Ctx;
use crate::api::error::{ApiResult, OrWire};
use crate::api::support::verify_id_token;
use idpool_core::ids;
use idpool_store::{IdentityPoolRow, IdentityRow, StoreError};
use idpool_wire::shapes::cognito_identity::*;
use idpool_wire::{IdentityException as E, WireError};
use serde_json::Value;
use std::collections::BTreeMap;

fn not_authorized(message: impl Into<String>) -> WireError {
    WireError::identity(E::NotAuthorizedException, message)
}

/// The user pool a login provider name such as
/// `cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC` names.
fn user_pool_of(provider: &str) -> Option<&str> {
    let (host, pool_id) = provider.split_once('/')?;
    (host.starts_with("cognito-idp.") && !pool_id.is_empty()).then_some(pool_id)
}

/// A login the pool trusts, checked: the provider, the key that links it to an
/// identity (provider and the user's subject there), and the token's claims (for role
/// rules and principal tags).
pub struct VerifiedLogin {
    pub provider: String,
    pub key: String,
    pub claims: Value,
}

/// Checks one login. Only the pool's own user pools (CognitoIdentityProviders, with
/// the app client the ID token must be for) are accepted so far.
async fn verify_login(
    ctx: &Ctx,
    pool: &IdentityPoolRow,
    provider: &str,
    token: &str,
) -> ApiResult<VerifiedLogin> {
    let Some(user_pool) = user_pool_of(provider) else {
        return Err(not_authorized(format!(
            "Logins from {provider} are not supported by this idpool version yet."
        )));
    };
    let clients: Vec<String> = pool.config["CognitoIdentityProviders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["ProviderName"] == provider)
        .filter_map(|p| p["ClientId"].as_str().map(String::from))
        .collect();
    if clients.is_empty() {
        return Err(WireError::identity(
            E::InvalidParameterException,
            format!("Invalid login token. {provider} is not a provider of this identity pool."),
        ));
    }
    let claims = verify_id_token(ctx, user_pool, token)
        .await
        .map_err(|e| not_authorized(format!("Invalid login token. {}", e.message)))?;
    let aud = claims["aud"].as_str().unwrap_or_default();
    if !clients.iter().any(|c| c == aud) {
        return Err(not_authorized(
            "Invalid login token. The token was issued for another app client.",
        ));
    }
    let sub = claims["sub"].as_str().unwrap_or_default();
    Ok(VerifiedLogin {
        provider: provider.to_string(),
        key: format!("{provider}\n{sub}"),
        claims,
    })
}

/// Checks every login of a request.
pub async fn verify_logins(
    ctx: &Ctx,
    pool: &IdentityPoolRow,
    logins: BTreeMap<String, String>,
) -> ApiResult<Vec<VerifiedLogin>> {
    let mut out = Vec::new();
    for (provider, token) in &logins {
        out.push(verify_login(ctx, pool, provider, token).await?);
    }
    Ok(out)
}

pub async fn get_id(ctx: Ctx, req: GetIdInput) -> ApiResult<GetIdResponse> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let logins: BTreeMap<String, String> = req.logins.unwrap_or_default();
    let keys: Vec<String> = verify_logins(&ctx, &pool, logins.clone())
        .await?
        .into_iter()
        .map(|l| l.key)
        .collect();
    if keys.is_empty() && pool.config["AllowUnauthenticatedIdentities"] != true {
        return Err(not_authorized(
            "Unauthenticated access is not supported for this identity pool.",
        ));
    }
    if keys.len() > 1 {
        return Err(WireError::identity(
            E::InvalidParameterException,
            "Linking several logins in one GetId is not supported by this idpool version yet.",
        ));
    }
    let new = IdentityRow {
        identity_id: format!("{}:{}", ctx.region, ids::uuid()),
        pool_id: pool.id.clone(),
        logins: logins.keys().cloned().collect(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let key = keys.first().map(String::as_str);
    let store = &ctx.state.store;
    let identity = match store.identity_for_login(key, &new).await {
        // Two first sign-ins of the same user raced: the other one created it.
        Err(StoreError::Conflict(_)) => store.identity_for_login(key, &new).await,
        other => other,
    }
    .wire()?;
    Ok(GetIdResponse {
        identity_id: Some(identity.identity_id),
    })
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
