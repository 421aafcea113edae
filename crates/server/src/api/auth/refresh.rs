//! Sessions renewed by refresh token: REFRESH_TOKEN_AUTH in (Admin)InitiateAuth, and
//! GetTokensFromRefreshToken, the only way to renew on an app client with refresh-token
//! rotation.
//!
//! Rotation (the client's `RefreshTokenRotation.Feature = ENABLED`): each renewal returns
//! a new refresh token of the same session (`origin_jti`, `auth_time`) and the submitted
//! one stops working after `RetryGracePeriodSeconds` (0 to 60), which lets a client
//! retry a request whose answer it lost. Using it after that is refresh-token reuse:
//! RefreshTokenReuseException. A replacement expires when the token it replaced would
//! have, so rotation never stretches a session past the refresh-token validity counted
//! from the original sign-in.

use super::super::Ctx;
use super::super::client_secrets::check_plain_secret;
use super::super::error::{ApiResult, OrWire};
use super::super::support::*;
use super::{Outcome, missing};
use idpool_core::crypto::{self, sha256_hex};
use idpool_store::{ClientRow, PoolRow, RefreshTokenRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use std::collections::BTreeMap;

fn rotation_enabled(client: &ClientRow) -> bool {
    client.config["RefreshTokenRotation"]["Feature"] == "ENABLED"
}

/// RetryGracePeriodSeconds, in milliseconds.
fn grace_ms(client: &ClientRow) -> i64 {
    client.config["RefreshTokenRotation"]["RetryGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(0)
        .clamp(0, 60)
        * 1000
}

fn invalid_refresh_token() -> WireError {
    WireError::idp(E::NotAuthorizedException, "Invalid Refresh Token")
}

fn refresh_token_reused() -> WireError {
    WireError::idp(
        E::RefreshTokenReuseException,
        "Refresh token has been rotated and can no longer be used.",
    )
}

/// The stored session behind a refresh token, and its user, after the checks both
/// renewal paths share.
async fn refresh_session(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    token: &str,
    device_key: Option<&str>,
) -> ApiResult<(RefreshTokenRow, UserRow)> {
    let row = ctx
        .state
        .store
        .get_refresh_token(&sha256_hex(token.as_bytes()))
        .await
        .wire()?
        .ok_or_else(invalid_refresh_token)?;
    if row.client_id != client.client_id || row.pool_id != pool.id {
        return Err(invalid_refresh_token());
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
    // A replaced token works only for the retry grace period (and not at all once the
    // client stops rotating: its replacement is the session's token now).
    if let Some(rotated_at) = row.rotated_at
        && (!rotation_enabled(client) || rotated_at + grace_ms(client) <= ctx.now)
    {
        return Err(refresh_token_reused());
    }
    let user: UserRow = ctx
        .state
        .store
        .get_user(&pool.id, &row.username_key)
        .await
        .wire()?
        .ok_or_else(invalid_refresh_token)?;
    // With device tracking a refresh token belongs to its device: another device (or
    // none) cannot renew it, nor can anyone once ForgetDevice removed the device (a
    // stolen device's tokens die with it). Cognito gives no more detail than this.
    if let Some(bound) = &row.device_key {
        let forgotten = ctx
            .state
            .store
            .get_device(&pool.id, &user.username_key, bound)
            .await
            .wire()?
            .is_none();
        if device_key != Some(bound.as_str()) || forgotten {
            return Err(invalid_refresh_token());
        }
    }
    Ok((row, user))
}

fn check_enabled(user: &UserRow) -> ApiResult<()> {
    if user.enabled {
        Ok(())
    } else {
        Err(WireError::idp(
            E::NotAuthorizedException,
            "User is disabled.",
        ))
    }
}

pub(super) async fn refresh_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    params: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    if rotation_enabled(client) {
        // A renewal here could not hand back the replacement token, so a rotating
        // client would be left holding a token that is about to stop working.
        return Err(WireError::invalid_parameter(
            "REFRESH_TOKEN_AUTH is not supported for app clients with refresh token rotation enabled. Use GetTokensFromRefreshToken.",
        ));
    }
    let token = params
        .get("REFRESH_TOKEN")
        .ok_or_else(|| missing("REFRESH_TOKEN"))?;
    let device_key = params.get("DEVICE_KEY").map(String::as_str);
    let (row, user) = refresh_session(ctx, pool, client, token, device_key).await?;
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
    check_enabled(&user)?;
    note_renewal(ctx, pool, &row).await?;
    let tokens = issue_tokens(ctx, pool, client, &user, Some(&row)).await?;
    Ok(Outcome::tokens(tokens))
}

/// A renewal that keeps its refresh token is the session's last activity, for
/// ListUserSessions (pools that track sessions only).
async fn note_renewal(ctx: &Ctx, pool: &PoolRow, row: &RefreshTokenRow) -> ApiResult<()> {
    if let Some(context) =
        crate::api::user_sessions::renewal_context(ctx, pool, row.context.as_deref())
    {
        ctx.state
            .store
            .note_refresh_token_use(&row.token_hash, ctx.now, &context)
            .await
            .wire()?;
    }
    Ok(())
}

pub async fn get_tokens_from_refresh_token(
    ctx: Ctx,
    req: GetTokensFromRefreshTokenRequest,
) -> ApiResult<GetTokensFromRefreshTokenResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    check_plain_secret(&ctx, &client, req.client_secret.as_deref(), || {
        WireError::idp(
            E::NotAuthorizedException,
            match req.client_secret {
                None => format!(
                    "Client {} is configured with secret but ClientSecret was not received",
                    client.client_id
                ),
                Some(_) => format!("Unable to verify secret for client {}", client.client_id),
            },
        )
    })?;
    let tokens = renew_session(
        &ctx,
        &pool,
        &client,
        &req.refresh_token,
        req.device_key.as_deref(),
    )
    .await?;
    Ok(GetTokensFromRefreshTokenResponse {
        authentication_result: Some(tokens),
    })
}

/// Renews a session from its refresh token, rotating it on a rotating client: the
/// work of GetTokensFromRefreshToken and of the OAuth token endpoint's
/// `refresh_token` grant (the client has already authenticated).
pub async fn renew_session(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    refresh_token: &str,
    device_key: Option<&str>,
) -> ApiResult<AuthenticationResultType> {
    let (row, user) = refresh_session(ctx, pool, client, refresh_token, device_key).await?;
    check_enabled(&user)?;
    let replacement = if rotation_enabled(client) {
        let token = crypto::b64url(&crypto::random_bytes(48));
        let new_row = RefreshTokenRow {
            token_hash: sha256_hex(token.as_bytes()),
            created_at: ctx.now,
            revoked_at: None,
            rotated_at: None,
            context: crate::api::user_sessions::renewal_context(ctx, pool, row.context.as_deref()),
            ..row.clone()
        };
        // The store decides, atomically, whether the old token may still rotate: two
        // racing renewals of a token without a grace period cannot both succeed.
        if !ctx
            .state
            .store
            .rotate_refresh_token(&row.token_hash, ctx.now, grace_ms(client), &new_row)
            .await
            .wire()?
        {
            return Err(refresh_token_reused());
        }
        Some(token)
    } else {
        note_renewal(ctx, pool, &row).await?;
        None
    };
    let mut tokens = issue_tokens(ctx, pool, client, &user, Some(&row)).await?;
    tokens.refresh_token = replacement;
    Ok(tokens)
}
