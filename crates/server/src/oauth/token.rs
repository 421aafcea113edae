//! `/oauth2/token`, `/oauth2/revoke`, `/oauth2/userInfo` and `/logout`.
//!
//! Errors are RFC 6749 5.2's JSON (`{"error": "invalid_grant", ...}`, 400; a client
//! that fails to authenticate: 401 `invalid_client` with `WWW-Authenticate`) and, for
//! userInfo, RFC 6750's `WWW-Authenticate: Bearer error="invalid_token"`.

use super::authorize::{CodeGrant, clear_session_cookie, current_session, load_client, redirect};
use super::site::Site;
use crate::api::Ctx;
use crate::api::client_secrets::any_secret_matches;
use crate::api::client_tokens::{M2mRefusal, m2m_scopes, sign_m2m_token};
use crate::api::support::{OAuthGrant, issue_tokens_for, session_from_access_token, str_list};
use crate::api::token_exchange::{Exchange, ExchangeError, ExchangeRefusal, TokenKind, exchange};
use crate::state::SharedState;
use crate::ui;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use idpool_core::crypto;
use idpool_store::ClientRow;
use idpool_wire::shapes::cognito_idp::{AuthenticationResultType, RevokeTokenRequest};
use idpool_wire::{ErrorCode, IdpException as E};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if error == "invalid_client" {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"idpool\""),
        );
    }
    resp
}

fn bad(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

/// The body of the token and revocation endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// /oauth2/revoke's token.
    pub token: Option<String>,
    /// The device a refresh token was issued to (device tracking), as the API's
    /// DEVICE_KEY.
    pub device_key: Option<String>,
    /// `aws_client_metadata`: JSON the client-credentials grant passes to the
    /// PreTokenGeneration function as `clientMetadata`.
    pub aws_client_metadata: Option<String>,
    /// RFC 8693's token-exchange parameters.
    pub subject_token: Option<String>,
    pub subject_token_type: Option<String>,
    pub actor_token: Option<String>,
    pub actor_token_type: Option<String>,
    pub requested_token_type: Option<String>,
    pub audience: Option<String>,
    pub resource: Option<String>,
}

fn form_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_form(body: &[u8]) -> TokenForm {
    let mut f = TokenForm::default();
    for pair in String::from_utf8_lossy(body).split('&') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        let v = Some(form_decode(v));
        match form_decode(k).as_str() {
            "grant_type" => f.grant_type = v,
            "code" => f.code = v,
            "redirect_uri" => f.redirect_uri = v,
            "code_verifier" => f.code_verifier = v,
            "refresh_token" => f.refresh_token = v,
            "scope" => f.scope = v,
            "client_id" => f.client_id = v,
            "client_secret" => f.client_secret = v,
            "token" => f.token = v,
            "device_key" => f.device_key = v,
            "aws_client_metadata" => f.aws_client_metadata = v,
            "subject_token" => f.subject_token = v,
            "subject_token_type" => f.subject_token_type = v,
            "actor_token" => f.actor_token = v,
            "actor_token_type" => f.actor_token_type = v,
            "requested_token_type" => f.requested_token_type = v,
            "audience" => f.audience = v,
            "resource" => f.resource = v,
            _ => {}
        }
    }
    f
}

/// Client authentication (RFC 6749 2.3.1): HTTP Basic, else `client_id` and
/// `client_secret` in the body. A client with a secret must prove it.
async fn authenticate_client(
    ctx: &Ctx,
    site: &Site,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<(ClientRow, Option<String>), Response> {
    let invalid = |why: &str| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", why);
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|s| {
                    s.split_once(':')
                        .map(|(id, secret)| (form_decode(id), form_decode(secret)))
                })
        });
    let (client_id, secret) = match basic {
        Some(Some((id, secret))) => (id, Some(secret)),
        Some(None) => return Err(invalid("Malformed Basic authorization.")),
        None => match &form.client_id {
            Some(id) => (id.clone(), form.client_secret.clone()),
            None => return Err(invalid("The client did not authenticate.")),
        },
    };
    let client = load_client(ctx, site, &client_id)
        .await
        .ok_or_else(|| invalid("Unknown client."))?;
    if client.secret.is_some() {
        let Some(given) = secret.as_deref() else {
            return Err(invalid("The client has a secret and must send it."));
        };
        let matches = any_secret_matches(ctx, &client, |s| {
            bool::from(s.as_bytes().ct_eq(given.as_bytes()))
        })
        .map_err(|_| invalid("The client's secret cannot be checked."))?;
        if !matches {
            return Err(invalid("Wrong client secret."));
        }
    }
    Ok((client, secret))
}

fn token_response(t: AuthenticationResultType) -> Response {
    let mut body = json!({
        "access_token": t.access_token,
        "expires_in": t.expires_in,
        "token_type": "Bearer",
    });
    if let Some(id) = t.id_token {
        body["id_token"] = json!(id);
    }
    if let Some(r) = t.refresh_token {
        body["refresh_token"] = json!(r);
    }
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

pub async fn token(
    State(state): State<SharedState>,
    site: Site,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ctx = Ctx::for_state(state);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return bad(
            "invalid_request",
            "The body must be application/x-www-form-urlencoded.",
        );
    }
    let form = parse_form(&body);
    let (client, _) = match authenticate_client(&ctx, &site, &headers, &form).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match form.grant_type.as_deref() {
        Some("authorization_code") => authorization_code(&ctx, &site, &client, &form).await,
        Some("refresh_token") => refresh(&ctx, &site, &client, &form).await,
        Some("client_credentials") => client_credentials(&ctx, &site, &client, &form).await,
        Some(TOKEN_EXCHANGE_GRANT) => token_exchange(&ctx, &site, &client, &form).await,
        Some(_) => bad("unsupported_grant_type", "Unknown grant_type."),
        None => bad("invalid_request", "grant_type is required."),
    }
}

fn pkce_matches(grant: &CodeGrant, verifier: Option<&str>) -> bool {
    let Some(challenge) = &grant.code_challenge else {
        return true;
    };
    let Some(verifier) = verifier else {
        return false;
    };
    let expected = match grant.code_challenge_method.as_deref() {
        Some("S256") => crypto::b64url(&crypto::sha256(verifier.as_bytes())),
        _ => verifier.to_string(),
    };
    bool::from(expected.as_bytes().ct_eq(challenge.as_bytes()))
}

async fn authorization_code(
    ctx: &Ctx,
    site: &Site,
    client: &ClientRow,
    form: &TokenForm,
) -> Response {
    let invalid_grant = |why: &str| bad("invalid_grant", why);
    let Some(grant) = form.code.as_deref().and_then(|c| CodeGrant::open(ctx, c)) else {
        return invalid_grant("The code is invalid or expired.");
    };
    if grant.client_id != client.client_id || grant.pool_id != site.pool.id {
        return invalid_grant("The code was issued to another client.");
    }
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return invalid_grant("redirect_uri does not match the authorization request.");
    }
    if !pkce_matches(&grant, form.code_verifier.as_deref()) {
        return invalid_grant("code_verifier does not match the code_challenge.");
    }
    match ctx
        .state
        .store
        .consume_once(&grant.spent_key(), grant.exp, ctx.now)
        .await
    {
        Ok(true) => {}
        Ok(false) => return invalid_grant("The code was already used."),
        Err(_) => return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "server_error", "storage"),
    }
    let user = match ctx
        .state
        .store
        .get_user(&site.pool.id, &grant.username_key)
        .await
    {
        Ok(Some(u)) if u.enabled && u.tokens_valid_after <= grant.auth_time * 1000 => u,
        Ok(_) => return invalid_grant("The user can no longer sign in."),
        Err(_) => return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "server_error", "storage"),
    };
    let ctx = Ctx {
        token_source: "TokenGeneration_HostedAuth",
        sso_session: grant.sso.clone(),
        ..ctx.clone()
    };
    let scopes = grant.scopes.join(" ");
    let oauth = OAuthGrant {
        scopes: Some(&scopes),
        nonce: grant.nonce.as_deref(),
        auth_time: Some(grant.auth_time),
        amr: &grant.amr,
        no_refresh_token: false,
        device_key: None,
    };
    match issue_tokens_for(&ctx, &site.pool, client, &user, None, &oauth).await {
        Ok(t) => token_response(t),
        Err(e) => bad("invalid_request", &e.message),
    }
}

async fn refresh(ctx: &Ctx, site: &Site, client: &ClientRow, form: &TokenForm) -> Response {
    let Some(token) = form.refresh_token.as_deref() else {
        return bad("invalid_request", "refresh_token is required.");
    };
    let device_key = form.device_key.as_deref();
    match crate::api::auth::renew_session(ctx, &site.pool, client, token, device_key).await {
        Ok(t) => token_response(t),
        Err(e)
            if e.code == ErrorCode::Idp(E::NotAuthorizedException)
                || e.code == ErrorCode::Idp(E::RefreshTokenReuseException) =>
        {
            bad("invalid_grant", &e.message)
        }
        Err(e) => bad("invalid_request", &e.message),
    }
}

/// Machine-to-machine tokens: an access token for the client itself, with scopes of
/// the pool's resource servers. Only confidential clients may ask.
async fn client_credentials(
    ctx: &Ctx,
    site: &Site,
    client: &ClientRow,
    form: &TokenForm,
) -> Response {
    let requested = form
        .scope
        .as_deref()
        .map(|s| s.split_whitespace().map(String::from).collect());
    let scopes = match m2m_scopes(client, requested) {
        Ok(s) => s,
        Err(refusal @ M2mRefusal::NoSecret) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &refusal.message(),
            );
        }
        Err(refusal @ M2mRefusal::FlowNotAllowed) => {
            return bad("unauthorized_client", &refusal.message());
        }
        Err(refusal) => return bad("invalid_scope", &refusal.message()),
    };
    let ctx = match form.aws_client_metadata.as_deref().map(client_metadata) {
        None => ctx.clone(),
        Some(Some(metadata)) => Ctx {
            client_metadata: Some(metadata),
            ..ctx.clone()
        },
        Some(None) => {
            return bad(
                "invalid_request",
                "aws_client_metadata must be a JSON object of strings.",
            );
        }
    };
    match sign_m2m_token(&ctx, &site.pool, client, &scopes).await {
        Ok((access, lifetime)) => token_response(AuthenticationResultType {
            access_token: Some(access),
            expires_in: Some(lifetime),
            token_type: Some("Bearer".into()),
            ..Default::default()
        }),
        // A PreTokenGeneration function refused or failed: the client asked for
        // nothing wrong, but gets no token.
        Err(e) if e.code != ErrorCode::Idp(E::InternalErrorException) => {
            bad("invalid_request", &e.message)
        }
        Err(_) => oauth_error(StatusCode::SERVICE_UNAVAILABLE, "server_error", "signing"),
    }
}

const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// RFC 8693 token exchange: GetDerivedToken's exchange, answered as section 2.2.
async fn token_exchange(ctx: &Ctx, site: &Site, client: &ClientRow, form: &TokenForm) -> Response {
    let kind = |urn: Option<&str>, what: &str| -> Result<TokenKind, Response> {
        let urn = urn.ok_or_else(|| bad("invalid_request", &format!("{what} is required.")))?;
        TokenKind::from_urn(urn).ok_or_else(|| {
            bad(
                "invalid_request",
                &format!("{what} {urn} is not an access or ID token type idpool exchanges."),
            )
        })
    };
    let Some(subject) = form.subject_token.as_deref() else {
        return bad("invalid_request", "subject_token is required.");
    };
    let subject_kind = match kind(form.subject_token_type.as_deref(), "subject_token_type") {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let actor = match form.actor_token.as_deref() {
        Some(token) => match kind(form.actor_token_type.as_deref(), "actor_token_type") {
            Ok(k) => Some((token, k)),
            Err(resp) => return resp,
        },
        None => None,
    };
    let requested = match form.requested_token_type.as_deref() {
        None => TokenKind::Access,
        Some(urn) => match kind(Some(urn), "requested_token_type") {
            Ok(k) => k,
            Err(resp) => return resp,
        },
    };
    let exchanged = exchange(
        ctx,
        Exchange {
            pool: &site.pool,
            client,
            subject: (subject, subject_kind),
            actor,
            scopes: form
                .scope
                .as_deref()
                .map(|s| s.split_whitespace().map(String::from).collect()),
            audience: form.audience.clone(),
            resource: form.resource.clone(),
            requested,
        },
    )
    .await;
    match exchanged {
        Ok(x) => {
            let mut resp = Json(json!({
                "access_token": x.token,
                "issued_token_type": x.kind.urn(),
                "token_type": if x.kind == TokenKind::Access { "Bearer" } else { "N_A" },
                "expires_in": x.expires_in,
                "scope": x.scopes.join(" "),
            }))
            .into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(ExchangeError::Refused(r @ ExchangeRefusal::FlowNotAllowed(_))) => {
            bad("unauthorized_client", &r.message())
        }
        Err(ExchangeError::Refused(r @ ExchangeRefusal::BadToken(_))) => {
            bad("invalid_grant", &r.message())
        }
        Err(ExchangeError::Refused(r @ ExchangeRefusal::BadTarget(_))) => {
            bad("invalid_target", &r.message())
        }
        Err(ExchangeError::Refused(r)) => bad("invalid_request", &r.message()),
        Err(ExchangeError::Failed(_)) => {
            oauth_error(StatusCode::SERVICE_UNAVAILABLE, "server_error", "exchange")
        }
    }
}

/// `aws_client_metadata`, when it is what ClientMetadata is in the API: an object of
/// strings.
fn client_metadata(text: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(text).ok()?;
    value
        .as_object()?
        .values()
        .all(Value::is_string)
        .then_some(value)
}

/// RFC 7009 revocation of a refresh token (and the access tokens minted from it).
pub async fn revoke(
    State(state): State<SharedState>,
    site: Site,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ctx = Ctx::for_state(state);
    let form = parse_form(&body);
    let (client, secret) = match authenticate_client(&ctx, &site, &headers, &form).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(token) = form.token.clone() else {
        return bad("invalid_request", "token is required.");
    };
    let req = RevokeTokenRequest {
        token,
        client_id: client.client_id.clone(),
        client_secret: secret,
        revoke_associated_sessions: None,
    };
    match crate::api::auth::revoke_token(ctx, req).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => match e.code {
            ErrorCode::Idp(E::UnsupportedTokenTypeException) => {
                bad("unsupported_token_type", &e.message)
            }
            ErrorCode::Idp(E::UnauthorizedException) => {
                oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &e.message)
            }
            _ => bad("invalid_request", &e.message),
        },
    }
}

fn bearer_error(status: StatusCode, error: Option<&str>, description: &str) -> Response {
    let challenge = match error {
        Some(e) => format!("Bearer error=\"{e}\", error_description=\"{description}\""),
        None => "Bearer".to_string(),
    };
    let mut resp = (
        status,
        Json(
            json!({"error": error.unwrap_or("invalid_request"), "error_description": description}),
        ),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// OIDC UserInfo: the user's attributes for an access token with `openid` (or the
/// `aws.cognito.signin.user.admin` scope of the API flows, as Cognito accepts).
pub async fn user_info(
    State(state): State<SharedState>,
    site: Site,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::for_state(state);
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            None,
            "An access token is required.",
        );
    };
    let (pool_id, user, claims) = match session_from_access_token(&ctx, token.trim()).await {
        Ok(found) => found,
        Err(e) => {
            return bearer_error(StatusCode::UNAUTHORIZED, Some("invalid_token"), &e.message);
        }
    };
    if pool_id != site.pool.id {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "The token was issued by another user pool.",
        );
    }
    let scopes: Vec<&str> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if !scopes
        .iter()
        .any(|s| *s == "openid" || *s == "aws.cognito.signin.user.admin")
    {
        return bearer_error(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "The access token has no openid scope.",
        );
    }
    let mut body = serde_json::Map::new();
    body.insert("sub".into(), json!(user.sub));
    for (k, v) in &user.attributes {
        if !k.starts_with("dev:") {
            body.insert(k.clone(), v.clone());
        }
    }
    body.insert("username".into(), json!(user.username));
    let mut resp = Json(Value::Object(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[derive(Debug, Default, Deserialize)]
pub struct LogoutQuery {
    pub client_id: Option<String>,
    pub logout_uri: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
}

/// Ends the hosted-UI session. With `logout_uri` (one of the client's sign-out URLs)
/// it returns to the app; with `redirect_uri` and `response_type` it starts a new
/// sign-in, as Cognito's `/logout` does.
pub async fn logout(
    State(state): State<SharedState>,
    site: Site,
    Query(q): Query<LogoutQuery>,
) -> Response {
    let ctx = Ctx::for_state(state);
    let client = match q.client_id.as_deref() {
        Some(id) => load_client(&ctx, &site, id).await,
        None => None,
    };
    let Some(client) = client else {
        return ui::error_page(
            &site,
            StatusCode::BAD_REQUEST,
            site.lang.text("error_logout_client"),
        );
    };
    let then = if let Some(uri) = &q.logout_uri {
        if !str_list(&client.config["LogoutURLs"]).contains(uri) {
            return ui::error_page(
                &site,
                StatusCode::BAD_REQUEST,
                site.lang.text("error_logout_uri"),
            );
        }
        uri.clone()
    } else if let (Some(uri), Some(rt)) = (&q.redirect_uri, &q.response_type) {
        let mut params = vec![
            ("client_id", client.client_id.clone()),
            ("redirect_uri", uri.clone()),
            ("response_type", rt.clone()),
        ];
        if let Some(s) = &q.state {
            params.push(("state", s.clone()));
        }
        if let Some(s) = &q.scope {
            params.push(("scope", s.clone()));
        }
        super::authorize::with_params(&site.url("/oauth2/authorize"), &params, false)
    } else {
        return ui::error_page(
            &site,
            StatusCode::BAD_REQUEST,
            site.lang.text("error_logout_target"),
        );
    };
    // A user who came through a SAML provider with IDPSignout is signed out there too
    // before going on (the pool's session cookie is cleared either way).
    let session = current_session(&ctx, &site).await;
    if let Some((user, proof)) = &session
        && let Some(sid) = &proof.sso
    {
        crate::api::user_sessions::end_sso_session(&ctx, &site.pool.id, &user.username_key, sid)
            .await;
    }
    let saml_session = session.and_then(|(_, proof)| proof.saml);
    let single_logout = match &saml_session {
        Some(session) => {
            super::federation::saml_logout::single_logout_url(&ctx, &site, session, &then).await
        }
        None => None,
    };
    let mut resp = redirect(single_logout.as_deref().unwrap_or(&then));
    resp.headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie(&site));
    resp
}
