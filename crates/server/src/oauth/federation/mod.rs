//! Sign-in through a pool's external identity provider: `/oauth2/authorize` with
//! `identity_provider` (or `idp_identifier`, or a client whose only provider is
//! external) sends the browser to the provider; the provider sends it back to
//! `/oauth2/idpresponse` with a code, which idpool redeems, checks and turns into a
//! pool user named `{ProviderName}_{subject}`, as Cognito does. The authorization then
//! completes as any hosted sign-in does: a code (or tokens) for the app.
//!
//! OIDC providers (and Google, Apple) are checked through their ID token: signature
//! against the provider's keys, issuer, audience (our `client_id` there), expiry and
//! the nonce idpool sent. Facebook and Login with Amazon are plain OAuth 2.0: their
//! user comes from the attributes endpoint, called with the access token. SAML
//! providers have their own round trip (`saml.rs`) and end the same way.
//!
//! The state sent to the provider is the sealed authorization request plus the nonce
//! and PKCE verifier of this round trip, and the id of a cookie set on the browser
//! that started it: a code delivered to another browser (login CSRF: an attacker
//! getting a victim signed in as the attacker) is refused.

pub mod saml;
pub mod saml_logout;
mod users;

use super::authorize::{
    AuthRequest, Refusal, SignInProof, complete, load_client, redirect, session_cookie,
};
use super::site::Site;
use crate::api::Ctx;
use crate::api::support::str_list;
use crate::external_oidc::Expected;
use crate::state::SharedState;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::Response;
use idpool_core::crypto::b64url;
use idpool_store::{ClientRow, ObjectKind, PoolObjectRow, PoolRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use users::federated_user;

const STATE_PURPOSE: &[u8] = b"oauth-federation-state";
const BROWSER_COOKIE: &str = "idpool-federation";
/// How long a user may take at the provider's pages.
const STATE_LIFETIME_S: i64 = 15 * 60;

/// A pool's identity provider, as CreateIdentityProvider stored it.
pub struct Provider {
    pub name: String,
    pub provider_type: String,
    pub details: BTreeMap<String, String>,
    pub attribute_mapping: BTreeMap<String, String>,
    /// A SAML provider's metadata fetched from its `MetadataURL`.
    pub fetched_metadata: Option<String>,
    /// When it was fetched (Unix seconds).
    pub fetched_metadata_at_s: Option<i64>,
    /// A SAML provider's encryption key (PKCS#8, encrypted with the master key).
    pub encryption_key: Option<String>,
}

impl Provider {
    fn from_row(row: &PoolObjectRow) -> Provider {
        let strings = |v: &Value| -> BTreeMap<String, String> {
            v.as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        };
        Provider {
            name: row.key.clone(),
            provider_type: row.doc["ProviderType"].as_str().unwrap_or_default().into(),
            details: strings(&row.doc["ProviderDetails"]),
            attribute_mapping: strings(&row.doc["AttributeMapping"]),
            fetched_metadata: row.doc[crate::api::identity_providers::FETCHED_METADATA]
                .as_str()
                .map(String::from),
            fetched_metadata_at_s: row.doc[crate::api::identity_providers::FETCHED_METADATA_AT]
                .as_i64()
                .map(|ms| ms.div_euclid(1000)),
            encryption_key: row.doc[crate::api::identity_providers::SAML_ENCRYPTION]["Key"]
                .as_str()
                .map(String::from),
        }
    }

    fn detail(&self, key: &str) -> Option<&str> {
        self.details
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Whether the client lets users sign in with the pool's own directory.
pub fn supports_cognito(client: &ClientRow) -> bool {
    str_list(&client.config["SupportedIdentityProviders"])
        .iter()
        .any(|p| p == "COGNITO")
}

/// The external providers of the client, for the sign-in page's buttons.
pub fn external_providers(client: &ClientRow) -> Vec<String> {
    str_list(&client.config["SupportedIdentityProviders"])
        .into_iter()
        .filter(|p| p != "COGNITO")
        .collect()
}

async fn load_provider(ctx: &Ctx, pool: &PoolRow, name: &str) -> Option<Provider> {
    let row = ctx
        .state
        .store
        .get_object(&pool.id, ObjectKind::IdentityProvider, name)
        .await
        .ok()??;
    Some(Provider::from_row(&row))
}

/// Which external provider an authorization request signs in with (None: the pool's
/// own sign-in pages), or why the request is refused: (OAuth error, description).
pub async fn chosen_provider(
    ctx: &Ctx,
    site: &Site,
    client: &ClientRow,
    identity_provider: Option<&str>,
    idp_identifier: Option<&str>,
) -> Result<Option<String>, (&'static str, String)> {
    let supported = str_list(&client.config["SupportedIdentityProviders"]);
    let name = match (identity_provider, idp_identifier) {
        (Some("COGNITO"), _) => None,
        (Some(name), _) => Some(name.to_string()),
        (None, Some(identifier)) => {
            let rows = ctx
                .state
                .store
                .list_objects(&site.pool.id, ObjectKind::IdentityProvider, None, 1000)
                .await
                .unwrap_or_default();
            let found = rows.iter().find(|r| {
                str_list(&r.doc["IdpIdentifiers"])
                    .iter()
                    .any(|i| i.eq_ignore_ascii_case(identifier))
            });
            match found {
                Some(row) => Some(row.key.clone()),
                None => {
                    return Err((
                        "invalid_request",
                        format!(
                            "No identity provider of this user pool has the identifier {identifier}."
                        ),
                    ));
                }
            }
        }
        // A client that only signs in through one provider goes straight to it.
        (None, None) if !supports_cognito(client) && external_providers(client).len() == 1 => {
            external_providers(client).pop()
        }
        (None, None) => None,
    };
    let Some(name) = name else {
        // Without COGNITO the pool's own pages only offer the client's providers, and
        // asking for them by name is refused.
        if !supports_cognito(client)
            && (identity_provider.is_some() || external_providers(client).is_empty())
        {
            return Err((
                "unauthorized_client",
                "The app client does not allow sign-in with the user pool (COGNITO).".into(),
            ));
        }
        return Ok(None);
    };
    if !supported.contains(&name) {
        return Err((
            "unauthorized_client",
            format!("The app client does not allow sign-in through {name}."),
        ));
    }
    if load_provider(ctx, &site.pool, &name).await.is_none() {
        return Err((
            "invalid_request",
            format!("Identity provider {name} does not exist in this user pool."),
        ));
    }
    Ok(Some(name))
}

/// What travels through the provider, sealed.
#[derive(Serialize, Deserialize)]
struct FederationState {
    req: AuthRequest,
    provider: String,
    nonce: String,
    code_verifier: String,
    /// The value of the browser's federation cookie.
    browser: String,
    exp: i64,
}

impl FederationState {
    /// The state as sent through the provider (`state`, or SAML's `RelayState`).
    fn seal(&self, ctx: &Ctx) -> String {
        ctx.state.master.encrypt(
            serde_json::to_string(self).expect("serializes").as_bytes(),
            STATE_PURPOSE,
        )
    }

    /// The state idpool sealed, if `sealed` is one (expiry not checked).
    fn open(ctx: &Ctx, sealed: &str) -> Option<FederationState> {
        let plain = ctx.state.master.decrypt(sealed, STATE_PURPOSE).ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

/// A federated sign-in that fails after the provider answered: the error goes back to
/// the app, and the round trip's browser cookie is cleared.
fn back_to_app(
    site: &Site,
    req: &AuthRequest,
    error: &'static str,
    description: String,
) -> Response {
    let mut resp = Refusal::Redirect {
        redirect_uri: req.redirect_uri.clone(),
        error,
        description,
        state: req.state.clone(),
        fragment: req.response_type == "token",
    }
    .into_response(site);
    resp.headers_mut()
        .append(header::SET_COOKIE, site.set_cookie(BROWSER_COOKIE, "", 0));
    resp
}

/// The provider's endpoints: from its details, else from its discovery document.
struct Endpoints {
    authorize: String,
    token: String,
    attributes: Option<String>,
    /// For OIDC providers: the issuer and keys of their ID tokens.
    oidc: Option<(String, String)>,
}

async fn endpoints(ctx: &Ctx, p: &Provider) -> Result<Endpoints, String> {
    let Some(issuer) = p.detail("oidc_issuer") else {
        let need = |key: &str| {
            p.detail(key)
                .map(String::from)
                .ok_or_else(|| format!("Identity provider {} has no {key}.", p.name))
        };
        return Ok(Endpoints {
            authorize: need("authorize_url")?,
            token: need("token_url")?,
            attributes: Some(need("attributes_url")?),
            oidc: None,
        });
    };
    let explicit = |key: &str| p.detail(key).map(String::from);
    let discovered = if explicit("authorize_url").is_some()
        && explicit("token_url").is_some()
        && explicit("jwks_uri").is_some()
    {
        Value::Null
    } else {
        (*ctx.state.external_oidc.discovery(issuer).await?).clone()
    };
    let pick = |key: &str, meta: &str| {
        explicit(key).or_else(|| discovered[meta].as_str().map(String::from))
    };
    let missing = |what: &str| format!("Identity provider {} has no {what}.", p.name);
    Ok(Endpoints {
        authorize: pick("authorize_url", "authorization_endpoint")
            .ok_or_else(|| missing("authorization endpoint"))?,
        token: pick("token_url", "token_endpoint").ok_or_else(|| missing("token endpoint"))?,
        attributes: pick("attributes_url", "userinfo_endpoint"),
        oidc: Some((
            issuer.to_string(),
            pick("jwks_uri", "jwks_uri").ok_or_else(|| missing("jwks_uri"))?,
        )),
    })
}

fn pkce_challenge(verifier: &str) -> String {
    b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("system randomness");
    b64url(&bytes)
}

/// Sends the browser to the provider's sign-in.
pub async fn start(ctx: &Ctx, site: &Site, req: &AuthRequest, provider_name: &str) -> Response {
    let refuse = |error: &'static str, description: String| {
        Refusal::Redirect {
            redirect_uri: req.redirect_uri.clone(),
            error,
            description,
            state: req.state.clone(),
            fragment: req.response_type == "token",
        }
        .into_response(site)
    };
    let Some(provider) = load_provider(ctx, &site.pool, provider_name).await else {
        return refuse(
            "invalid_request",
            format!("Identity provider {provider_name} does not exist in this user pool."),
        );
    };
    if provider.provider_type == "SAML" {
        return saml::start(ctx, site, req, &provider, refuse).await;
    }
    let endpoints = match endpoints(ctx, &provider).await {
        Ok(e) => e,
        Err(why) => return refuse("server_error", why),
    };
    let state = FederationState {
        req: req.clone(),
        provider: provider.name.clone(),
        nonce: random_token(),
        code_verifier: random_token(),
        browser: random_token(),
        exp: ctx.now_s() + STATE_LIFETIME_S,
    };
    let sealed = state.seal(ctx);
    let scopes = provider.detail("authorize_scopes").unwrap_or("openid");
    let mut params: Vec<(&str, String)> = vec![
        ("response_type", "code".into()),
        (
            "client_id",
            provider.detail("client_id").unwrap_or_default().into(),
        ),
        ("redirect_uri", site.absolute_url("/oauth2/idpresponse")),
        ("scope", scopes.replace(',', " ")),
        ("state", sealed),
    ];
    if endpoints.oidc.is_some() {
        params.push(("nonce", state.nonce.clone()));
    }
    params.push(("code_challenge", pkce_challenge(&state.code_verifier)));
    params.push(("code_challenge_method", "S256".into()));
    let mut resp = redirect(&super::authorize::with_params(
        &endpoints.authorize,
        &params,
        false,
    ));
    resp.headers_mut().append(
        header::SET_COOKIE,
        site.set_cookie(BROWSER_COOKIE, &state.browser, STATE_LIFETIME_S),
    );
    resp
}

/// The provider's answer at `/oauth2/idpresponse`.
#[derive(Debug, Default, Deserialize)]
pub struct IdpResponse {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /oauth2/idpresponse`: the provider sends the browser back here.
pub async fn idp_response(
    State(state): State<SharedState>,
    site: Site,
    Query(q): Query<IdpResponse>,
) -> Response {
    let ctx = Ctx::for_state(state);
    let Some(fs) = q
        .state
        .as_deref()
        .and_then(|s| FederationState::open(&ctx, s))
        .filter(|fs| fs.exp > ctx.now_s() && fs.req.exp > ctx.now)
    else {
        return Refusal::Page("The sign-in through the identity provider is invalid or has expired; start again from the app.".into())
            .into_response(&site);
    };
    let back =
        |error: &'static str, description: String| back_to_app(&site, &fs.req, error, description);
    if site.cookie(BROWSER_COOKIE) != Some(fs.browser.as_str()) {
        return Refusal::Page(
            "This sign-in was started in another browser; start again from the app.".into(),
        )
        .into_response(&site);
    }
    if let Some(error) = &q.error {
        let description = q.error_description.clone().unwrap_or_else(|| error.clone());
        // The provider's RFC 6749 error goes on to the app when it means the same
        // there; anything else is the provider's failure.
        let code = match error.as_str() {
            "access_denied" => "access_denied",
            "invalid_scope" => "invalid_scope",
            "temporarily_unavailable" => "temporarily_unavailable",
            _ => "server_error",
        };
        return back(code, format!("{}: {description}", fs.provider));
    }
    let Some(code) = q.code.as_deref() else {
        return back(
            "invalid_request",
            "The identity provider sent no code.".into(),
        );
    };
    let Some(client) = load_client(&ctx, &site, &fs.req.client_id).await else {
        return Refusal::Page("The application no longer exists.".into()).into_response(&site);
    };
    let Some(provider) = load_provider(&ctx, &site.pool, &fs.provider).await else {
        return back(
            "invalid_request",
            format!("Identity provider {} no longer exists.", fs.provider),
        );
    };
    let claims = match provider_claims(&ctx, &site, &provider, code, &fs).await {
        Ok(c) => c,
        Err(why) => return back("invalid_request", why),
    };
    // The provider's own account of how the user signed in, when it gives one.
    let amr: Vec<&str> = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let proof = SignInProof::now(&ctx, &amr);
    finish_sign_in(&ctx, &site, &client, &fs.req, &provider, &claims, proof).await
}

/// The end of every federated sign-in: the pool user of the provider's claims, signed
/// in to the hosted UI's session, and the authorization answered.
async fn finish_sign_in(
    ctx: &Ctx,
    site: &Site,
    client: &ClientRow,
    req: &AuthRequest,
    provider: &Provider,
    claims: &Map<String, Value>,
    mut proof: SignInProof,
) -> Response {
    let back = |description: String| back_to_app(site, req, "invalid_request", description);
    let user = match federated_user(ctx, &site.pool, client, provider, claims).await {
        Ok(u) => u,
        Err(e) => return back(e.message),
    };
    if !user.enabled {
        return back("User is disabled.".into());
    }
    if let Err(e) =
        crate::api::user_sessions::begin_sso_session(ctx, &site.pool, client, &user, &mut proof)
            .await
    {
        return back(e.message);
    }
    let mut resp = complete(ctx, site, client, req, &user, &proof).await;
    resp.headers_mut()
        .append(header::SET_COOKIE, session_cookie(ctx, site, &user, &proof));
    resp.headers_mut()
        .append(header::SET_COOKIE, site.set_cookie(BROWSER_COOKIE, "", 0));
    resp
}

/// Redeems the provider's code and returns what it says about the user: the ID
/// token's claims (checked), merged with the attributes endpoint's answer.
async fn provider_claims(
    ctx: &Ctx,
    site: &Site,
    provider: &Provider,
    code: &str,
    fs: &FederationState,
) -> Result<Map<String, Value>, String> {
    let endpoints = endpoints(ctx, provider).await?;
    let http = ctx.state.external_oidc.http();
    let client_id = provider.detail("client_id").unwrap_or_default();
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code.to_string()),
        ("redirect_uri", site.absolute_url("/oauth2/idpresponse")),
        ("client_id", client_id.to_string()),
        ("code_verifier", fs.code_verifier.clone()),
    ];
    // client_secret_post: the client authentication every provider Cognito federates
    // with accepts.
    if let Some(secret) = provider.detail("client_secret") {
        form.push(("client_secret", secret.to_string()));
    }
    let request = if provider.detail("token_request_method") == Some("GET") {
        let pairs: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, v.clone())).collect();
        http.get(super::authorize::with_params(
            &endpoints.token,
            &pairs,
            false,
        ))
    } else {
        http.post(&endpoints.token).form(&form)
    };
    let resp = request
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            format!(
                "Could not reach the token endpoint of {}: {e}",
                provider.name
            )
        })?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!(
            "{} refused the authorization code: {}",
            provider.name,
            body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or(status.as_str())
        ));
    }
    let mut claims = Map::new();
    if let Some((issuer, jwks_uri)) = &endpoints.oidc {
        let id_token = body["id_token"]
            .as_str()
            .ok_or_else(|| format!("{} returned no ID token.", provider.name))?;
        let audiences = [client_id.to_string()];
        let verified = ctx
            .state
            .external_oidc
            .verify_id_token(
                id_token,
                &Expected {
                    issuer,
                    jwks_uri,
                    audiences: &audiences,
                    nonce: Some(&fs.nonce),
                    now_s: ctx.now_s(),
                },
            )
            .await
            .map_err(|why| format!("{}: {why}", provider.name))?;
        if let Value::Object(map) = verified {
            claims = map;
        }
    }
    let access_token = body["access_token"].as_str();
    let wants_attributes = endpoints.oidc.is_none()
        || matches!(
            provider.detail("attributes_request_method"),
            Some("GET" | "POST")
        );
    if let (Some(url), Some(token), true) = (&endpoints.attributes, access_token, wants_attributes)
    {
        let attributes = fetch_attributes(ctx, provider, url, token).await;
        match attributes {
            Ok(Value::Object(map)) => {
                for (k, v) in map {
                    // The ID token's signed claims win over the attributes endpoint.
                    claims.entry(k).or_insert(v);
                }
            }
            Ok(_) | Err(_) if endpoints.oidc.is_some() => {}
            Ok(_) => return Err(format!("{} returned no user attributes.", provider.name)),
            Err(why) => return Err(why),
        }
    }
    Ok(claims)
}

async fn fetch_attributes(
    ctx: &Ctx,
    provider: &Provider,
    url: &str,
    token: &str,
) -> Result<Value, String> {
    let mut url = url.to_string();
    if provider.detail("attributes_url_add_attributes") == Some("true") {
        let fields: Vec<&str> = provider
            .attribute_mapping
            .iter()
            .filter(|(k, _)| k.as_str() != "username")
            .map(|(_, v)| v.as_str())
            .chain(std::iter::once(if provider.provider_type == "Facebook" {
                "id"
            } else {
                "sub"
            }))
            .collect();
        url.push_str(&fields.join(","));
    }
    let http = ctx.state.external_oidc.http();
    let request = if provider.detail("attributes_request_method") == Some("POST") {
        http.post(&url)
    } else {
        http.get(&url)
    };
    let resp = request.bearer_auth(token).send().await.map_err(|e| {
        format!(
            "Could not reach the attributes endpoint of {}: {e}",
            provider.name
        )
    })?;
    if !resp.status().is_success() {
        return Err(format!(
            "{} refused the attributes request ({}).",
            provider.name,
            resp.status()
        ));
    }
    resp.json()
        .await
        .map_err(|_| format!("{} returned attributes that are not JSON.", provider.name))
}

/// `GET /federate?req=...&identity_provider=...`: a provider button of the sign-in page.
pub async fn federate_from_page(
    State(state): State<SharedState>,
    site: Site,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ctx = Ctx::for_state(state);
    let req = match crate::ui::open_request(&ctx, &site, q.get("req").map(String::as_str)) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(client) = load_client(&ctx, &site, &req.client_id).await else {
        return Refusal::Page("The application no longer exists.".into()).into_response(&site);
    };
    let name = q.get("identity_provider").map(String::as_str);
    match chosen_provider(&ctx, &site, &client, name, None).await {
        Ok(Some(provider)) => start(&ctx, &site, &req, &provider).await,
        Ok(None) => Refusal::Page("Choose an identity provider.".into()).into_response(&site),
        Err((_, why)) => Refusal::Page(why).into_response(&site),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_s256() {
        // base64url(SHA-256(verifier)), unpadded, as computed by Python's hashlib.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWtnCjXk"),
            "2eAlPjom_FouW1A1KNx6dHLdN-2RQPKlIlofJd7yaOs"
        );
    }
}
