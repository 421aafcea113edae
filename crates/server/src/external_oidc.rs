//! External OpenID providers idpool relies on (a user pool's OIDC, Google or Apple
//! federation): their discovery documents and signing keys, fetched over HTTP and
//! cached, and the check of the ID tokens they issue.
//!
//! Keys are cached for five minutes so a sign-in does not cost two extra round trips;
//! a token signed with a key the cache does not know triggers one refetch (providers
//! rotate keys), but at most every ten seconds per provider, so forged `kid`s cannot
//! turn idpool into a request amplifier against the provider.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CACHE_TTL: Duration = Duration::from_secs(300);
const MIN_REFETCH: Duration = Duration::from_secs(10);
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const SKEW_S: i64 = 60;

type Cache = Mutex<HashMap<String, (Instant, Arc<Value>)>>;

pub struct ExternalOidc {
    http: reqwest::Client,
    discovery: Cache,
    jwks: Cache,
}

/// What an ID token must satisfy.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub jwks_uri: &'a str,
    /// The token's `aud` must name one of these.
    pub audiences: &'a [String],
    /// The `nonce` idpool sent in the authorization request, if any.
    pub nonce: Option<&'a str>,
    pub now_s: i64,
}

impl Default for ExternalOidc {
    fn default() -> Self {
        Self::new()
    }
}

impl ExternalOidc {
    pub fn new() -> Self {
        ExternalOidc {
            http: reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .unwrap_or_default(),
            discovery: Mutex::default(),
            jwks: Mutex::default(),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Forgets every provider's documents and keys (`POST /_idpool/reset`).
    pub fn clear(&self) {
        for cache in [&self.discovery, &self.jwks] {
            cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// The RSA signing key `kid` (a JWK) of the set at `jwks_uri`: from the cache, else
    /// refetched (rate-limited). None when the provider does not publish it; Err when
    /// the provider cannot be reached.
    pub async fn key(&self, jwks_uri: &str, kid: &str) -> Result<Option<Value>, String> {
        let keys = self.keys(jwks_uri, false).await?;
        if let Some(key) = find_key(&keys, kid) {
            return Ok(Some(key.clone()));
        }
        let keys = self.keys(jwks_uri, true).await?;
        Ok(find_key(&keys, kid).cloned())
    }

    /// `key` for the provider whose issuer URL is `issuer`, found through discovery.
    pub async fn issuer_key(&self, issuer: &str, kid: &str) -> Result<Option<Value>, String> {
        let discovery = self.discovery(issuer).await?;
        let jwks_uri = discovery["jwks_uri"]
            .as_str()
            .ok_or_else(|| format!("{issuer}: the discovery document has no jwks_uri"))?;
        self.key(jwks_uri, kid).await
    }

    /// The provider's `/.well-known/openid-configuration`, whose `issuer` must be the
    /// one asked for (OIDC Discovery 4.3: otherwise another site could pose as it).
    pub async fn discovery(&self, issuer: &str) -> Result<Arc<Value>, String> {
        let issuer = issuer.trim_end_matches('/');
        if let Some(doc) = cached(&self.discovery, issuer, CACHE_TTL) {
            return Ok(doc);
        }
        let url = format!("{issuer}/.well-known/openid-configuration");
        let doc = self.get_json(&url).await?;
        if doc["issuer"].as_str().map(|i| i.trim_end_matches('/')) != Some(issuer) {
            return Err(format!(
                "The discovery document at {url} names another issuer."
            ));
        }
        Ok(store(&self.discovery, issuer, doc))
    }

    async fn keys(&self, jwks_uri: &str, refresh: bool) -> Result<Arc<Value>, String> {
        let max_age = if refresh { MIN_REFETCH } else { CACHE_TTL };
        if let Some(keys) = cached(&self.jwks, jwks_uri, max_age) {
            return Ok(keys);
        }
        let doc = self.get_json(jwks_uri).await?;
        if !doc["keys"].is_array() {
            return Err(format!("{jwks_uri} is not a JSON Web Key Set."));
        }
        Ok(store(&self.jwks, jwks_uri, doc))
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("Could not reach {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{url} answered {}.", resp.status()));
        }
        resp.json()
            .await
            .map_err(|_| format!("{url} did not answer JSON."))
    }

    /// Verifies an ID token's RS256 signature against the provider's keys, then its
    /// issuer, audience, lifetime and nonce. Returns its claims.
    pub async fn verify_id_token(
        &self,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<Value, String> {
        let unverified = idpool_core::tokens::jwt::decode(token)
            .ok_or_else(|| "The ID token is not an RS256 JWT.".to_string())?;
        let key = self
            .key(expected.jwks_uri, &unverified.kid)
            .await?
            .ok_or_else(|| "The ID token is signed with an unknown key.".to_string())?;
        let claims = unverified
            .verify_with_jwk(
                key["n"].as_str().unwrap_or_default(),
                key["e"].as_str().unwrap_or_default(),
            )
            .ok_or_else(|| "The ID token's signature is invalid.".to_string())?;
        check_claims(&claims, expected)?;
        Ok(claims)
    }
}

fn cached(cache: &Cache, key: &str, max_age: Duration) -> Option<Arc<Value>> {
    let cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .get(key)
        .filter(|(at, _)| at.elapsed() < max_age)
        .map(|(_, v)| v.clone())
}

fn store(cache: &Cache, key: &str, value: Value) -> Arc<Value> {
    let value = Arc::new(value);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache.insert(key.to_string(), (Instant::now(), value.clone()));
    value
}

/// The RSA signing key named `kid`; a token without `kid` may use a set's only key.
fn find_key<'a>(jwks: &'a Value, kid: &str) -> Option<&'a Value> {
    let rsa: Vec<&Value> = jwks["keys"]
        .as_array()?
        .iter()
        .filter(|k| k["kty"] == "RSA" && k["use"].as_str().is_none_or(|u| u == "sig"))
        .collect();
    if kid.is_empty() {
        return (rsa.len() == 1).then(|| rsa[0]);
    }
    rsa.into_iter().find(|k| k["kid"] == kid)
}

fn check_claims(claims: &Value, expected: &Expected<'_>) -> Result<(), String> {
    let iss = claims["iss"].as_str().unwrap_or_default();
    if iss.trim_end_matches('/') != expected.issuer.trim_end_matches('/') {
        return Err(format!(
            "The ID token was issued by {iss}, not {}.",
            expected.issuer
        ));
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences
        .iter()
        .any(|a| expected.audiences.iter().any(|e| e == a))
    {
        return Err("The ID token was issued for another client.".into());
    }
    let now = expected.now_s;
    match claims["exp"].as_i64() {
        Some(exp) if exp + SKEW_S > now => {}
        _ => return Err("The ID token has expired.".into()),
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf - SKEW_S > now)
        || claims["iat"].as_i64().is_some_and(|iat| iat - SKEW_S > now)
    {
        return Err("The ID token is not valid yet.".into());
    }
    if let Some(nonce) = expected.nonce
        && claims["nonce"].as_str() != Some(nonce)
    {
        // OIDC Core 3.1.3.7: the nonce binds the token to this sign-in, so a token
        // replayed from another one is refused.
        return Err("The ID token's nonce does not match the sign-in.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected<'a>(audiences: &'a [String], nonce: Option<&'a str>) -> Expected<'a> {
        Expected {
            issuer: "https://idp.example",
            jwks_uri: "https://idp.example/jwks",
            audiences,
            nonce,
            now_s: 1_000_000,
        }
    }

    #[test]
    fn claims_are_checked_like_oidc_core_says() {
        let aud = vec!["client-1".to_string()];
        let good = json!({"iss": "https://idp.example/", "aud": ["x", "client-1"], "exp": 1_000_100, "iat": 999_990, "nonce": "n1"});
        assert!(check_claims(&good, &expected(&aud, Some("n1"))).is_ok());
        assert!(check_claims(&good, &expected(&aud, Some("n2"))).is_err());
        let other_aud = vec!["client-2".to_string()];
        assert!(check_claims(&good, &expected(&other_aud, None)).is_err());
        let mut expired = good.clone();
        expired["exp"] = json!(999_000);
        assert!(check_claims(&expired, &expected(&aud, None)).is_err());
        let mut foreign = good.clone();
        foreign["iss"] = json!("https://evil.example");
        assert!(check_claims(&foreign, &expected(&aud, None)).is_err());
        let mut future = good;
        future["nbf"] = json!(1_000_500);
        assert!(check_claims(&future, &expected(&aud, None)).is_err());
    }

    #[test]
    fn a_token_without_kid_may_use_the_only_key() {
        let one = json!({"keys": [{"kty": "RSA", "kid": "a", "n": "x", "e": "AQAB"}]});
        assert!(find_key(&one, "").is_some());
        assert!(find_key(&one, "b").is_none());
        let two = json!({"keys": [{"kty": "RSA", "kid": "a"}, {"kty": "RSA", "kid": "b", "use": "sig"}, {"kty": "RSA", "kid": "c", "use": "enc"}]});
        assert!(find_key(&two, "").is_none());
        assert_eq!(find_key(&two, "b").unwrap()["kid"], "b");
        assert!(find_key(&two, "c").is_none());
    }
}
