//! The OpenID Connect tokens identity pools issue (GetOpenIdToken): what an app hands
//! to STS AssumeRoleWithWebIdentity in the classic (basic) flow, and what the enhanced
//! flow uses internally.
//!
//! They are RS256 JWTs shaped like Cognito's: `iss` is the identity service's issuer,
//! `aud` the identity pool id, `sub` the identity id, `amr` `["authenticated", provider,
//! ...]` or `["unauthenticated"]`. The issuer is `{public_url}/cognito-identity`, whose
//! discovery document and JWKS idpool serves, so AWS STS can trust idpool as an OIDC
//! provider. Trust policies name the provider `cognito-identity.amazonaws.com`, as they
//! do for Cognito, so a role written for Cognito works unchanged.

use crate::api::Ctx;
use crate::api::support::{load_keys, pool_keys};
use idpool_core::tokens::jwt;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The key set (and path segment) of the identity service's tokens.
pub const KEY_SET: &str = "cognito-identity";
/// The provider name trust policies use for tokens of identity pools.
pub const PROVIDER: &str = "cognito-identity.amazonaws.com";

pub fn issuer(ctx: &Ctx) -> String {
    format!("{}/{KEY_SET}", ctx.state.public_url)
}

pub async fn issue(
    ctx: &Ctx,
    pool_id: &str,
    identity_id: &str,
    amr: &[String],
    lifetime_s: i64,
    principal_tags: &BTreeMap<String, String>,
) -> Result<String, String> {
    let keys = pool_keys(ctx, KEY_SET).await.map_err(|e| e.message)?;
    let now = ctx.now_s();
    let mut claims = json!({
        "iss": issuer(ctx),
        "sub": identity_id,
        "aud": pool_id,
        "amr": amr,
        "iat": now,
        "exp": now + lifetime_s,
        "https://cognito-identity.amazonaws.com/identity-pool-arn": format!(
            "arn:aws:cognito-identity:{}:{}:identitypool/{pool_id}",
            ctx.region, ctx.state.config.account_id
        ),
    });
    if !principal_tags.is_empty() {
        let tags: BTreeMap<&String, [&String; 1]> =
            principal_tags.iter().map(|(k, v)| (k, [v])).collect();
        claims[TAGS_CLAIM] = json!({ "principal_tags": tags });
    }
    jwt::sign(&keys[0], &claims).map_err(|e| e.to_string())
}

/// The claim in which web identity tokens carry session tags, as AWS STS reads it.
pub const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

/// The principal tags of a token (`{"principal_tags": {"k": ["v"]}}`).
pub fn principal_tags(claims: &Value) -> BTreeMap<String, String> {
    claims[TAGS_CLAIM]["principal_tags"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let v = v.as_array().and_then(|a| a.first()).unwrap_or(v);
            v.as_str().map(|v| (k.clone(), v.to_string()))
        })
        .collect()
}

/// Why a token was refused: STS answers InvalidIdentityToken and
/// ExpiredTokenException differently.
pub enum Refused {
    Invalid,
    Expired { exp: i64 },
}

/// Verifies a token issued by `issue` (signature, issuer, expiry) and returns its claims.
pub async fn verify(ctx: &Ctx, token: &str) -> Result<Value, Refused> {
    let unverified = jwt::decode(token).ok_or(Refused::Invalid)?;
    if unverified.claims["iss"] != issuer(ctx).as_str() {
        return Err(Refused::Invalid);
    }
    let keys = load_keys(ctx, KEY_SET, false)
        .await
        .ok()
        .flatten()
        .ok_or(Refused::Invalid)?;
    let key = keys
        .iter()
        .find(|k| k.kid == unverified.kid)
        .ok_or(Refused::Invalid)?;
    let claims = unverified.verify(&key.public_der).ok_or(Refused::Invalid)?;
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp <= ctx.now_s() {
        return Err(Refused::Expired { exp });
    }
    Ok(claims)
}

/// The condition keys a web identity token of an identity pool brings into a session.
pub fn condition_keys(claims: &Value) -> BTreeMap<String, Vec<String>> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let amr: Vec<String> = claims["amr"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    [
        (format!("{PROVIDER}:aud"), vec![s(&claims["aud"])]),
        (format!("{PROVIDER}:sub"), vec![s(&claims["sub"])]),
        (format!("{PROVIDER}:amr"), amr),
    ]
    .into_iter()
    .collect()
}
