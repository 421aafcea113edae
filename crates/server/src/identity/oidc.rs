//! Logins from external OpenID Connect providers (the identity pool's
//! `OpenIdConnectProviderARNs`, each an IAM OIDC provider): the ID token is checked
//! as Cognito checks it, against the provider's published keys: RS256 signature,
//! `iss` the provider's URL, `aud` one of the provider's `ClientIDList`, `exp` ahead.
//!
//! The keys are found through the provider's discovery document
//! (`<issuer>/.well-known/openid-configuration` → `jwks_uri`) and cached per node by
//! `external_oidc`, which user pools' federation shares: five minutes, and a token
//! naming an unknown key refetches at most every ten seconds, so made-up kids cannot
//! make idpool hammer the provider.

use crate::api::Ctx;
use idpool_core::tokens::jwt;
use serde_json::Value;

/// Why a login token was refused. `Unreachable` is the provider's failure, not the
/// token's: Cognito answers it with ExternalServiceException.
#[derive(Debug)]
pub enum OidcRefusal {
    Invalid(String),
    Unreachable(String),
}

fn invalid(message: &str) -> OidcRefusal {
    OidcRefusal::Invalid(format!("Invalid login token. {message}"))
}

/// Verifies an ID token of the provider whose URL (with scheme) is `issuer` and
/// whose app client ids are `client_ids`; returns its claims.
pub async fn verify(
    ctx: &Ctx,
    issuer: &str,
    client_ids: &[String],
    token: &str,
) -> Result<Value, OidcRefusal> {
    let couldnt_verify = || invalid("Couldn't verify signed token.");
    let unverified = jwt::decode(token).ok_or_else(couldnt_verify)?;
    let iss = unverified.claims["iss"].as_str().unwrap_or_default();
    // Google signs some ID tokens with its issuer written without the scheme.
    let bare = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    if iss.trim_end_matches('/') != issuer.trim_end_matches('/') && iss != bare {
        return Err(invalid("Issuer doesn't match providerName"));
    }
    let key = ctx
        .state
        .external_oidc
        .issuer_key(issuer, &unverified.kid)
        .await
        .map_err(OidcRefusal::Unreachable)?
        .ok_or_else(couldnt_verify)?;
    let claims = unverified
        .verify_with_jwk(
            key["n"].as_str().unwrap_or_default(),
            key["e"].as_str().unwrap_or_default(),
        )
        .ok_or_else(couldnt_verify)?;
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !audiences.iter().any(|a| client_ids.iter().any(|c| c == a)) {
        return Err(invalid("Incorrect token audience."));
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let now = ctx.now_s();
    if exp <= now {
        return Err(invalid(&format!("Token expired: {now} >= {exp}")));
    }
    if claims["sub"].as_str().is_none_or(str::is_empty) {
        return Err(invalid("The token has no sub."));
    }
    Ok(claims)
}
