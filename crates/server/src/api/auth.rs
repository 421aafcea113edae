//! Sign-in: InitiateAuth, AdminInitiateAuth, RespondToAuthChallenge,
//! AdminRespondToAuthChallenge, RevokeToken, GlobalSignOut.

use super::Ctx;
use super::admin_users::{set_password, sign_out_everywhere, write_attributes};
use super::error::{ApiResult, OrWire};
use super::support::*;
use idpool_core::attributes::Writer;
use idpool_core::auth::password::PasswordRecord;
use idpool_core::crypto::sha256_hex;
use idpool_core::password_policy::PasswordPolicy;
use idpool_store::{ClientRow, PoolRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::json;
use std::collections::BTreeMap;

/// After this many wrong passwords in a row the account locks, doubling from one second
/// up to 15 minutes: online guessing must not be cheap.
const LOCKOUT_AFTER: i64 = 5;
const LOCKOUT_MAX_SECONDS: i64 = 900;

fn incorrect() -> WireError {
    WireError::idp(E::NotAuthorizedException, "Incorrect username or password.")
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

/// What a sign-in attempt produced: tokens, or a challenge to answer first.
struct Outcome {
    result: Option<AuthenticationResultType>,
    challenge: Option<(String, BTreeMap<String, String>, String)>,
}

/// Checks a username and password the way Cognito orders its answers: unknown user,
/// disabled, lockout, wrong password, then the account state.
async fn password_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    username: &str,
    password: &str,
) -> ApiResult<Outcome> {
    let Some(mut user) = find_user(ctx, pool, username).await? else {
        return Err(if prevent_existence_errors(client) {
            incorrect()
        } else {
            user_not_found()
        });
    };
    if !user.enabled {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "User is disabled.",
        ));
    }
    let locked_until = user
        .extra
        .get("lockedUntil")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    if locked_until > ctx.now {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Password attempts exceeded",
        ));
    }
    let record: Option<PasswordRecord> = user
        .password
        .clone()
        .and_then(|p| serde_json::from_value(p).ok());
    let Some(record) = record else {
        return Err(incorrect());
    };
    if !record
        .matches(&ctx.state.master, &pool.id, password)
        .wire()?
    {
        let failures = user
            .extra
            .get("failedSignIns")
            .and_then(|v| v.as_i64())
            .unwrap_or(0)
            + 1;
        user.extra.insert("failedSignIns".into(), json!(failures));
        if failures >= LOCKOUT_AFTER {
            let secs = (1i64 << (failures - LOCKOUT_AFTER).min(10)).min(LOCKOUT_MAX_SECONDS);
            user.extra
                .insert("lockedUntil".into(), json!(ctx.now + secs * 1000));
        }
        ctx.state.store.update_user(&user).await.wire()?;
        return Err(incorrect());
    }
    if user.extra.contains_key("failedSignIns") {
        user.extra.remove("failedSignIns");
        user.extra.remove("lockedUntil");
        ctx.state.store.update_user(&user).await.wire()?;
    }
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
                ("USER_ID_FOR_SRP".to_string(), user.username.clone()),
                ("requiredAttributes".to_string(), "[]".to_string()),
                (
                    "userAttributes".to_string(),
                    serde_json::Value::Object(attrs).to_string(),
                ),
            ]);
            let session = new_session(
                ctx,
                &pool.id,
                &client.client_id,
                &user.username,
                "NEW_PASSWORD_REQUIRED",
            );
            return Ok(Outcome {
                result: None,
                challenge: Some(("NEW_PASSWORD_REQUIRED".into(), params, session)),
            });
        }
        _ => {}
    }
    let tokens = issue_tokens(ctx, pool, client, &user, None).await?;
    Ok(Outcome {
        result: Some(tokens),
        challenge: None,
    })
}

async fn refresh_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    params: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    let invalid = || WireError::idp(E::NotAuthorizedException, "Invalid Refresh Token");
    let token = params
        .get("REFRESH_TOKEN")
        .ok_or_else(|| WireError::invalid_parameter("Missing required parameter REFRESH_TOKEN"))?;
    let row = ctx
        .state
        .store
        .get_refresh_token(&sha256_hex(token.as_bytes()))
        .await
        .wire()?
        .ok_or_else(invalid)?;
    if row.client_id != client.client_id || row.pool_id != pool.id {
        return Err(invalid());
    }
    if row.revoked_at.is_some() {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Refresh Token has been revoked",
        ));
    }
    if row.expires_at < ctx.now {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Refresh Token has expired",
        ));
    }
    let user: UserRow = ctx
        .state
        .store
        .get_user(&pool.id, &row.username_key)
        .await
        .wire()?
        .ok_or_else(invalid)?;
    if client.secret.is_some() {
        // Cognito checks the hash against the username the token belongs to.
        let provided = params.get("SECRET_HASH").map(String::as_str);
        check_secret_hash(
            ctx,
            client,
            params
                .get("USERNAME")
                .map(String::as_str)
                .unwrap_or(&user.username),
            provided,
        )?;
    }
    if !user.enabled {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "User is disabled.",
        ));
    }
    let tokens = issue_tokens(ctx, pool, client, &user, Some(&row)).await?;
    Ok(Outcome {
        result: Some(tokens),
        challenge: None,
    })
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
    match flow {
        "USER_PASSWORD_AUTH" if !admin => {
            if !flow_allowed(client, &["ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"]) {
                return Err(WireError::invalid_parameter(
                    "USER_PASSWORD_AUTH flow not enabled for this client",
                ));
            }
            let username = username.ok_or_else(|| {
                WireError::invalid_parameter("Missing required parameter USERNAME")
            })?;
            let password = params.get("PASSWORD").ok_or_else(|| {
                WireError::invalid_parameter("Missing required parameter PASSWORD")
            })?;
            check_secret_hash(
                ctx,
                client,
                username,
                params.get("SECRET_HASH").map(String::as_str),
            )?;
            password_sign_in(ctx, pool, client, username, password).await
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
            let username = username.ok_or_else(|| {
                WireError::invalid_parameter("Missing required parameter USERNAME")
            })?;
            let password = params.get("PASSWORD").ok_or_else(|| {
                WireError::invalid_parameter("Missing required parameter PASSWORD")
            })?;
            check_secret_hash(
                ctx,
                client,
                username,
                params.get("SECRET_HASH").map(String::as_str),
            )?;
            password_sign_in(ctx, pool, client, username, password).await
        }
        "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => refresh_sign_in(ctx, pool, client, params).await,
        "USER_SRP_AUTH" | "CUSTOM_AUTH" | "USER_AUTH" => Err(WireError::invalid_parameter(
            format!("{flow} is not supported by this idpool version yet; use USER_PASSWORD_AUTH."),
        )),
        _ => Err(WireError::invalid_parameter(
            "Initiate Auth method not supported",
        )),
    }
}

fn initiate_response(o: Outcome) -> InitiateAuthResponse {
    match o.challenge {
        Some((name, params, session)) => InitiateAuthResponse {
            challenge_name: Some(name),
            session: Some(session),
            challenge_parameters: Some(params),
            authentication_result: None,
            available_challenges: None,
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
    let username = responses
        .get("USERNAME")
        .ok_or_else(|| WireError::invalid_parameter("Missing required parameter USERNAME"))?;
    check_secret_hash(
        ctx,
        client,
        username,
        responses.get("SECRET_HASH").map(String::as_str),
    )?;
    match challenge {
        "NEW_PASSWORD_REQUIRED" => {
            let session = open_session(ctx, session.unwrap_or_default())?;
            let mut user = require_user(ctx, pool, username).await?;
            if session.challenge != challenge
                || session.pool_id != pool.id
                || session.client_id != client.client_id
                || session.username != user.username
            {
                return Err(WireError::idp(
                    E::NotAuthorizedException,
                    "Invalid session for the user.",
                ));
            }
            if user.status != "FORCE_CHANGE_PASSWORD" {
                return Err(WireError::idp(
                    E::NotAuthorizedException,
                    "Invalid session for the user.",
                ));
            }
            let new_password = responses.get("NEW_PASSWORD").ok_or_else(|| {
                WireError::invalid_parameter("Missing required parameter NEW_PASSWORD")
            })?;
            PasswordPolicy::from_pool_config(&pool.config)
                .check(new_password)
                .wire()?;
            let attrs: Vec<(String, String)> = responses
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("userAttributes.")
                        .map(|n| (n.to_string(), v.clone()))
                })
                .collect();
            if !attrs.is_empty() {
                write_attributes(ctx, pool, &mut user, &attrs, Writer::User).await?;
            }
            set_password(ctx, pool, &mut user, new_password, false);
            user.status = "CONFIRMED".into();
            user.updated_at = ctx.now;
            ctx.state.store.update_user(&user).await.wire()?;
            let tokens = issue_tokens(ctx, pool, client, &user, None).await?;
            Ok(Outcome {
                result: Some(tokens),
                challenge: None,
            })
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
    })
}

pub async fn admin_respond_to_auth_challenge(
    ctx: Ctx,
    req: AdminRespondToAuthChallengeRequest,
) -> ApiResult<AdminRespondToAuthChallengeResponse> {
    let (client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
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
    })
}

/// Revokes a refresh token and, through `origin_jti`, the access tokens minted from it.
pub async fn revoke_token(ctx: Ctx, req: RevokeTokenRequest) -> ApiResult<RevokeTokenResponse> {
    let (client, _pool) = load_client(&ctx, &req.client_id).await?;
    if client.config["EnableTokenRevocation"] == false {
        return Err(WireError::idp(
            E::UnsupportedOperationException,
            "Token revocation is not enabled for this client.",
        ));
    }
    if let Some(secret) = client_secret(&ctx, &client)?
        && !req
            .client_secret
            .as_deref()
            .is_some_and(|s| constant_time_eq(s.as_bytes(), secret.as_bytes()))
    {
        return Err(WireError::idp(
            E::UnauthorizedException,
            "Invalid client secret.",
        ));
    }
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
