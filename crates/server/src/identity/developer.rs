//! Developer-authenticated identities: GetOpenIdTokenForDeveloperIdentity,
//! LookupDeveloperIdentity, MergeDeveloperIdentities, UnlinkDeveloperIdentity.
//!
//! The app's own backend signs users in and, with IAM credentials, tells the identity
//! pool who they are: a developer user identifier under the pool's
//! `DeveloperProviderName`. It gets back the identity and an OpenID token, which the
//! app sends as the login `cognito-identity.amazonaws.com` to GetCredentialsForIdentity
//! (or to STS in the basic flow). The identifier is linked to the identity like any
//! login (key `developerProviderName\nidentifier`), but unlike public providers an
//! identity may hold several of them (MergeDeveloperIdentities gathers them).

use super::identities::{conflict, identity_for_logins, link_logins, verify_logins};
use super::not_found;
use super::openid;
use super::pools::load_identity_pool;
use crate::api::Ctx;
use crate::api::error::{ApiResult, OrWire};
use idpool_core::crypto::{b64url, b64url_decode};
use idpool_store::{IdentityPoolRow, IdentityRow, login_key, split_login_key};
use idpool_wire::shapes::cognito_identity::*;
use idpool_wire::{ErrorCode, IdentityException as E, WireError};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Cognito's default lifetime of a developer identity's OpenID token: 15 minutes.
const DEFAULT_TOKEN_DURATION_S: i64 = 900;
/// Cognito's limit on the logins one identity holds (MergeDeveloperIdentities).
const MAX_LINKED_LOGINS: usize = 20;

fn invalid(message: impl Into<String>) -> WireError {
    WireError::identity(E::InvalidParameterException, message)
}

/// The pool's developer provider name, which requests must name exactly.
fn developer_provider<'a>(pool: &'a IdentityPoolRow, named: &str) -> ApiResult<&'a str> {
    match pool.config["DeveloperProviderName"].as_str() {
        Some(dev) if dev == named => Ok(dev),
        Some(_) => Err(WireError::identity(
            E::NotAuthorizedException,
            format!("Invalid developer provider name {named} for this identity pool."),
        )),
        None => Err(WireError::identity(
            E::NotAuthorizedException,
            "This identity pool has no developer provider.",
        )),
    }
}

async fn identity_in_pool(
    ctx: &Ctx,
    pool: &IdentityPoolRow,
    identity_id: &str,
) -> ApiResult<IdentityRow> {
    ctx.state
        .store
        .get_identity(identity_id)
        .await
        .wire()?
        .filter(|i| i.pool_id == pool.id)
        .ok_or_else(|| not_found(format!("Identity '{identity_id}' not found.")))
}

async fn identity_of_developer_user(
    ctx: &Ctx,
    pool: &IdentityPoolRow,
    provider: &str,
    user: &str,
) -> ApiResult<Option<IdentityRow>> {
    ctx.state
        .store
        .find_identity_by_login(&pool.id, &login_key(provider, user))
        .await
        .wire()
}

pub async fn get_open_id_token_for_developer_identity(
    ctx: Ctx,
    req: GetOpenIdTokenForDeveloperIdentityInput,
) -> ApiResult<GetOpenIdTokenForDeveloperIdentityResponse> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let developer = pool.config["DeveloperProviderName"].as_str();
    let mut developer_user = None;
    let mut public = BTreeMap::new();
    for (provider, value) in &req.logins {
        if Some(provider.as_str()) == developer {
            developer_user = Some(value.clone());
        } else {
            public.insert(provider.clone(), value.clone());
        }
    }
    // Public logins beside the developer user are linked too ("an implicit linked
    // account"); their tokens are checked as GetId checks them. This operation has no
    // ExternalServiceException: a provider that cannot be reached refuses the login.
    let verified = verify_logins(&ctx, &pool, &public)
        .await
        .map_err(|e| match e.code {
            ErrorCode::Identity(E::ExternalServiceException) => {
                WireError::identity(E::NotAuthorizedException, e.message)
            }
            _ => e,
        })?;
    if verified.iter().any(|l| l.token_identity.is_some()) {
        return Err(invalid(format!(
            "{} is not a login GetOpenIdTokenForDeveloperIdentity takes.",
            openid::PROVIDER
        )));
    }
    let Some(developer) = developer.filter(|_| developer_user.is_some()) else {
        return Err(WireError::identity(
            E::NotAuthorizedException,
            match developer {
                Some(dev) => format!("The Logins map must name the developer provider {dev}."),
                None => "This identity pool has no developer provider.".to_string(),
            },
        ));
    };
    let user = developer_user.unwrap_or_default();
    let developer_key = login_key(developer, &user);
    let mut keys = vec![developer_key.clone()];
    keys.extend(verified.iter().filter_map(|l| l.key.clone()));

    let identity = match &req.identity_id {
        Some(id) => {
            let identity = identity_in_pool(&ctx, &pool, id).await?;
            if let Some(owner) = identity_of_developer_user(&ctx, &pool, developer, &user).await?
                && owner.identity_id != identity.identity_id
            {
                return Err(WireError::identity(
                    E::DeveloperUserAlreadyRegisteredException,
                    "The provided developer user identifier is already registered with Cognito under a different identity ID.",
                ));
            }
            link_logins(&ctx, &pool, &identity, &keys).await?
        }
        None => identity_for_logins(&ctx, &pool, &keys).await?,
    };

    let mut amr = vec![
        "authenticated".to_string(),
        developer.to_string(),
        format!("{developer}:{}:{user}", pool.id),
    ];
    for login in &verified {
        amr.extend(login.amr.iter().cloned());
    }
    let token = openid::issue(
        &ctx,
        &pool.id,
        &identity.identity_id,
        &amr,
        req.token_duration.unwrap_or(DEFAULT_TOKEN_DURATION_S),
        &req.principal_tags.unwrap_or_default(),
    )
    .await
    .map_err(|e| WireError::identity(E::InternalErrorException, e))?;
    Ok(GetOpenIdTokenForDeveloperIdentityResponse {
        identity_id: Some(identity.identity_id),
        token: Some(token),
    })
}

pub async fn lookup_developer_identity(
    ctx: Ctx,
    req: LookupDeveloperIdentityInput,
) -> ApiResult<LookupDeveloperIdentityResponse> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let developer = pool.config["DeveloperProviderName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let identity = match (&req.identity_id, &req.developer_user_identifier) {
        (None, None) => {
            return Err(invalid(
                "Either IdentityId or DeveloperUserIdentifier must be given.",
            ));
        }
        (Some(id), user) => {
            let identity = identity_in_pool(&ctx, &pool, id).await?;
            if let Some(user) = user {
                let owner = identity_of_developer_user(&ctx, &pool, &developer, user).await?;
                if owner.is_none_or(|o| o.identity_id != identity.identity_id) {
                    return Err(conflict(format!(
                        "Developer user identifier {user} is not linked to identity {id}."
                    )));
                }
            }
            identity
        }
        (None, Some(user)) => identity_of_developer_user(&ctx, &pool, &developer, user)
            .await?
            .ok_or_else(|| {
                not_found(format!(
                    "Developer user identifier {user} is not linked to any identity of this pool."
                ))
            })?,
    };
    let keys = ctx
        .state
        .store
        .identity_login_keys(&identity.identity_id)
        .await
        .wire()?;
    let after = match &req.next_token {
        Some(t) => Some(
            b64url_decode(t)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid("Invalid NextToken."))?,
        ),
        None => None,
    };
    let users: Vec<String> = keys
        .iter()
        .map(|k| split_login_key(k))
        .filter(|(p, _)| *p == developer)
        .map(|(_, u)| u.to_string())
        .filter(|u| after.as_ref().is_none_or(|a| u > a))
        .collect();
    let limit = req.max_results.unwrap_or(60).clamp(1, 60) as usize;
    let next_token = (users.len() > limit).then(|| b64url(users[limit - 1].as_bytes()));
    Ok(LookupDeveloperIdentityResponse {
        identity_id: Some(identity.identity_id),
        developer_user_identifier_list: Some(users.into_iter().take(limit).collect()),
        next_token,
    })
}

pub async fn merge_developer_identities(
    ctx: Ctx,
    req: MergeDeveloperIdentitiesInput,
) -> ApiResult<MergeDeveloperIdentitiesResponse> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let developer = developer_provider(&pool, &req.developer_provider_name)?;
    let find = |user: &str| {
        let user = user.to_string();
        let ctx = &ctx;
        let pool = &pool;
        async move {
            identity_of_developer_user(ctx, pool, developer, &user)
                .await?
                .ok_or_else(|| {
                    not_found(format!(
                        "Developer user identifier {user} is not linked to any identity of this pool."
                    ))
                })
        }
    };
    let source = find(&req.source_user_identifier).await?;
    let destination = find(&req.destination_user_identifier).await?;
    if source.identity_id == destination.identity_id {
        return Ok(MergeDeveloperIdentitiesResponse {
            identity_id: Some(destination.identity_id),
        });
    }
    let store = &ctx.state.store;
    let source_keys = store
        .identity_login_keys(&source.identity_id)
        .await
        .wire()?;
    let destination_keys = store
        .identity_login_keys(&destination.identity_id)
        .await
        .wire()?;
    // Two users of one public provider cannot become one identity.
    for key in &source_keys {
        let (provider, _) = split_login_key(key);
        if provider != developer
            && destination_keys
                .iter()
                .any(|d| split_login_key(d).0 == provider)
        {
            return Err(conflict(format!(
                "The identities to merge are linked to different users of {provider}."
            )));
        }
    }
    if source_keys.len() + destination_keys.len() > MAX_LINKED_LOGINS {
        return Err(invalid(format!(
            "The merged identity would have more than {MAX_LINKED_LOGINS} linked logins."
        )));
    }
    let merged = store
        .merge_identities(&source.identity_id, &destination.identity_id, ctx.now)
        .await
        .wire()?
        .ok_or_else(|| conflict("The identities changed during the merge; try again."))?;
    Ok(MergeDeveloperIdentitiesResponse {
        identity_id: Some(merged.identity_id),
    })
}

pub async fn unlink_developer_identity(
    ctx: Ctx,
    req: UnlinkDeveloperIdentityInput,
) -> ApiResult<Value> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let developer = developer_provider(&pool, &req.developer_provider_name)?;
    let identity = identity_in_pool(&ctx, &pool, &req.identity_id).await?;
    let owner =
        identity_of_developer_user(&ctx, &pool, developer, &req.developer_user_identifier).await?;
    if owner.is_none_or(|o| o.identity_id != identity.identity_id) {
        return Err(conflict(format!(
            "Developer user identifier {} is not linked to identity {}.",
            req.developer_user_identifier, identity.identity_id
        )));
    }
    ctx.state
        .store
        .unlink_logins(
            &identity.identity_id,
            &[login_key(developer, &req.developer_user_identifier)],
            ctx.now,
        )
        .await
        .wire()?;
    Ok(json!({}))
}
