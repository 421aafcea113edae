//! Logins from external OpenID Connect providers (the identity pool's
//! `OpenIdConnectProviderARNs`, each an IAM OIDC provider): the ID token is checked
//! as Cognito checks it, against the provider's published keys: RS256 signature,
//! `iss` the provider's URL, `aud` one of the provider's `ClientIDList`, `exp` ahead.
//!
//! The keys are found through the provider's discovery document
//! (`<issuer>/.well-known/openid-configuration` → `jwks_uri`) and kept in memory for
//! a few minutes, so a login does not cost two outbound requests. A token signed with
//! a key the cache does not know triggers a refetch (providers rotate keys), at most
//! once per `REFETCH_AFTER`, so tokens with made-up kids cannot make idpool hammer the
//! provider. This cache is per node and only a cache: any node rebuilds it from the
//! provider.

use crate::api::Ctx;
use idpool_core::crypto::b64url_decode;
use idpool_core::tokens::jwt;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long fetched keys are trusted without asking the provider again.
const KEYS_TTL: Duration = Duration::from_secs(300);
/// The shortest interval between two fetches for one provider, when a token names an
/// unknown key.
const REFETCH_AFTER: Duration = Duration::from_secs(10);
/// The bound on each outbound request to a provider.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

struct RsaKey {
    kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
}

struct Entry {
    keys: Vec<RsaKey>,
    fetched_at: Instant,
}

/// Providers' signing keys, by issuer URL.
pub struct JwksCache {
    http: reqwest::Client,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

impl Default for JwksCache {
    fn default() -> Self {
        JwksCache {
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .expect("an HTTP client with default TLS"),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

/// Why a login token was refused. `Unreachable` is the provider's failure, not the
/// token's: Cognito answers it with ExternalServiceException.
#[derive(Debug)]
pub enum OidcRefusal {
    Invalid(String),
    Unreachable(String),
}

impl JwksCache {
    /// Forgets every provider's keys.
    pub fn clear(&self) {
        self.entries.lock().expect("jwks cache lock").clear();
    }

    async fn get_json(&self, url: &str) -> Result<Value, OidcRefusal> {
        let unreachable = |e: String| OidcRefusal::Unreachable(format!("{url}: {e}"));
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unreachable(format!("HTTP {}", response.status())));
        }
        let body = response
            .text()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        serde_json::from_str(&body).map_err(|e| unreachable(e.to_string()))
    }

    async fn fetch(&self, issuer: &str) -> Result<Entry, OidcRefusal> {
        let discovery = self
            .get_json(&format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ))
            .await?;
        let jwks_uri = discovery["jwks_uri"].as_str().ok_or_else(|| {
            OidcRefusal::Unreachable(format!("{issuer}: the discovery document has no jwks_uri"))
        })?;
        let jwks = self.get_json(jwks_uri).await?;
        let keys = jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| k["kty"] == "RSA" && k["use"].as_str().is_none_or(|u| u == "sig"))
            .filter_map(|k| {
                Some(RsaKey {
                    kid: k["kid"].as_str().unwrap_or_default().to_string(),
                    n: b64url_decode(k["n"].as_str()?)?,
                    e: b64url_decode(k["e"].as_str()?)?,
                })
            })
            .collect();
        Ok(Entry {
            keys,
            fetched_at: Instant::now(),
        })
    }

    /// The cached keys of an issuer; fetched when absent, stale, or (rate-limited)
    /// when they lack `kid`.
    async fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<Entry>, OidcRefusal> {
        let cached = self
            .entries
            .lock()
            .expect("jwks cache lock")
            .get(issuer)
            .cloned();
        if let Some(entry) = &cached {
            let age = entry.fetched_at.elapsed();
            let knows_kid = entry.keys.iter().any(|k| k.kid == kid);
            if age < KEYS_TTL && (knows_kid || age < REFETCH_AFTER) {
                return Ok(entry.clone());
            }
        }
        let fresh = Arc::new(self.fetch(issuer).await?);
        self.entries
            .lock()
            .expect("jwks cache lock")
            .insert(issuer.to_string(), fresh.clone());
        Ok(fresh)
    }
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
    let entry = ctx
        .state
        .oidc_keys
        .keys_for(issuer, &unverified.kid)
        .await?;
    let key = match entry.keys.iter().find(|k| k.kid == unverified.kid) {
        Some(k) => k,
        // A provider with one key may sign without naming it.
        None if unverified.kid.is_empty() && entry.keys.len() == 1 => &entry.keys[0],
        None => return Err(couldnt_verify()),
    };
    let claims = unverified
        .verify_components(&key.n, &key.e)
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
