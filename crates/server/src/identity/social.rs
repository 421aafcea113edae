//! Logins from Facebook, Login with Amazon and Twitter (`SupportedLoginProviders`
//! `graph.facebook.com`, `www.amazon.com`, `api.twitter.com`). Unlike Google's and
//! Apple's ID tokens these are opaque access tokens: as Cognito does, idpool asks the
//! provider's own API whom a token belongs to and which app it was issued to, and
//! accepts it only for one of the app ids the pool lists (comma-separated).
//!
//! - Facebook: `GET {graph}/app` with the token names the app it was issued to, and
//!   `GET {graph}/me?fields=id` the user. (`debug_token` would need the app secret,
//!   which an identity pool never holds.)
//! - Login with Amazon: `GET {amazon}/auth/o2/tokeninfo` gives the client (`aud`), the
//!   app (`app_id`) and the user (`user_id`).
//! - Twitter: the login is `token;tokenSecret` and the pool's value
//!   `consumerKey;consumerSecret`; `GET {twitter}/1.1/account/verify_credentials.json`,
//!   signed with OAuth 1.0a (HMAC-SHA1) by both, only succeeds when the token belongs
//!   to that consumer, and names the user (`id_str`).
//!
//! The base URLs are `[social-apis]` in the config (a test's fake provider). A provider
//! that rejects the token is the token's fault (NotAuthorizedException); one that
//! cannot be reached or fails is the provider's (ExternalServiceException), as for
//! OpenID Connect providers. Tokens travel in query strings, so errors are logged
//! without their URLs.

use super::identities::VerifiedLogin;
use crate::api::Ctx;
use base64::Engine;
use idpool_store::login_key;
use idpool_wire::{IdentityException as E, WireError};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

pub const FACEBOOK: &str = "graph.facebook.com";
pub const AMAZON: &str = "www.amazon.com";
pub const TWITTER: &str = "api.twitter.com";

/// Whether `provider` is one of the access-token providers this module checks.
pub fn is_social_provider(provider: &str) -> bool {
    [FACEBOOK, AMAZON, TWITTER].contains(&provider)
}

/// Why a provider's answer refuses the login.
#[derive(Debug)]
enum Refusal {
    /// The provider rejected the token (its explanation, if any).
    Rejected(String),
    /// The token is valid but was issued to an app the pool does not list.
    OtherApp,
    /// The provider answered with something no valid token yields.
    Invalid(String),
    /// The provider could not be reached or failed.
    Unreachable(String),
}

/// Checks the access token `token` of `provider`, whose entry in the pool's
/// `SupportedLoginProviders` is `pool_value`.
pub async fn verify(
    ctx: &Ctx,
    provider: &str,
    pool_value: &str,
    token: &str,
) -> Result<VerifiedLogin, WireError> {
    let apis = &ctx.state.config.social_apis;
    let claims = match provider {
        FACEBOOK => facebook(ctx, &apis.facebook_graph_url, &app_ids(pool_value), token).await,
        AMAZON => amazon(ctx, &apis.amazon_api_url, &app_ids(pool_value), token).await,
        _ => twitter(ctx, &apis.twitter_api_url, pool_value, token).await,
    }
    .map_err(|r| refusal(provider, r))?;
    let sub = claims["sub"].as_str().unwrap_or_default().to_string();
    Ok(VerifiedLogin {
        provider: provider.to_string(),
        key: Some(login_key(provider, &sub)),
        token_identity: None,
        amr: vec![provider.to_string()],
        claims,
    })
}

fn app_ids(pool_value: &str) -> Vec<String> {
    pool_value
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

fn display_name(provider: &str) -> &'static str {
    match provider {
        FACEBOOK => "Facebook",
        AMAZON => "Login with Amazon",
        _ => "Twitter",
    }
}

fn not_authorized(message: impl Into<String>) -> WireError {
    WireError::identity(E::NotAuthorizedException, message)
}

fn refusal(provider: &str, r: Refusal) -> WireError {
    let name = display_name(provider);
    match r {
        Refusal::Rejected(why) if why.is_empty() => not_authorized(format!(
            "Invalid login token. {name} did not accept the access token."
        )),
        Refusal::Rejected(why) => not_authorized(format!(
            "Invalid login token. {name} did not accept the access token: {why}"
        )),
        // Cognito's words for a token of an app the pool does not list.
        Refusal::OtherApp => {
            not_authorized("Token is not from a supported provider of this identity pool.")
        }
        Refusal::Invalid(why) => not_authorized(format!("Invalid login token. {why}")),
        Refusal::Unreachable(why) => {
            tracing::warn!("{name} unreachable: {why}");
            WireError::identity(
                E::ExternalServiceException,
                format!("An exception occurred while contacting {name}."),
            )
        }
    }
}

/// RFC 3986's unreserved characters stay, everything else is %XX (uppercase): what
/// OAuth 1.0a's signature base string requires (RFC 5849 3.6), and safe in a query.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// GETs `url` and returns its JSON object. 400/401/403 are the provider's refusal of
/// the token; any other failure is the provider's.
async fn get_json(ctx: &Ctx, url: &str, authorization: Option<String>) -> Result<Value, Refusal> {
    let mut request = ctx.state.external_oidc.http().get(url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    // `without_url`: the URL carries the user's access token.
    let resp = request
        .send()
        .await
        .map_err(|e| Refusal::Unreachable(e.without_url().to_string()))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if matches!(status.as_u16(), 400 | 401 | 403) {
        return Err(Refusal::Rejected(provider_message(&body)));
    }
    if !status.is_success() {
        return Err(Refusal::Unreachable(format!("answered {status}")));
    }
    if !body.is_object() {
        return Err(Refusal::Unreachable(format!(
            "answered {status} without a JSON object"
        )));
    }
    Ok(body)
}

/// The provider's explanation of an error: Graph API's `error.message`, OAuth 2.0's
/// `error_description`, Twitter's `errors[0].message`; bounded, since it is echoed.
fn provider_message(body: &Value) -> String {
    let message = [
        &body["error"]["message"],
        &body["error_description"],
        &body["errors"][0]["message"],
    ]
    .into_iter()
    .find_map(Value::as_str)
    .unwrap_or_default();
    message.chars().take(200).collect()
}

/// A non-empty string or number field (providers' ids are strings, but a JSON number
/// would lose digits if read as one).
fn id_field(body: &Value, field: &str) -> Option<String> {
    match &body[field] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn facebook(
    ctx: &Ctx,
    graph: &str,
    app_ids: &[String],
    token: &str,
) -> Result<Value, Refusal> {
    let token = enc(token);
    let app_url = format!("{graph}/app?access_token={token}");
    let me_url = format!("{graph}/me?fields=id&access_token={token}");
    // Both at once: a sign-in should not wait for two round trips in a row.
    let (app, me) = tokio::join!(get_json(ctx, &app_url, None), get_json(ctx, &me_url, None));
    let app_id = id_field(&app?, "id")
        .ok_or_else(|| Refusal::Invalid("Facebook named no app for the token.".into()))?;
    if !app_ids.contains(&app_id) {
        return Err(Refusal::OtherApp);
    }
    let user = id_field(&me?, "id")
        .ok_or_else(|| Refusal::Invalid("Facebook named no user for the token.".into()))?;
    Ok(json!({"sub": user, "id": user, "aud": app_id, "app_id": app_id}))
}

async fn amazon(ctx: &Ctx, api: &str, app_ids: &[String], token: &str) -> Result<Value, Refusal> {
    let info = get_json(
        ctx,
        &format!("{api}/auth/o2/tokeninfo?access_token={}", enc(token)),
        None,
    )
    .await?;
    let aud = id_field(&info, "aud").unwrap_or_default();
    let app = id_field(&info, "app_id").unwrap_or_default();
    // The console asks for the "Amazon App ID" (amzn1.application.…) while the token's
    // `aud` is the security profile's client id (amzn1.application-oa2-client.…); a
    // pool may list either.
    if !app_ids.iter().any(|a| *a == aud || *a == app) {
        return Err(Refusal::OtherApp);
    }
    let user = id_field(&info, "user_id")
        .ok_or_else(|| Refusal::Invalid("Login with Amazon named no user for the token.".into()))?;
    let mut claims = json!({"sub": user, "user_id": user, "aud": aud});
    if !app.is_empty() {
        claims["app_id"] = json!(app);
    }
    Ok(claims)
}

async fn twitter(ctx: &Ctx, api: &str, pool_value: &str, login: &str) -> Result<Value, Refusal> {
    let (consumer_key, consumer_secret) = pool_value.split_once(';').ok_or_else(|| {
        Refusal::Invalid(format!(
            "The identity pool's {TWITTER} entry is not \"consumerKey;consumerSecret\"."
        ))
    })?;
    let (token, token_secret) = login.split_once(';').ok_or_else(|| {
        Refusal::Invalid("A Twitter login is \"accessToken;accessTokenSecret\".".into())
    })?;
    let creds = OAuth1 {
        consumer_key: consumer_key.trim(),
        consumer_secret: consumer_secret.trim(),
        token,
        token_secret,
    };
    let base_uri = format!("{api}/1.1/account/verify_credentials.json");
    // Only the id is needed: skip the latest tweet and entities Twitter would add.
    let query = [("include_entities", "false"), ("skip_status", "true")];
    let nonce = hex::encode(idpool_core::crypto::random_bytes(16));
    let authorization = creds.authorization("GET", &base_uri, &query, &nonce, ctx.now_s());
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let url = format!("{base_uri}?{}", query.join("&"));
    let user = get_json(ctx, &url, Some(authorization)).await?;
    let id = id_field(&user, "id_str")
        .ok_or_else(|| Refusal::Invalid("Twitter named no user for the token.".into()))?;
    let mut claims = json!({"sub": id, "id": id, "id_str": id, "aud": creds.consumer_key});
    if let Some(name) = user["screen_name"].as_str() {
        claims["screen_name"] = json!(name);
    }
    Ok(claims)
}

/// OAuth 1.0a client credentials and token (RFC 5849).
struct OAuth1<'a> {
    consumer_key: &'a str,
    consumer_secret: &'a str,
    token: &'a str,
    token_secret: &'a str,
}

impl OAuth1<'_> {
    /// The `Authorization: OAuth ...` header of a request to `base_uri` (scheme, host,
    /// port if not the default, path: RFC 5849 3.4.1.2) with these query or form
    /// parameters.
    fn authorization(
        &self,
        method: &str,
        base_uri: &str,
        params: &[(&str, &str)],
        nonce: &str,
        timestamp: i64,
    ) -> String {
        let timestamp = timestamp.to_string();
        let mut oauth = vec![
            ("oauth_consumer_key", self.consumer_key),
            ("oauth_nonce", nonce),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", timestamp.as_str()),
            ("oauth_token", self.token),
            ("oauth_version", "1.0"),
        ];
        let all: Vec<(&str, &str)> = oauth.iter().chain(params).copied().collect();
        let signature = self.signature(method, base_uri, &all);
        oauth.push(("oauth_signature", &signature));
        let fields: Vec<String> = oauth
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
            .collect();
        format!("OAuth {}", fields.join(", "))
    }

    /// HMAC-SHA1 of the signature base string (RFC 5849 3.4.1, 3.4.2), base64.
    fn signature(&self, method: &str, base_uri: &str, params: &[(&str, &str)]) -> String {
        use aws_lc_rs::hmac;
        let base = format!(
            "{}&{}&{}",
            method.to_ascii_uppercase(),
            enc(base_uri),
            enc(&normalized_parameters(params))
        );
        let key = format!("{}&{}", enc(self.consumer_secret), enc(self.token_secret));
        // SHA-1 is what OAuth 1.0a's HMAC-SHA1 method (Twitter's only one) is defined on.
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, base.as_bytes()))
    }
}

/// RFC 5849 3.4.1.3.2: every name and value encoded, sorted by name then value,
/// joined as `name=value&...`.
fn normalized_parameters(params: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_normalized_as_rfc_5849_shows() {
        // RFC 5849 3.4.1.3: the example request's parameters, decoded.
        let params = [
            ("b5", "=%3D"),
            ("a3", "a"),
            ("c@", ""),
            ("a2", "r b"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
            ("c2", ""),
            ("a3", "2 q"),
        ];
        assert_eq!(
            normalized_parameters(&params),
            "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2\
             &oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201\
             &oauth_token=kkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn signature_matches_twitters_documented_example() {
        // developer.twitter.com, "Creating a signature": its keys, request and result.
        let creds = OAuth1 {
            consumer_key: "xvz1evFS4wEEPTGEFPHBog",
            consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        };
        let params = [
            (
                "status",
                "Hello Ladies + Gentlemen, a signed OAuth request!",
            ),
            ("include_entities", "true"),
            ("oauth_consumer_key", creds.consumer_key),
            ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1318622958"),
            ("oauth_token", creds.token),
            ("oauth_version", "1.0"),
        ];
        assert_eq!(
            creds.signature(
                "POST",
                "https://api.twitter.com/1.1/statuses/update.json",
                &params
            ),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
        );
    }

    #[test]
    fn signature_matches_rfc_5849_example() {
        // RFC 5849 1.2: printer.example.com's request for photos.example.net (which
        // sends no oauth_version).
        let creds = OAuth1 {
            consumer_key: "dpf43f3p2l4k3l03",
            consumer_secret: "kd94hf93k423kf44",
            token: "nnch734d00sl2jdk",
            token_secret: "pfkkdhi9sl3r4s00",
        };
        let params = [
            ("file", "vacation.jpg"),
            ("size", "original"),
            ("oauth_consumer_key", creds.consumer_key),
            ("oauth_token", creds.token),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131202"),
            ("oauth_nonce", "chapoH"),
        ];
        assert_eq!(
            creds.signature("GET", "http://photos.example.net/photos", &params),
            "MdpQcU8iPSUjWoN/UDMsK2sui9I="
        );
    }

    #[test]
    fn authorization_header_carries_the_encoded_signature() {
        let creds = OAuth1 {
            consumer_key: "ck",
            consumer_secret: "cs",
            token: "t",
            token_secret: "ts",
        };
        let uri = "http://127.0.0.1:8080/1.1/account/verify_credentials.json";
        let query = [("skip_status", "true")];
        let header = creds.authorization("get", uri, &query, "n/1", 1_700_000_000);
        let expected = creds.signature(
            "GET",
            uri,
            &[
                ("oauth_consumer_key", "ck"),
                ("oauth_nonce", "n/1"),
                ("oauth_signature_method", "HMAC-SHA1"),
                ("oauth_timestamp", "1700000000"),
                ("oauth_token", "t"),
                ("oauth_version", "1.0"),
                ("skip_status", "true"),
            ],
        );
        assert!(header.starts_with("OAuth oauth_consumer_key=\"ck\", oauth_nonce=\"n%2F1\", "));
        assert!(
            header.ends_with(&format!("oauth_signature=\"{}\"", enc(&expected))),
            "{header}"
        );
    }

    #[test]
    fn provider_errors_are_read_and_bounded() {
        let fb = json!({"error": {"message": "Invalid OAuth access token.", "code": 190}});
        assert_eq!(provider_message(&fb), "Invalid OAuth access token.");
        let lwa = json!({"error": "invalid_token", "error_description": "The request has an invalid parameter : access_token"});
        assert!(provider_message(&lwa).starts_with("The request has"));
        let tw = json!({"errors": [{"code": 89, "message": "Invalid or expired token."}]});
        assert_eq!(provider_message(&tw), "Invalid or expired token.");
        assert_eq!(
            provider_message(&json!({"error": {"message": "x".repeat(500)}})).len(),
            200
        );
        assert_eq!(app_ids(" 1, 2 ,,3"), vec!["1", "2", "3"]);
        assert_eq!(
            id_field(&json!({"id": 10_765_432_100_123_456_u64}), "id").unwrap(),
            "10765432100123456"
        );
    }
}
