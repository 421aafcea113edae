//! `/oauth2/authorize`: checks an authorization request against the app client, then
//! signs the user in at the hosted pages (or reuses their hosted-UI session) and
//! redirects back with a code (`response_type=code`) or tokens (`token`).
//!
//! RFC 6749 4.1.2.1: a request with an unknown client or a `redirect_uri` the client
//! does not list exactly is answered with an error page, never a redirect, so idpool
//! cannot be used as an open redirector. Other errors go back to the app's
//! `redirect_uri` with `error` and `state`.
//!
//! The checked request travels between the pages sealed with the master key (`req`), so
//! no page has to trust a parameter the browser could change. Codes are sealed too,
//! live 5 minutes, are bound to the client, the redirect URI and the PKCE challenge,
//! and are spent in the store, so any node can redeem one, once.

use super::site::Site;
use crate::api::Ctx;
use crate::api::support::{OAuthGrant, issue_tokens_for, str_list};
use crate::state::SharedState;
use crate::ui;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idpool_core::ids;
use idpool_store::{ClientRow, UserRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

const REQUEST_PURPOSE: &[u8] = b"oauth-authorization-request";
const CODE_PURPOSE: &[u8] = b"oauth-authorization-code";
const SESSION_PURPOSE: &[u8] = b"hosted-ui-session";
/// Cognito's authorization codes live 5 minutes.
const CODE_LIFETIME_MS: i64 = 5 * 60 * 1000;
/// How long the pages of one authorization stay usable.
const REQUEST_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// Cognito's hosted-UI session: one hour of single sign-on.
pub const SESSION_LIFETIME_S: i64 = 60 * 60;
pub const SESSION_COOKIE: &str = "idpool-session";

/// A checked authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// "code" or "token".
    pub response_type: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    /// The external provider to sign in with (None: the pool's own pages).
    #[serde(default)]
    pub identity_provider: Option<String>,
    pub exp: i64,
}

impl AuthRequest {
    pub fn seal(&self, ctx: &Ctx) -> String {
        ctx.state.master.encrypt(
            serde_json::to_string(self).expect("serializes").as_bytes(),
            REQUEST_PURPOSE,
        )
    }

    pub fn open(ctx: &Ctx, sealed: &str) -> Option<AuthRequest> {
        let plain = ctx.state.master.decrypt(sealed, REQUEST_PURPOSE).ok()?;
        let req: AuthRequest = serde_json::from_slice(&plain).ok()?;
        (req.exp > ctx.now).then_some(req)
    }
}

/// The parameters of `/oauth2/authorize` (and of `/login` called directly, as apps
/// link to Cognito's hosted UI).
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeQuery {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub identity_provider: Option<String>,
    pub idp_identifier: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
}

/// How and when a user proved who they are at the hosted UI: `auth_time` (seconds)
/// and the OIDC `amr` values (RFC 8176) of the methods used, which the ID tokens of the
/// authorization carry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SignInProof {
    pub auth_time: i64,
    #[serde(default)]
    pub amr: Vec<String>,
    /// The SAML session of a user signed in through a SAML provider, which `/logout`
    /// ends at the provider too when it has `IDPSignout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<SamlSession>,
    /// The SSO session's id, when the pool tracks sessions (ListUserSessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<String>,
}

/// Who the SAML provider signed in, as its LogoutRequest must name them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlSession {
    pub provider: String,
    pub name_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_index: Option<String>,
}

impl SignInProof {
    pub fn now(ctx: &Ctx, amr: &[&str]) -> SignInProof {
        SignInProof {
            auth_time: ctx.now_s(),
            amr: amr.iter().map(|m| m.to_string()).collect(),
            saml: None,
            sso: None,
        }
    }
}

/// Why a request was refused: on a page (no trusted redirect URI), or back at the app.
pub enum Refusal {
    Page(String),
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
        fragment: bool,
    },
}

impl Refusal {
    pub fn into_response(self, site: &Site) -> Response {
        match self {
            Refusal::Page(message) => ui::error_page(site, StatusCode::BAD_REQUEST, &message),
            Refusal::Redirect {
                redirect_uri,
                error,
                description,
                state,
                fragment,
            } => {
                let mut params = vec![
                    ("error", error.to_string()),
                    ("error_description", description),
                ];
                if let Some(s) = state {
                    params.push(("state", s));
                }
                redirect(&with_params(&redirect_uri, &params, fragment))
            }
        }
    }
}

pub async fn load_client(ctx: &Ctx, site: &Site, client_id: &str) -> Option<ClientRow> {
    find_client(ctx, site, client_id).await.ok()
}

/// The app client `client_id` names at this pool's OAuth endpoints, or why none: an
/// app client's id, or the URL of a client ID metadata document a CIMD policy admits.
pub async fn find_client(ctx: &Ctx, site: &Site, client_id: &str) -> Result<ClientRow, String> {
    if client_id.starts_with("https://") {
        return crate::api::cimd::resolve_client(ctx, &site.pool, client_id).await;
    }
    ctx.state
        .store
        .get_client(client_id)
        .await
        .ok()
        .flatten()
        .filter(|c| c.pool_id == site.pool.id)
        .ok_or_else(|| format!("Client {client_id} does not exist in this user pool."))
}

/// Checks an authorization request as Cognito does.
pub async fn check_request(
    ctx: &Ctx,
    site: &Site,
    q: &AuthorizeQuery,
) -> Result<(ClientRow, AuthRequest), Refusal> {
    let client_id = q
        .client_id
        .as_deref()
        .ok_or_else(|| Refusal::Page("The request has no client_id.".into()))?;
    let client = find_client(ctx, site, client_id)
        .await
        .map_err(Refusal::Page)?;
    let redirect_uri = q
        .redirect_uri
        .clone()
        .ok_or_else(|| Refusal::Page("The request has no redirect_uri.".into()))?;
    if !str_list(&client.config["CallbackURLs"]).contains(&redirect_uri) {
        return Err(Refusal::Page(
            "redirect_mismatch: the redirect_uri is not one of the app client's callback URLs."
                .into(),
        ));
    }
    let response_type = q.response_type.clone().unwrap_or_default();
    let refuse = |error: &'static str, description: String| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description,
        state: q.state.clone(),
        fragment: response_type == "token",
    };
    let flow = match response_type.as_str() {
        "code" => "code",
        "token" => "implicit",
        _ => {
            return Err(refuse(
                "unsupported_response_type",
                "response_type must be code or token".into(),
            ));
        }
    };
    if client.config["AllowedOAuthFlowsUserPoolClient"] != true
        || !str_list(&client.config["AllowedOAuthFlows"])
            .iter()
            .any(|f| f == flow)
    {
        return Err(refuse(
            "unauthorized_client",
            format!("The app client is not allowed the {flow} flow."),
        ));
    }
    let identity_provider = super::federation::chosen_provider(
        ctx,
        site,
        &client,
        q.identity_provider.as_deref(),
        q.idp_identifier.as_deref(),
    )
    .await
    .map_err(|(error, description)| refuse(error, description))?;
    let allowed = str_list(&client.config["AllowedOAuthScopes"]);
    let scopes: Vec<String> = match q.scope.as_deref() {
        Some(s) if !s.trim().is_empty() => s.split_whitespace().map(String::from).collect(),
        _ => allowed.clone(),
    };
    if let Some(bad) = scopes.iter().find(|s| !allowed.contains(s)) {
        return Err(refuse(
            "invalid_scope",
            format!("The app client is not allowed the scope {bad}."),
        ));
    }
    // A CIMD client is public and anyone can name its URL: only PKCE binds the code to
    // the party that started the sign-in.
    if client.config[crate::api::cimd::CIMD_POLICY_KEY].is_string()
        && (q.code_challenge.is_none() || q.code_challenge_method.as_deref() != Some("S256"))
    {
        return Err(refuse(
            "invalid_request",
            "A client ID metadata document client must use PKCE with S256.".into(),
        ));
    }
    let method = match (&q.code_challenge, q.code_challenge_method.as_deref()) {
        (None, _) => None,
        (Some(_), None | Some("plain")) => Some("plain".to_string()),
        (Some(_), Some("S256")) => Some("S256".to_string()),
        (Some(_), Some(other)) => {
            return Err(refuse(
                "invalid_request",
                format!("code_challenge_method {other} is not supported; use S256."),
            ));
        }
    };
    Ok((
        client,
        AuthRequest {
            client_id: client_id.to_string(),
            redirect_uri,
            response_type,
            scopes,
            state: q.state.clone(),
            nonce: q.nonce.clone(),
            code_challenge: q.code_challenge.clone(),
            code_challenge_method: method,
            login_hint: q.login_hint.clone(),
            identity_provider,
            exp: ctx.now + REQUEST_LIFETIME_MS,
        },
    ))
}

pub async fn authorize(
    State(state): State<SharedState>,
    site: Site,
    Query(q): Query<AuthorizeQuery>,
) -> Response {
    let ctx = Ctx::for_state(state);
    let (client, req) = match check_request(&ctx, &site, &q).await {
        Ok(ok) => ok,
        Err(refusal) => return refusal.into_response(&site),
    };
    if let Some(provider) = &req.identity_provider {
        return super::federation::start(&ctx, &site, &req, provider).await;
    }
    let prompt = q.prompt.as_deref().unwrap_or_default();
    if prompt != "login"
        && let Some((user, proof)) = current_session(&ctx, &site).await
        && crate::api::user_sessions::sso_reusable(&ctx, &site.pool, &client, proof.auth_time)
    {
        if let Some(sid) = &proof.sso {
            crate::api::user_sessions::note_sso_use(&ctx, &site.pool, &user.username_key, sid)
                .await;
        }
        return complete(&ctx, &site, &client, &req, &user, &proof).await;
    }
    if prompt == "none" {
        return Refusal::Redirect {
            redirect_uri: req.redirect_uri.clone(),
            error: "login_required",
            description: "The user is not signed in.".into(),
            state: req.state.clone(),
            fragment: req.response_type == "token",
        }
        .into_response(&site);
    }
    // A language the app asked for (`lang`, `ui_locales`) goes on to the sign-in page,
    // which remembers it for the pages after.
    let lang = if site.lang_chosen {
        format!("&lang={}", site.lang.code())
    } else {
        String::new()
    };
    redirect(&format!(
        "{}?req={}{lang}",
        site.url("/login"),
        percent_encoding::utf8_percent_encode(&req.seal(&ctx), percent_encoding::NON_ALPHANUMERIC)
    ))
}

/// The hosted-UI session cookie of a user who just signed in.
pub fn session_cookie(ctx: &Ctx, site: &Site, user: &UserRow, proof: &SignInProof) -> HeaderValue {
    let sealed = ctx.state.master.encrypt(
        json!({
            "p": site.pool.id,
            "u": user.username_key,
            "at": proof.auth_time,
            "amr": proof.amr,
            "saml": proof.saml,
            "sid": proof.sso,
            "exp": ctx.now + SESSION_LIFETIME_S * 1000,
        })
        .to_string()
        .as_bytes(),
        SESSION_PURPOSE,
    );
    site.set_cookie(SESSION_COOKIE, &sealed, SESSION_LIFETIME_S)
}

pub fn clear_session_cookie(site: &Site) -> HeaderValue {
    site.set_cookie(SESSION_COOKIE, "", 0)
}

/// The user of a valid hosted-UI session and when they signed in (seconds). A user
/// since disabled, deleted or signed out everywhere has no session.
pub async fn current_session(ctx: &Ctx, site: &Site) -> Option<(UserRow, SignInProof)> {
    let sealed = site.cookie(SESSION_COOKIE).filter(|v| !v.is_empty())?;
    let plain = ctx.state.master.decrypt(sealed, SESSION_PURPOSE).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&plain).ok()?;
    if v["p"] != site.pool.id.as_str() || v["exp"].as_i64()? < ctx.now {
        return None;
    }
    let auth_time = v["at"].as_i64()?;
    let user = ctx
        .state
        .store
        .get_user(&site.pool.id, v["u"].as_str()?)
        .await
        .ok()??;
    // A user deleted and made again under the same name is someone else (to the
    // second: `auth_time` has no milliseconds).
    let valid = user.enabled
        && matches!(user.status.as_str(), "CONFIRMED" | "EXTERNAL_PROVIDER")
        && user.tokens_valid_after <= auth_time * 1000
        && user.created_at / 1000 <= auth_time;
    if !valid {
        return None;
    }
    // A tracked SSO session ends when its record does (RevokeUserSession, sign-out).
    let sso = v["sid"].as_str().map(String::from);
    if let Some(sid) = &sso
        && !crate::api::user_sessions::sso_session_alive(
            ctx,
            &site.pool.id,
            &user.username_key,
            sid,
        )
        .await
    {
        return None;
    }
    let amr = v["amr"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let saml = serde_json::from_value(v["saml"].clone()).ok();
    Some((
        user,
        SignInProof {
            auth_time,
            amr,
            saml,
            sso,
        },
    ))
}

/// What an authorization code carries, sealed.
#[derive(Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    pub id: String,
    pub pool_id: String,
    pub client_id: String,
    pub username_key: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub auth_time: i64,
    #[serde(default)]
    pub amr: Vec<String>,
    /// The SSO session the code was issued through, if tracked.
    #[serde(default)]
    pub sso: Option<String>,
    pub exp: i64,
}

impl CodeGrant {
    pub fn open(ctx: &Ctx, code: &str) -> Option<CodeGrant> {
        let plain = ctx.state.master.decrypt(code, CODE_PURPOSE).ok()?;
        let grant: CodeGrant = serde_json::from_slice(&plain).ok()?;
        (grant.exp > ctx.now).then_some(grant)
    }

    /// The key under which the store records that the code was redeemed.
    pub fn spent_key(&self) -> String {
        format!("oauth-code:{}", self.id)
    }
}

/// The user is signed in: back to the app with a code, or with tokens in the fragment.
pub async fn complete(
    ctx: &Ctx,
    site: &Site,
    client: &ClientRow,
    req: &AuthRequest,
    user: &UserRow,
    proof: &SignInProof,
) -> Response {
    let mut params: Vec<(&str, String)> = Vec::new();
    if req.response_type == "code" {
        let grant = CodeGrant {
            id: ids::uuid(),
            pool_id: site.pool.id.clone(),
            client_id: client.client_id.clone(),
            username_key: user.username_key.clone(),
            redirect_uri: req.redirect_uri.clone(),
            scopes: req.scopes.clone(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            code_challenge_method: req.code_challenge_method.clone(),
            auth_time: proof.auth_time,
            amr: proof.amr.clone(),
            sso: proof.sso.clone(),
            exp: ctx.now + CODE_LIFETIME_MS,
        };
        let code = ctx.state.master.encrypt(
            serde_json::to_string(&grant)
                .expect("serializes")
                .as_bytes(),
            CODE_PURPOSE,
        );
        params.push(("code", code));
    } else {
        let ctx = Ctx {
            token_source: "TokenGeneration_HostedAuth",
            ..ctx.clone()
        };
        let scopes = req.scopes.join(" ");
        let grant = OAuthGrant {
            scopes: Some(&scopes),
            nonce: req.nonce.as_deref(),
            auth_time: Some(proof.auth_time),
            amr: &proof.amr,
            no_refresh_token: true,
            device_key: None,
        };
        let tokens = match issue_tokens_for(&ctx, &site.pool, client, user, None, &grant).await {
            Ok(t) => t,
            Err(e) => {
                return ui::error_page(site, StatusCode::BAD_REQUEST, &e.message);
            }
        };
        if let Some(id) = tokens.id_token {
            params.push(("id_token", id));
        }
        params.push(("access_token", tokens.access_token.unwrap_or_default()));
        params.push(("token_type", "Bearer".into()));
        params.push(("expires_in", tokens.expires_in.unwrap_or(3600).to_string()));
    }
    if let Some(s) = &req.state {
        params.push(("state", s.clone()));
    }
    redirect(&with_params(
        &req.redirect_uri,
        &params,
        req.response_type == "token",
    ))
}

/// `uri` with `params` added to its query (or, for the implicit flow, as its fragment).
pub fn with_params(uri: &str, params: &[(&str, String)], fragment: bool) -> String {
    let encoded = form_urlencoded_pairs(params);
    if fragment {
        let base = uri.split('#').next().unwrap_or(uri);
        format!("{base}#{encoded}")
    } else {
        let (base, frag) = match uri.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (uri, None),
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        match frag {
            Some(f) => format!("{base}{sep}{encoded}#{f}"),
            None => format!("{base}{sep}{encoded}"),
        }
    }
}

pub(crate) fn form_urlencoded_pairs(params: &[(&str, String)]) -> String {
    const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, FORM),
                percent_encoding::utf8_percent_encode(v, FORM)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_join_the_query_or_the_fragment() {
        let p = [("code", "a b".to_string()), ("state", "x&y".to_string())];
        assert_eq!(
            with_params("https://app.example/cb", &p, false),
            "https://app.example/cb?code=a%20b&state=x%26y"
        );
        assert_eq!(
            with_params("https://app.example/cb?v=1#top", &p, false),
            "https://app.example/cb?v=1&code=a%20b&state=x%26y#top"
        );
        assert_eq!(
            with_params("https://app.example/cb", &p, true),
            "https://app.example/cb#code=a%20b&state=x%26y"
        );
    }
}
