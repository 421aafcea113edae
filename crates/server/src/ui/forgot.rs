//! Forgot-password pages, over the API's ForgotPassword and ConfirmForgotPassword.

use super::login::{login_form, posted};
use super::*;
use crate::state::SharedState;
use axum::extract::{Query, State};
use idpool_store::ClientRow;
use idpool_wire::shapes::cognito_idp::{ConfirmForgotPasswordRequest, ForgotPasswordRequest};
use std::collections::HashMap;

pub async fn forgot_password_page(
    State(state): State<SharedState>,
    site: Site,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ctx = Ctx::for_state(state);
    let req = match open_request(&ctx, &site, q.get("req").map(String::as_str)) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    forgot_form(&ctx, &site, &req, "", None).await
}

async fn forgot_form(
    ctx: &Ctx,
    site: &Site,
    req: &AuthRequest,
    username: &str,
    error: Option<String>,
) -> Response {
    render(
        page(ctx, site, req, error, None).await,
        StatusCode::OK,
        "forgot.html",
        minijinja::context! { req => req.seal(ctx), username => username },
        vec![],
    )
}

async fn reset_form(
    ctx: &Ctx,
    site: &Site,
    req: &AuthRequest,
    username: &str,
    destination: Option<String>,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    render(
        page(ctx, site, req, error, notice).await,
        StatusCode::OK,
        "reset.html",
        minijinja::context! {
            req => req.seal(ctx),
            username => username,
            destination => destination,
        },
        vec![],
    )
}

async fn send_reset_code(
    ctx: &Ctx,
    client: &ClientRow,
    username: &str,
) -> Result<Option<String>, String> {
    let ctx = Ctx {
        operation: "ForgotPassword",
        ..ctx.clone()
    };
    crate::api::self_service::forgot_password(
        ctx.clone(),
        ForgotPasswordRequest {
            client_id: client.client_id.clone(),
            secret_hash: secret_hash(&ctx, client, username),
            username: username.to_string(),
            ..Default::default()
        },
    )
    .await
    .map(|r| r.code_delivery_details.and_then(|d| d.destination))
    .map_err(|e| e.message)
}

pub async fn forgot_password_submit(
    State(state): State<SharedState>,
    site: Site,
    body: axum::body::Bytes,
) -> Response {
    let ctx = Ctx::for_state(state);
    let (pairs, req, client) = match posted(&ctx, &site, &body).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let username = field(&pairs, "username")
        .unwrap_or_default()
        .trim()
        .to_string();
    match send_reset_code(&ctx, &client, &username).await {
        Ok(destination) => reset_form(&ctx, &site, &req, &username, destination, None, None).await,
        Err(message) => forgot_form(&ctx, &site, &req, &username, Some(message)).await,
    }
}

/// A user whose password must be reset tried to sign in: a code, and the reset page.
pub async fn reset_after_sign_in(
    ctx: &Ctx,
    site: &Site,
    client: &ClientRow,
    req: &AuthRequest,
    username: &str,
) -> Response {
    match send_reset_code(ctx, client, username).await {
        Ok(destination) => {
            reset_form(
                ctx,
                site,
                req,
                username,
                destination,
                None,
                Some(site.lang.text("notice_reset_required").into()),
            )
            .await
        }
        Err(message) => {
            login_form(
                ctx,
                site,
                req,
                username,
                Some(message),
                None,
                StatusCode::OK,
            )
            .await
        }
    }
}

pub async fn confirm_forgot_password_page(
    State(state): State<SharedState>,
    site: Site,
    body: axum::body::Bytes,
) -> Response {
    let ctx = Ctx {
        operation: "ConfirmForgotPassword",
        ..Ctx::for_state(state)
    };
    let (pairs, req, client) = match posted(&ctx, &site, &body).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let username = field(&pairs, "username").unwrap_or_default().to_string();
    // Hosted sign-up and password reset write the user: paused during a recovery.
    let result = async {
        crate::api::point_in_time_recovery::refuse_write_during_recovery(&ctx, &client.pool_id)
            .await?;
        crate::api::self_service::confirm_forgot_password(
            ctx.clone(),
            ConfirmForgotPasswordRequest {
                client_id: client.client_id.clone(),
                secret_hash: secret_hash(&ctx, &client, &username),
                username: username.clone(),
                confirmation_code: field(&pairs, "code").unwrap_or_default().trim().to_string(),
                password: field(&pairs, "password").unwrap_or_default().to_string(),
                ..Default::default()
            },
        )
        .await
    }
    .await;
    match result {
        Ok(_) => {
            login_form(
                &ctx,
                &site,
                &req,
                &username,
                None,
                Some(site.lang.text("notice_password_changed").into()),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => reset_form(&ctx, &site, &req, &username, None, Some(e.message), None).await,
    }
}
