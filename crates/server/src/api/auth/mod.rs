//! Sign-in: InitiateAuth, AdminInitiateAuth, RespondToAuthChallenge,
//! AdminRespondToAuthChallenge, RevokeToken, GlobalSignOut, GetTokensFromRefreshToken.
//!
//! Every flow proves the password first (USER_PASSWORD_AUTH, the admin flows, or SRP's
//! PASSWORD_VERIFIER), then goes through `after_password`: account state, remembered
//! device (DEVICE_SRP_AUTH), MFA, and finally tokens. Each challenge's `Session` is
//! spent when its step completes, so it works once.
//!
//! The flows are split by what they prove: `srp_flows` (PASSWORD_VERIFIER and the
//! remembered-device SRP), `second_factor` (which MFA a proven password leads to),
//! `challenges` (new password, MFA answers and set-up), `hosted` (the hosted UI's forms),
//! `choice` (USER_AUTH's first factors), `refresh` (sessions renewed by refresh token,
//! with rotation); the operations and the shared steps are here.

mod challenges;
mod choice;
mod custom;
mod hosted;
mod lockout;
mod refresh;
mod second_factor;
mod srp_flows;

use challenges::*;
pub(crate) use choice::first_factors;
use choice::*;
use custom::*;
pub use hosted::*;
use lockout::*;
use refresh::*;
pub use refresh::{get_tokens_from_refresh_token, renew_session};
use second_factor::*;
use srp_flows::*;

use super::Ctx;
use super::admin_users::{set_password, sign_out_everywhere, write_attributes};
use super::auth_events::StepResult;
use super::devices;
use super::error::{ApiResult, OrWire, declared_as};
use super::mfa::{self, EMAIL_OTP, SMS_MFA, SOFTWARE_TOKEN_MFA, UserMfa};
use super::passkeys;
use super::support::*;
use super::threat_protection::{self, RiskResponse, SignInProof};
use super::triggers;
use idpool_core::attributes::Writer;
use idpool_core::auth::password::PasswordRecord;
use idpool_core::auth::srp;
use idpool_core::crypto::{self, sha256_hex};
use idpool_core::password_policy::PasswordPolicy;
use idpool_core::triggers::Trigger;
use idpool_store::{ClientRow, PoolRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The passwordless SMS first factor of USER_AUTH (SMS_MFA is the second factor).
const SMS_OTP: &str = "SMS_OTP";

fn incorrect() -> WireError {
    WireError::idp(E::NotAuthorizedException, "Incorrect username or password.")
}

fn missing(name: &str) -> WireError {
    WireError::invalid_parameter(format!("Missing required parameter {name}"))
}

fn flow_allowed(client: &ClientRow, names: &[&str]) -> bool {
    client.config["ExplicitAuthFlows"]
        .as_array()
        .is_some_and(|flows| {
            flows
                .iter()
                .any(|f| names.contains(&f.as_str().unwrap_or_default()))
        })
}

fn prevent_existence_errors(client: &ClientRow) -> bool {
    client.config["PreventUserExistenceErrors"] == "ENABLED"
}

/// What a sign-in step produced: tokens, or a challenge to answer first.
struct Outcome {
    result: Option<AuthenticationResultType>,
    challenge: Option<(String, BTreeMap<String, String>, String)>,
    /// SELECT_CHALLENGE's AvailableChallenges.
    available: Option<Vec<String>>,
    /// A hosted-UI sign-in that completed: who signed in (no tokens are minted).
    signed_in: Option<UserRow>,
}

impl Outcome {
    fn tokens(result: AuthenticationResultType) -> Outcome {
        Outcome {
            result: Some(result),
            challenge: None,
            available: None,
            signed_in: None,
        }
    }
    fn challenge(name: &str, params: BTreeMap<String, String>, session: String) -> Outcome {
        Outcome {
            result: None,
            challenge: Some((name.to_string(), params, session)),
            available: None,
            signed_in: None,
        }
    }
}

/// The user a sign-in names, refusing unknown (as PreventUserExistenceErrors says),
/// disabled and locked-out users, then asking PreAuthentication. An unknown user who
/// typed a password (`migrate_with`) is first looked up by UserMigration.
async fn sign_in_user(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    username: &str,
    migrate_with: Option<&str>,
) -> ApiResult<Option<UserRow>> {
    let found = match find_user(ctx, pool, username).await? {
        Some(user) => Some(user),
        None => match migrate_with {
            Some(password) => {
                super::migration::migrate_user(
                    ctx,
                    pool,
                    &client.client_id,
                    username,
                    Some(password),
                )
                .await?
            }
            None => None,
        },
    };
    match found {
        Some(user) => {
            ensure_can_sign_in(ctx, &user)?;
            pre_authentication(ctx, pool, client, &user).await?;
            Ok(Some(user))
        }
        None if prevent_existence_errors(client) => Ok(None),
        None => Err(user_not_found()),
    }
}

/// PreAuthentication: the function may refuse the sign-in before any secret is checked.
/// `validationData` is the request's ClientMetadata, as Cognito passes it.
async fn pre_authentication(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: &UserRow,
) -> ApiResult<()> {
    let request = json!({
        "userAttributes": triggers::user_attributes(user),
        "validationData": ctx.client_metadata.clone(),
        "userNotFound": false,
    });
    triggers::fire(
        ctx,
        pool,
        Trigger::PreAuthentication,
        "PreAuthentication_Authentication",
        &user.username,
        Some(&client.client_id),
        request.as_object().cloned().unwrap_or_default(),
    )
    .await?;
    Ok(())
}

fn password_record(user: &UserRow) -> Option<PasswordRecord> {
    user.password
        .clone()
        .and_then(|p| serde_json::from_value(p).ok())
}

async fn password_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    username: &str,
    password: &str,
    device_key: Option<&str>,
) -> ApiResult<Outcome> {
    let Some(mut user) = sign_in_user(ctx, pool, client, username, Some(password)).await? else {
        return Err(incorrect());
    };
    refuse_reset_required(&user)?;
    let Some(record) = password_record(&user) else {
        return Err(incorrect());
    };
    if !record
        .matches(&ctx.state.master, &pool.id, password)
        .wire()?
    {
        record_failure(ctx, pool, &mut user, "Password").await?;
        return Err(incorrect());
    }
    after_password(ctx, pool, client, user, &record, Some(password), device_key).await
}

/// The password is proven (`password` when it came in the clear, not by SRP): account
/// state, threat protection's risk, then device and MFA.
async fn after_password(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    mut user: UserRow,
    record: &PasswordRecord,
    password: Option<&str>,
    device_key: Option<&str>,
) -> ApiResult<Outcome> {
    // The failure counter is cleared only when the whole sign-in succeeds (`finish`):
    // clearing it here would let someone who knows the password reset it between
    // guesses at the MFA code.
    match user.status.as_str() {
        "UNCONFIRMED" => {
            return Err(WireError::idp(
                E::UserNotConfirmedException,
                "User is not confirmed.",
            ));
        }
        "RESET_REQUIRED" => {
            return Err(WireError::idp(
                E::PasswordResetRequiredException,
                "Password reset required for the user",
            ));
        }
        "FORCE_CHANGE_PASSWORD" => {
            let days =
                PasswordPolicy::from_pool_config(&pool.config).temporary_password_validity_days;
            if record.temporary && ctx.now > record.set_at + days * 86_400_000 {
                return Err(WireError::idp(
                    E::NotAuthorizedException,
                    "Temporary password has expired and must be reset by an administrator.",
                ));
            }
            let mut attrs = serde_json::Map::new();
            for (k, v) in &user.attributes {
                if !k.ends_with("_verified") && !k.starts_with("dev:") {
                    attrs.insert(k.clone(), v.clone());
                }
            }
            let params = BTreeMap::from([
                ("USER_ID_FOR_SRP".to_string(), record.srp_username.clone()),
                ("requiredAttributes".to_string(), "[]".to_string()),
                (
                    "userAttributes".to_string(),
                    Value::Object(attrs).to_string(),
                ),
            ]);
            let session = new_session(
                ctx,
                client,
                &user,
                "NEW_PASSWORD_REQUIRED",
                json!({"dk": device_key}),
            );
            return Ok(Outcome::challenge("NEW_PASSWORD_REQUIRED", params, session));
        }
        _ => {}
    }
    // Read once: threat protection trusts a confirmed device, MFA skips a remembered one.
    let device = match device_key {
        Some(dk) => devices::confirmed_device(ctx, &user, dk).await?,
        None => None,
    };
    let risk = threat_protection::assess_sign_in(
        ctx,
        pool,
        client,
        &mut user,
        device.is_some(),
        SignInProof::Password(password),
    )
    .await?;
    if let Some(dk) = device_key
        && device.is_some_and(|d| d.remembered_status.as_deref() == Some("remembered"))
    {
        // A remembered device skips MFA once it proves its own secret; clients treat
        // the answer to DEVICE_PASSWORD_VERIFIER as final, so MFA is decided here.
        let session = new_session(ctx, client, &user, "DEVICE_SRP_AUTH", json!({"dk": dk}));
        let params = BTreeMap::from([("USERNAME".to_string(), user.username.clone())]);
        return Ok(Outcome::challenge("DEVICE_SRP_AUTH", params, session));
    }
    second_factor(ctx, pool, client, user, device_key, risk).await
}

/// A passwordless first factor (a one-time code, listed as `Mfa` in the event history,
/// or a passkey, which Cognito's list has no name for) was the whole proof: threat
/// protection assesses the sign-in now, as it assesses a password once proven, and
/// tokens follow.
async fn finish_passwordless(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    mut user: UserRow,
    proven: &[StepResult],
) -> ApiResult<Outcome> {
    threat_protection::assess_sign_in(
        ctx,
        pool,
        client,
        &mut user,
        false,
        SignInProof::Passwordless,
    )
    .await?;
    finish_proven(ctx, pool, client, user, None, proven).await
}

/// The steps a sign-in proved, as its event's `ChallengeResponses` lists them.
const PASSWORD_PROVEN: &[StepResult] = &[StepResult {
    challenge: "Password",
    success: true,
}];
/// A password, then a second factor.
const AFTER_MFA: &[StepResult] = &[
    StepResult {
        challenge: "Password",
        success: true,
    },
    StepResult {
        challenge: "Mfa",
        success: true,
    },
];
const CODE_PROVEN: &[StepResult] = &[StepResult {
    challenge: "Mfa",
    success: true,
}];

/// Signed in with a password alone: tokens, and device tracking as the pool's
/// DeviceConfiguration asks.
async fn finish(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: UserRow,
    device_key: Option<&str>,
) -> ApiResult<Outcome> {
    finish_proven(ctx, pool, client, user, device_key, PASSWORD_PROVEN).await
}

/// Signed in, `proven` saying with what (the event history's challenge responses).
async fn finish_proven(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    mut user: UserRow,
    device_key: Option<&str>,
    proven: &[StepResult],
) -> ApiResult<Outcome> {
    if clear_failures(&mut user) {
        ctx.state.store.update_user(&user).await.wire()?;
    }
    // PostAuthentication may still refuse: nothing is minted before it answers.
    let request = json!({
        "userAttributes": triggers::user_attributes(&user),
        "newDeviceUsed": device_key.is_none()
            && pool.config["DeviceConfiguration"].is_object(),
    });
    triggers::fire(
        ctx,
        pool,
        Trigger::PostAuthentication,
        "PostAuthentication_Authentication",
        &user.username,
        Some(&client.client_id),
        request.as_object().cloned().unwrap_or_default(),
    )
    .await?;
    super::auth_events::record_event(ctx, pool, &user, "SignIn", true, proven).await?;
    if ctx.hosted_ui {
        return Ok(Outcome {
            result: None,
            challenge: None,
            available: None,
            signed_in: Some(user),
        });
    }
    let device = devices::track_sign_in(ctx, pool, &user, device_key).await?;
    let grant = OAuthGrant {
        device_key: device.as_ref().map(|d| d.device_key.as_str()),
        ..OAuthGrant::default()
    };
    let mut tokens = issue_tokens_for(ctx, pool, client, &user, None, &grant).await?;
    if let Some(d) = &device {
        d.save(ctx).await?;
    }
    tokens.new_device_metadata = device.and_then(|d| d.new);
    Ok(Outcome::tokens(tokens))
}

/// SECRET_HASH on a challenge answer: clients compute it over the name they typed or the
/// one Cognito returned, so any name of this user is accepted.
fn check_secret_hash_any(
    ctx: &Ctx,
    client: &ClientRow,
    user: &UserRow,
    responses: &BTreeMap<String, String>,
) -> ApiResult<()> {
    let provided = responses.get("SECRET_HASH").map(String::as_str);
    let mut names: Vec<&str> = vec![&user.username];
    if let Some(n) = responses.get("USERNAME") {
        names.push(n);
    }
    names.extend(
        ["email", "phone_number", "preferred_username"]
            .iter()
            .filter_map(|a| user.attr(a)),
    );
    let mut last = Ok(());
    for n in names {
        last = check_secret_hash(ctx, client, n, provided);
        if last.is_ok() {
            return last;
        }
    }
    last
}

/// Whether `given` (a challenge's USERNAME) names `user`.
fn names_user(pool: &PoolRow, user: &UserRow, given: &str) -> bool {
    given == user.username
        || username_key(pool, given) == user.username_key
        || given == user.sub
        || password_record(user).is_some_and(|r| r.srp_username == given)
        || ["email", "phone_number", "preferred_username"]
            .iter()
            .any(|a| user.attr(a) == Some(given))
}

/// Opens the Session of a challenge answer and loads its user, checking it belongs to
/// this pool, client and challenge and that the user may still sign in.
async fn continue_session(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    challenge: &str,
    session: Option<&str>,
    responses: &BTreeMap<String, String>,
) -> ApiResult<(Session, UserRow)> {
    let invalid = || WireError::idp(E::NotAuthorizedException, "Invalid session for the user.");
    let s = open_session(ctx, session.ok_or_else(|| missing("Session"))?)?;
    if s.challenge != challenge || s.pool_id != pool.id || s.client_id != client.client_id {
        return Err(invalid());
    }
    let user = ctx
        .state
        .store
        .get_user(&pool.id, &s.username_key)
        .await
        .wire()?
        .ok_or_else(invalid)?;
    let given = responses
        .get("USERNAME")
        .ok_or_else(|| missing("USERNAME"))?;
    if !names_user(pool, &user, given) {
        return Err(invalid());
    }
    check_secret_hash_any(ctx, client, &user, responses)?;
    ensure_can_sign_in(ctx, &user)?;
    if s.is_spent(ctx).await? {
        return Err(session_used());
    }
    Ok((s, user))
}

fn session_used() -> WireError {
    WireError::idp(
        E::NotAuthorizedException,
        "Invalid session for the user, session can only be used once.",
    )
}

async fn spend(ctx: &Ctx, s: &Session) -> ApiResult<()> {
    if s.spend(ctx).await? {
        Ok(())
    } else {
        Err(session_used())
    }
}

fn session_device(s: &Session, responses: &BTreeMap<String, String>) -> Option<String> {
    responses
        .get("DEVICE_KEY")
        .cloned()
        .or_else(|| s.data["dk"].as_str().map(String::from))
}

async fn start(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    flow: &str,
    params: &BTreeMap<String, String>,
    admin: bool,
) -> ApiResult<Outcome> {
    let username = params.get("USERNAME").map(String::as_str);
    let device_key = params.get("DEVICE_KEY").map(String::as_str);
    match flow {
        "USER_PASSWORD_AUTH" if !admin => {
            if !flow_allowed(client, &["ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"]) {
                return Err(WireError::invalid_parameter(
                    "USER_PASSWORD_AUTH flow not enabled for this client",
                ));
            }
            let username = username.ok_or_else(|| missing("USERNAME"))?;
            let password = params.get("PASSWORD").ok_or_else(|| missing("PASSWORD"))?;
            check_secret_hash(
                ctx,
                client,
                username,
                params.get("SECRET_HASH").map(String::as_str),
            )?;
            password_sign_in(ctx, pool, client, username, password, device_key).await
        }
        "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" if admin => {
            if !flow_allowed(
                client,
                &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"],
            ) {
                return Err(WireError::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            let username = username.ok_or_else(|| missing("USERNAME"))?;
            let password = params.get("PASSWORD").ok_or_else(|| missing("PASSWORD"))?;
            check_secret_hash(
                ctx,
                client,
                username,
                params.get("SECRET_HASH").map(String::as_str),
            )?;
            password_sign_in(ctx, pool, client, username, password, device_key).await
        }
        "USER_SRP_AUTH" => srp_start(ctx, pool, client, params).await,
        "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => refresh_sign_in(ctx, pool, client, params).await,
        "USER_AUTH" => choice_sign_in(ctx, pool, client, params).await,
        "CUSTOM_AUTH" => custom_start(ctx, pool, client, params).await,
        _ => Err(WireError::invalid_parameter(
            "Initiate Auth method not supported",
        )),
    }
}

/// A public sign-in's context: the app's reported address counts only when the client
/// propagates user context data.
fn user_context(ctx: &Ctx, client: &ClientRow, data: Option<&UserContextDataType>) -> Ctx {
    let mut reported = threat_protection::with_reported_ip(
        ctx,
        data.and_then(|d| d.ip_address.as_deref()),
        threat_protection::client_propagates_context(client),
    );
    reported.device_context =
        threat_protection::device_context(client, data.and_then(|d| d.encoded_data.as_deref()));
    reported
}

/// An admin sign-in's context: the calling server reports its user's address and
/// browser. The server's own User-Agent (an SDK's) says nothing about the user's device.
fn server_context(ctx: &Ctx, client: &ClientRow, data: Option<&ContextDataType>) -> Ctx {
    let mut reported =
        threat_protection::with_reported_ip(ctx, data.map(|d| d.ip_address.as_str()), true);
    reported.device_context =
        threat_protection::device_context(client, data.and_then(|d| d.encoded_data.as_deref()));
    reported.user_agent = data.and_then(|d| {
        d.http_headers
            .iter()
            .find(|h| {
                h.header_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case("user-agent"))
            })
            .and_then(|h| h.header_value.clone())
    });
    reported
}

fn initiate_response(o: Outcome) -> InitiateAuthResponse {
    match o.challenge {
        Some((name, params, session)) => InitiateAuthResponse {
            challenge_name: Some(name),
            session: Some(session),
            challenge_parameters: Some(params),
            authentication_result: None,
            available_challenges: o.available,
        },
        None => InitiateAuthResponse {
            challenge_parameters: Some(BTreeMap::new()),
            authentication_result: o.result,
            ..Default::default()
        },
    }
}

pub async fn initiate_auth(ctx: Ctx, req: InitiateAuthRequest) -> ApiResult<InitiateAuthResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    let ctx = user_context(&ctx, &client, req.user_context_data.as_ref());
    let params = req.auth_parameters.clone().unwrap_or_default();
    Ok(initiate_response(
        start(&ctx, &pool, &client, &req.auth_flow, &params, false).await?,
    ))
}

pub async fn admin_initiate_auth(
    ctx: Ctx,
    req: AdminInitiateAuthRequest,
) -> ApiResult<AdminInitiateAuthResponse> {
    let (client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let ctx = server_context(&ctx, &client, req.context_data.as_ref());
    let params = req.auth_parameters.clone().unwrap_or_default();
    let r = initiate_response(start(&ctx, &pool, &client, &req.auth_flow, &params, true).await?);
    Ok(AdminInitiateAuthResponse {
        challenge_name: r.challenge_name,
        session: r.session,
        challenge_parameters: r.challenge_parameters,
        authentication_result: r.authentication_result,
        available_challenges: r.available_challenges,
    })
}

async fn respond(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    challenge: &str,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    // Tokens minted at this step tell PreTokenGeneration which step it was.
    let step = Ctx {
        token_source: match challenge {
            "NEW_PASSWORD_REQUIRED" => "TokenGeneration_NewPasswordChallenge",
            "DEVICE_PASSWORD_VERIFIER" => "TokenGeneration_AuthenticateDevice",
            _ => "TokenGeneration_Authentication",
        },
        ..ctx.clone()
    };
    let ctx = &step;
    match challenge {
        "PASSWORD_VERIFIER" => srp_verify(ctx, pool, client, responses).await,
        "NEW_PASSWORD_REQUIRED" => {
            new_password_required(ctx, pool, client, responses, session).await
        }
        SMS_MFA | SMS_OTP | EMAIL_OTP | SOFTWARE_TOKEN_MFA => {
            mfa_answer(ctx, pool, client, challenge, responses, session).await
        }
        "CUSTOM_CHALLENGE" => custom_answer(ctx, pool, client, responses, session).await,
        "SELECT_CHALLENGE" => select_challenge(ctx, pool, client, responses, session).await,
        "WEB_AUTHN" => web_authn_answer(ctx, pool, client, responses, session).await,
        "SELECT_MFA_TYPE" => select_mfa_type(ctx, pool, client, responses, session).await,
        "MFA_SETUP" => mfa_setup(ctx, pool, client, responses, session).await,
        "DEVICE_SRP_AUTH" => device_srp_auth(ctx, pool, client, responses, session).await,
        "DEVICE_PASSWORD_VERIFIER" => {
            device_password_verifier(ctx, pool, client, responses, session).await
        }
        other => Err(WireError::invalid_parameter(format!(
            "{other} is not supported by this idpool version yet."
        ))),
    }
}

pub async fn respond_to_auth_challenge(
    ctx: Ctx,
    req: RespondToAuthChallengeRequest,
) -> ApiResult<RespondToAuthChallengeResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    let ctx = user_context(&ctx, &client, req.user_context_data.as_ref());
    let responses = req.challenge_responses.clone().unwrap_or_default();
    let o = respond(
        &ctx,
        &pool,
        &client,
        &req.challenge_name,
        &responses,
        req.session.as_deref(),
    )
    .await?;
    let r = initiate_response(o);
    Ok(RespondToAuthChallengeResponse {
        challenge_name: r.challenge_name,
        session: r.session,
        challenge_parameters: r.challenge_parameters,
        authentication_result: r.authentication_result,
        available_challenges: r.available_challenges,
    })
}

pub async fn admin_respond_to_auth_challenge(
    ctx: Ctx,
    req: AdminRespondToAuthChallengeRequest,
) -> ApiResult<AdminRespondToAuthChallengeResponse> {
    let (client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let ctx = server_context(&ctx, &client, req.context_data.as_ref());
    let responses = req.challenge_responses.clone().unwrap_or_default();
    let o = respond(
        &ctx,
        &pool,
        &client,
        &req.challenge_name,
        &responses,
        req.session.as_deref(),
    )
    .await?;
    let r = initiate_response(o);
    Ok(AdminRespondToAuthChallengeResponse {
        challenge_name: r.challenge_name,
        session: r.session,
        challenge_parameters: r.challenge_parameters,
        authentication_result: r.authentication_result,
        available_challenges: r.available_challenges,
    })
}

/// Revokes a refresh token and, through `origin_jti`, the access tokens minted from it.
pub async fn revoke_token(ctx: Ctx, req: RevokeTokenRequest) -> ApiResult<RevokeTokenResponse> {
    // RevokeToken declares no ResourceNotFoundException: an unknown client fails
    // client authentication, as /oauth2/revoke's invalid_client does.
    let (client, _pool) = load_client(&ctx, &req.client_id)
        .await
        .map_err(|e| declared_as(e, E::ResourceNotFoundException, E::UnauthorizedException))?;
    if client.config["EnableTokenRevocation"] == false {
        return Err(WireError::idp(
            E::UnsupportedOperationException,
            "Token revocation is not enabled for this client.",
        ));
    }
    super::client_secrets::check_plain_secret(&ctx, &client, req.client_secret.as_deref(), || {
        WireError::idp(E::UnauthorizedException, "Invalid client secret.")
    })?;
    if idpool_core::tokens::jwt::decode(&req.token).is_some() {
        return Err(WireError::idp(
            E::UnsupportedTokenTypeException,
            "Only refresh tokens can be revoked.",
        ));
    }
    let hash = sha256_hex(req.token.as_bytes());
    if let Some(row) = ctx.state.store.get_refresh_token(&hash).await.wire()? {
        if row.client_id != client.client_id {
            return Err(WireError::idp(
                E::UnauthorizedException,
                "The token was not issued to this client.",
            ));
        }
        ctx.state
            .store
            .revoke_refresh_token(&hash, ctx.now)
            .await
            .wire()?;
    }
    // An unknown token is already as revoked as it can be (RFC 7009).
    Ok(RevokeTokenResponse {})
}

pub async fn global_sign_out(
    ctx: Ctx,
    req: GlobalSignOutRequest,
) -> ApiResult<GlobalSignOutResponse> {
    let (pool, mut user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    sign_out_everywhere(&ctx, &pool, &mut user).await?;
    Ok(GlobalSignOutResponse {})
}
