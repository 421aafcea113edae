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
use idpool_store::ClientRow;
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::json;

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
/// seconds. Its subject is the client itself.
pub async fn sign_m2m_token(
    ctx: &Ctx,
    client: &ClientRow,
    scopes: &[String],
) -> ApiResult<(String, i64)> {
    let keys = pool_keys(ctx, &client.pool_id).await?;
    let key = keys
        .first()
        .ok_or_else(|| WireError::idp(E::InternalErrorException, "no signing key"))?;
    let lifetime = Lifetimes::from_client_config(&client.config).access;
    let now_s = ctx.now_s();
    let claims = json!({
        "sub": client.client_id,
        "token_use": "access",
        "scope": scopes.join(" "),
        "auth_time": now_s,
        "iss": issuer(ctx, &client.pool_id),
        "exp": now_s + lifetime,
        "iat": now_s,
        "version": 2,
        "jti": ids::uuid(),
        "client_id": client.client_id,
    });
    let token = jwt::sign(key, &claims)
        .map_err(|_| WireError::idp(E::InternalErrorException, "An internal error occurred."))?;
    Ok((token, lifetime))
}

/// GetClientToken: the client-credentials grant through the API, for an app client
/// that proves itself with its id and one of its secrets (no IAM: Cognito documents
/// that IAM credentials cannot authorize this operation).
pub async fn get_client_token(
    ctx: Ctx,
    req: GetClientTokenRequest,
) -> ApiResult<GetClientTokenResponse> {
    let (client, _) = load_client(&ctx, &req.client_id).await?;
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
    let (access_token, expires_in) = sign_m2m_token(&ctx, &client, &scopes).await?;
    Ok(GetClientTokenResponse {
        client_authentication_result: Some(ClientAuthenticationResultType {
            access_token: Some(access_token),
            expires_in: Some(expires_in),
            token_type: Some("Bearer".into()),
        }),
    })
}
