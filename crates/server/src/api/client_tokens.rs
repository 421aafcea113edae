//! Machine-to-machine access tokens: the one issuance behind `/oauth2/token`'s
//! `client_credentials` grant and the GetClientToken operation. What the client may
//! have and why it is refused are decided here; each edge words the refusal its own
//! way (RFC 6749 error JSON, or Cognito's exceptions).

use super::Ctx;
use super::error::ApiResult;
use super::support::*;
use idpool_core::ids;
use idpool_core::tokens::claims::Lifetimes;
use idpool_core::tokens::jwt;
use idpool_core::triggers::{Trigger, token_overrides};
use idpool_store::{ClientRow, PoolRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Map, Value, json};

/// Why a client gets no machine-to-machine token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum M2mRefusal {
    /// Only a confidential client can prove who it is.
    NoSecret,
    /// The client is not allowed the client-credentials flow.
    FlowNotAllowed,
    /// Nothing asked and nothing configured: a token would authorize nothing.
    NoScopes,
    /// A scope the client is not allowed, or not a resource server's custom scope.
    ScopeNotAllowed(String),
}

impl M2mRefusal {
    pub fn message(&self) -> String {
        match self {
            M2mRefusal::NoSecret => {
                "Machine-to-machine tokens need an app client with a client secret.".into()
            }
            M2mRefusal::FlowNotAllowed => {
                "The app client is not allowed the client_credentials flow.".into()
            }
            M2mRefusal::NoScopes => "The app client has no scopes to grant.".into(),
            M2mRefusal::ScopeNotAllowed(scope) => {
                format!("The app client is not allowed the scope {scope}.")
            }
        }
    }
}

/// What the client is allowed to ask for. The secret has been checked by the caller.
pub fn m2m_scopes(
    client: &ClientRow,
    requested: Option<Vec<String>>,
) -> Result<Vec<String>, M2mRefusal> {
    if client.secret.is_none() {
        return Err(M2mRefusal::NoSecret);
    }
    if client.config["AllowedOAuthFlowsUserPoolClient"] != true
        || !str_list(&client.config["AllowedOAuthFlows"])
            .iter()
            .any(|f| f == "client_credentials")
    {
        return Err(M2mRefusal::FlowNotAllowed);
    }
    let allowed = str_list(&client.config["AllowedOAuthScopes"]);
    let scopes = match requested {
        Some(s) if !s.is_empty() => s,
        _ => allowed.clone(),
    };
    if scopes.is_empty() {
        return Err(M2mRefusal::NoScopes);
    }
    // Only resource servers' custom scopes (`identifier/name`): openid and the other
    // user scopes mean nothing without a user.
    if let Some(scope) = scopes
        .iter()
        .find(|s| !allowed.contains(s) || !s.contains('/'))
    {
        return Err(M2mRefusal::ScopeNotAllowed(scope.clone()));
    }
    Ok(scopes)
}

/// Signs the access token of a client-credentials grant; returns it and its lifetime in
/// seconds. Its subject is the client itself. The pool's PreTokenGeneration function
/// may change it first, when it takes V3_0 events.
pub async fn sign_m2m_token(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    scopes: &[String],
) -> ApiResult<(String, i64)> {
    let key = signing_key(ctx, &pool.id).await?;
    let lifetime = Lifetimes::from_client_config(&client.config).access;
    let now_s = ctx.now_s();
    let mut claims = json!({
        "sub": client.client_id,
        "token_use": "access",
        "scope": scopes.join(" "),
        "auth_time": now_s,
        "iss": issuer(ctx, &pool.id),
        "exp": now_s + lifetime,
        "iat": now_s,
        "version": 2,
        "jti": ids::uuid(),
        "client_id": client.client_id,
    });
    pre_token_generation(ctx, pool, client, scopes, &mut claims).await?;
    let token = jwt::sign(&key, &claims)
        .map_err(|_| WireError::idp(E::InternalErrorException, "An internal error occurred."))?;
    Ok((token, lifetime))
}

/// Cognito sends client-credentials grants to PreTokenGeneration only in V3_0 events
/// (`TokenGeneration_ClientCredentials`, no user: `userName` null, no attributes or
/// groups); the answer's `accessTokenGeneration` applies as for a user's token, and an
/// `idTokenGeneration` has no token to change.
async fn pre_token_generation(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    scopes: &[String],
    claims: &mut Value,
) -> ApiResult<()> {
    let takes_m2m = Trigger::PreTokenGeneration
        .function(&pool.config["LambdaConfig"])
        .is_some_and(|(_, version)| version == "V3_0");
    if !takes_m2m {
        return Ok(());
    }
    let mut request = Map::new();
    request.insert("userAttributes".into(), json!({}));
    request.insert("groupConfiguration".into(), Value::Null);
    request.insert("scopes".into(), json!(scopes));
    let Some(fired) = super::triggers::fire(
        ctx,
        pool,
        Trigger::PreTokenGeneration,
        "TokenGeneration_ClientCredentials",
        "",
        Some(&client.client_id),
        request,
    )
    .await?
    else {
        return Ok(());
    };
    let Some(access) = claims.as_object_mut() else {
        return Ok(());
    };
    // No user, so no groups for an override to replace.
    let mut response = fired.response;
    if let Some(details) = response
        .get_mut("claimsAndScopeOverrideDetails")
        .and_then(Value::as_object_mut)
    {
        details.remove("groupOverrideDetails");
    }
    token_overrides::apply(&response, &fired.version, &mut Map::new(), access)
        .map_err(super::triggers::bad_response)
}

/// GetClientToken: the client-credentials grant through the API, for an app client
/// that proves itself with its id and one of its secrets (no IAM: Cognito documents
/// that IAM credentials cannot authorize this operation).
pub async fn get_client_token(
    ctx: Ctx,
    req: GetClientTokenRequest,
) -> ApiResult<GetClientTokenResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    if client.secret.is_none() {
        return Err(WireError::invalid_parameter(M2mRefusal::NoSecret.message()));
    }
    super::client_secrets::check_plain_secret(&ctx, &client, Some(&req.secret), || {
        WireError::idp(E::NotAuthorizedException, "Invalid client secret.")
    })?;
    let scopes = m2m_scopes(&client, req.scopes.clone()).map_err(|refusal| match refusal {
        M2mRefusal::FlowNotAllowed => {
            WireError::idp(E::OperationNotEnabledException, refusal.message())
        }
        other => WireError::invalid_parameter(other.message()),
    })?;
    let (access_token, expires_in) = sign_m2m_token(&ctx, &pool, &client, &scopes).await?;
    Ok(GetClientTokenResponse {
        client_authentication_result: Some(ClientAuthenticationResultType {
            access_token: Some(access_token),
            expires_in: Some(expires_in),
            token_type: Some("Bearer".into()),
        }),
    })
}
