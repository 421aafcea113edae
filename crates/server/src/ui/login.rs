//! The sign-in page and the challenge pages that may follow it (MFA codes, TOTP set-up,
//! choosing an MFA type, a new password).

use super::*;
use crate::api::auth::{HostedStep, hosted_passkey_sign_in, hosted_respond, hosted_sign_in};
use crate::oauth::authorize::{
    AuthorizeQuery, SignInProof, check_request, complete, current_session, load_client,
    session_cookie,
};
use crate::oauth::federation;
use crate::state::SharedState;
use axum::extract::{Query, State};
use idpool_store::ClientRow;
use idpool_wire::shapes::cognito_idp::{AssociateSoftwareTokenRequest, VerifySoftwareTokenRequest};
use idpool_wire::{ErrorCode, IdpException as E, WireError};
use std::collections::{BTreeMap, HashMap};

/// The browser's device id (see `threat_protection::hosted_device_context`).
const DEVICE_COOKIE: &str = "idpool-device";
const DEVICE_COOKIE_MAX_AGE_S: i64 = 400 * 24 * 3600;

/// A hosted-UI sign-in's context: threat protection judges it by the browser's address.
fn hosted(state: SharedState, peer: crate::Peer, headers: &axum::http::HeaderMap) -> Ctx {
    let source_ip = crate::client_ip(&state.config, peer, headers);
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    Ctx {
        hosted_ui: true,
        source_ip,
        user_agent,
        ..Ctx::for_state(state)
    }
}

/// `GET /login`: with `req` (from /oauth2/authorize), or with the authorization
/// parameters themselves, as apps link to Cognito's hosted UI.
pub async fn login_page(
    State(state): State<SharedState>,
    site: Site,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ctx = Ctx::for_state(state);
    let req = match q.get("req") {
        Some(sealed) => match open_request(&ctx, &site, Some(sealed)) {
            Ok(r) => r,
            Err(resp) => return resp,
        },
        None => {
            let get = |k: &str| q.get(k).cloned();
            let aq = AuthorizeQuery {
                response_type: get("response_type"),
                client_id: get("client_id"),
                redirect_uri: get("redirect_uri"),
                state: get("state"),
                scope: get("scope"),
                nonce: get("nonce"),
                code_challenge: get("code_challenge"),
                code_challenge_method: get("code_challenge_method"),
                identity_provider: get("identity_provider"),
                idp_identifier: get("idp_identifier"),
                prompt: get("prompt"),
                login_hint: get("login_hint"),
            };
            let (client, req) = match check_request(&ctx, &site, &aq).await {
                Ok(ok) => ok,
                Err(refusal) => return refusal.into_response(&site),
            };
            if let Some(provider) = &req.identity_provider {
                return crate::oauth::federation::start(&ctx, &site, &req, provider).await;
            }
            if aq.prompt.as_deref() != Some("login")
                && let Some((user, proof)) = current_session(&ctx, &site).await
                && crate::api::user_sessions::sso_reusable(
                    &ctx,
                    &site.pool,
                    &client,
                    proof.auth_time,
                )
            {
                return complete(&ctx, &site, &client, &req, &user, &proof).await;
            }
            req
        }
    };
    let username = req.login_hint.clone().unwrap_or_default();
    login_form(&ctx, &site, &req, &username, None, None, StatusCode::OK).await
}

pub async fn login_form(
    ctx: &Ctx,
    site: &Site,
    req: &AuthRequest,
    username: &str,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let signup_allowed =
        site.pool.config["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] != true;
    let client = load_client(ctx, site, &req.client_id).await;
    let providers = client
        .as_ref()
        .map(federation::external_providers)
        .unwrap_or_default();
    let cognito_allowed = client.as_ref().is_some_and(federation::supports_cognito);
    let mut page = page(ctx, site, req, error, notice).await;
    // The page's one script reads the browser's time zone for threat protection; the
    // form works the same without it.
    page.script = true;
    let providers = page.branding.federation.arrange(providers);
    // A browser without a device cookie gets one: its sign-ins are then known to come
    // from the same device, as Cognito's script tells with a fingerprint.
    let device_cookie = site
        .cookie(DEVICE_COOKIE)
        .filter(|id| crate::api::threat_protection::is_device_id(id))
        .is_none()
        .then(|| {
            site.set_cookie(
                DEVICE_COOKIE,
                &idpool_core::crypto::b64url(&idpool_core::crypto::random_bytes(16)),
                DEVICE_COOKIE_MAX_AGE_S,
            )
        });
    render(
        page,
        status,
        "login.html",
        minijinja::context! {
            req => req.seal(ctx),
            username => username,
            signup_allowed => signup_allowed,
            providers => providers,
            cognito_allowed => cognito_allowed,
            passkeys_allowed => crate::api::auth::passkeys_allowed(&site.pool),
        },
        device_cookie.into_iter().collect(),
    )
}

/// The posted form of a page that belongs to an authorization: CSRF checked, the
/// request opened, its client loaded.
pub async fn posted(
    ctx: &Ctx,
    site: &Site,
    body: &[u8],
) -> Result<(Vec<(String, String)>, AuthRequest, ClientRow), Response> {
    let pairs = form_pairs(body);
    if !csrf_ok(ctx, site, field(&pairs, "_csrf")) {
        return Err(csrf_refused(site));
    }
    let req = open_request(ctx, site, field(&pairs, "req"))?;
    let client = load_client(ctx, site, &req.client_id)
        .await
        .ok_or_else(|| {
            error_page(
                site,
                StatusCode::BAD_REQUEST,
                site.lang.text("error_client_gone"),
            )
        })?;
    // The pool's own sign-in, sign-up and reset pages serve only clients that allow
    // the pool's directory (COGNITO), whatever a crafted form posts.
    if !federation::supports_cognito(&client) {
        return Err(error_page(
            site,
            StatusCode::BAD_REQUEST,
            site.lang.text("error_no_cognito_sign_in"),
        ));
    }
    Ok((pairs, req, client))
}

pub async fn login_submit(
    State(state): State<SharedState>,
    peer: crate::Peer,
    headers: axum::http::HeaderMap,
    site: Site,
    body: axum::body::Bytes,
) -> Response {
    let ctx = hosted(state, peer, &headers);
    let (pairs, req, client) = match posted(&ctx, &site, &body).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let ctx = Ctx {
        device_context: crate::api::threat_protection::hosted_device_context(
            field(&pairs, "tz"),
            site.cookie(DEVICE_COOKIE),
        ),
        ..ctx
    };
    let username = field(&pairs, "username")
        .unwrap_or_default()
        .trim()
        .to_string();
    let passkey = field(&pairs, "method") == Some("passkey");
    let signed = if passkey {
        hosted_passkey_sign_in(&ctx, &site.pool, &client, &username).await
    } else {
        let password = field(&pairs, "password").unwrap_or_default();
        hosted_sign_in(&ctx, &site.pool, &client, &username, password).await
    };
    let amr: &[&str] = if passkey { &["hwk"] } else { &["pwd"] };
    match signed {
        Ok(step) => next_step(&ctx, &site, &client, &req, &username, step, amr).await,
        Err(e) if e.code == ErrorCode::Idp(E::UserNotConfirmedException) => {
            super::signup::confirm_after_sign_in(&ctx, &site, &client, &req, &username).await
        }
        Err(e) if e.code == ErrorCode::Idp(E::PasswordResetRequiredException) => {
            super::forgot::reset_after_sign_in(&ctx, &site, &client, &req, &username).await
        }
        Err(e) => {
            login_form(
                &ctx,
                &site,
                &req,
                &username,
                Some(e.message),
                None,
                StatusCode::OK,
            )
            .await
        }
    }
}

/// After a sign-in step: back to the app (with the session cookie), or the next page.
async fn next_step(
    ctx: &Ctx,
    site: &Site,
    client: &ClientRow,
    req: &AuthRequest,
    username: &str,
    step: HostedStep,
    amr: &[&str],
) -> Response {
    match step {
        HostedStep::SignedIn(user) => {
            let mut proof = SignInProof::now(ctx, amr);
            if let Err(e) = crate::api::user_sessions::begin_sso_session(
                ctx, &site.pool, client, &user, &mut proof,
            )
            .await
            {
                return crate::ui::error_page(site, StatusCode::SERVICE_UNAVAILABLE, &e.message);
            }
            let mut resp = complete(ctx, site, client, req, &user, &proof).await;
            resp.headers_mut()
                .append(header::SET_COOKIE, session_cookie(ctx, site, &user, &proof));
            resp
        }
        HostedStep::Challenge(name, params, session) => {
            let username = params
                .get("USER_ID_FOR_SRP")
                .cloned()
                .unwrap_or_else(|| username.to_string());
            challenge_page(ctx, site, req, &name, &params, &session, &username, None).await
        }
    }
}

struct Wording {
    heading: &'static str,
    explanation: String,
    code_label: &'static str,
    button: &'static str,
}

#[allow(clippy::too_many_arguments)]
async fn challenge_page(
    ctx: &Ctx,
    site: &Site,
    req: &AuthRequest,
    name: &str,
    params: &BTreeMap<String, String>,
    session: &str,
    username: &str,
    error: Option<String>,
) -> Response {
    let destination = params
        .get("CODE_DELIVERY_DESTINATION")
        .cloned()
        .unwrap_or_default();
    let mut session = session.to_string();
    let mut secret = None;
    if name == "WEB_AUTHN" {
        let mut page = page(ctx, site, req, error, None).await;
        page.script = true;
        return render(
            page,
            StatusCode::OK,
            "passkey.html",
            minijinja::context! {
                req => req.seal(ctx),
                session => session,
                username => username,
                options => params.get("CREDENTIAL_REQUEST_OPTIONS").cloned().unwrap_or_default(),
            },
            vec![],
        );
    }
    let lang = site.lang;
    let wording = match name {
        "SMS_MFA" | "EMAIL_OTP" => Wording {
            heading: lang.text("enter_sign_in_code"),
            explanation: if destination.is_empty() {
                lang.text("code_sent").to_string()
            } else {
                lang.format("code_sent_to", &[("destination", &destination)])
            },
            code_label: lang.text("code"),
            button: lang.text("sign_in"),
        },
        "SOFTWARE_TOKEN_MFA" => Wording {
            heading: lang.text("enter_authenticator_code"),
            explanation: lang.text("authenticator_explanation").into(),
            code_label: lang.text("code"),
            button: lang.text("sign_in"),
        },
        "NEW_PASSWORD_REQUIRED" => Wording {
            heading: lang.text("change_your_password"),
            explanation: lang.text("new_password_explanation").into(),
            code_label: "",
            button: lang.text("change_password"),
        },
        "SELECT_MFA_TYPE" => Wording {
            heading: lang.text("choose_mfa"),
            explanation: String::new(),
            code_label: "",
            button: lang.text("continue"),
        },
        "MFA_SETUP" => {
            // Only a software token can be set up during sign-in.
            let associated = crate::api::mfa::associate_software_token(
                ctx.clone(),
                AssociateSoftwareTokenRequest {
                    session: Some(session.clone()),
                    ..Default::default()
                },
            )
            .await;
            match associated {
                Ok(a) => {
                    secret = a.secret_code;
                    if let Some(s) = a.session {
                        session = s;
                    }
                }
                Err(e) => return error_page(site, StatusCode::BAD_REQUEST, &e.message),
            }
            Wording {
                heading: lang.text("setup_totp"),
                explanation: lang.text("setup_totp_explanation").into(),
                code_label: lang.text("totp_code_label"),
                button: lang.text("verify_and_sign_in"),
            }
        }
        other => {
            return error_page(
                site,
                StatusCode::BAD_REQUEST,
                &lang.format("error_challenge_unsupported", &[("challenge", other)]),
            );
        }
    };
    let choices: Vec<serde_json::Value> = params
        .get("MFAS_CAN_CHOOSE")
        .and_then(|c| serde_json::from_str::<Vec<String>>(c).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let label = lang.text(match c.as_str() {
                "SMS_MFA" => "mfa_sms",
                "EMAIL_OTP" => "mfa_email",
                _ => "mfa_totp",
            });
            serde_json::json!({"value": c, "label": label})
        })
        .collect();
    let otpauth_uri = secret.as_ref().map(|s| {
        let label = format!("{}:{username}", site.pool.name);
        format!(
            "otpauth://totp/{}?secret={s}&issuer={}",
            percent_encoding::utf8_percent_encode(&label, percent_encoding::NON_ALPHANUMERIC),
            percent_encoding::utf8_percent_encode(
                &site.pool.name,
                percent_encoding::NON_ALPHANUMERIC
            )
        )
    });
    render(
        page(ctx, site, req, error, None).await,
        StatusCode::OK,
        "challenge.html",
        minijinja::context! {
            req => req.seal(ctx),
            challenge => name,
            session => session,
            username => username,
            heading => wording.heading,
            explanation => wording.explanation,
            code_label => wording.code_label,
            button => wording.button,
            choices => minijinja::value::Serde(choices),
            secret => secret,
            qr => otpauth_uri.as_deref().and_then(super::qr::svg_data_uri),
            otpauth_uri => otpauth_uri,
        },
        vec![],
    )
}

/// The RFC 8176 methods a sign-in that ends with `challenge` used: a password, and the
/// second factor answered (an SMS code, a one-time code from an app or an email).
fn amr_after(challenge: &str) -> &'static [&'static str] {
    match challenge {
        "SMS_MFA" => &["pwd", "mfa", "sms"],
        "SOFTWARE_TOKEN_MFA" | "MFA_SETUP" | "EMAIL_OTP" => &["pwd", "mfa", "otp"],
        // A passkey is the whole proof: possession of a key the authenticator guards.
        "WEB_AUTHN" => &["hwk"],
        _ => &["pwd"],
    }
}

pub async fn challenge_submit(
    State(state): State<SharedState>,
    peer: crate::Peer,
    headers: axum::http::HeaderMap,
    site: Site,
    body: axum::body::Bytes,
) -> Response {
    let ctx = hosted(state, peer, &headers);
    let (pairs, req, client) = match posted(&ctx, &site, &body).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let get = |k: &str| field(&pairs, k).unwrap_or_default().to_string();
    let (challenge, session, username) = (get("challenge"), get("session"), get("username"));
    let mut responses = BTreeMap::from([("USERNAME".to_string(), username.clone())]);
    // The UI holds the client's secret, so it proves it as an app would.
    if let Some(hash) = secret_hash(&ctx, &client, &username) {
        responses.insert("SECRET_HASH".into(), hash);
    }
    let mut session_to_answer = session.clone();
    match challenge.as_str() {
        "SMS_MFA" => {
            responses.insert("SMS_MFA_CODE".into(), get("code").trim().to_string());
        }
        "EMAIL_OTP" => {
            responses.insert("EMAIL_OTP_CODE".into(), get("code").trim().to_string());
        }
        "SOFTWARE_TOKEN_MFA" => {
            responses.insert(
                "SOFTWARE_TOKEN_MFA_CODE".into(),
                get("code").trim().to_string(),
            );
        }
        "NEW_PASSWORD_REQUIRED" => {
            responses.insert("NEW_PASSWORD".into(), get("new_password"));
        }
        "SELECT_MFA_TYPE" => {
            responses.insert("ANSWER".into(), get("answer"));
        }
        "WEB_AUTHN" => {
            responses.insert("CREDENTIAL".into(), get("credential"));
        }
        "MFA_SETUP" => {
            let verified = crate::api::mfa::verify_software_token(
                ctx.clone(),
                VerifySoftwareTokenRequest {
                    session: Some(session.clone()),
                    user_code: get("code").trim().to_string(),
                    ..Default::default()
                },
            )
            .await;
            match verified {
                Ok(v) => session_to_answer = v.session.unwrap_or(session.clone()),
                Err(e) => {
                    return retry(&ctx, &site, &req, &challenge, &session, &username, e).await;
                }
            }
        }
        _ => {
            return error_page(
                &site,
                StatusCode::BAD_REQUEST,
                site.lang.text("error_unknown_challenge"),
            );
        }
    }
    match hosted_respond(
        &ctx,
        &site.pool,
        &client,
        &challenge,
        &responses,
        &session_to_answer,
    )
    .await
    {
        Ok(step) => {
            let amr = amr_after(&challenge);
            next_step(&ctx, &site, &client, &req, &username, step, amr).await
        }
        Err(e) => retry(&ctx, &site, &req, &challenge, &session, &username, e).await,
    }
}

/// A wrong answer: the same page again with the error, while its session still works;
/// a spent or expired session starts the sign-in over.
async fn retry(
    ctx: &Ctx,
    site: &Site,
    req: &AuthRequest,
    challenge: &str,
    session: &str,
    username: &str,
    e: WireError,
) -> Response {
    let session_gone = e.message.starts_with("Invalid session")
        || e.code == ErrorCode::Idp(E::ExpiredCodeException);
    if session_gone || challenge == "MFA_SETUP" {
        return login_form(
            ctx,
            site,
            req,
            username,
            Some(e.message),
            None,
            StatusCode::OK,
        )
        .await;
    }
    challenge_page(
        ctx,
        site,
        req,
        challenge,
        &BTreeMap::new(),
        session,
        username,
        Some(e.message),
    )
    .await
}
