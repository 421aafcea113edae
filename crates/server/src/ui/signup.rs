//! Sign-up and confirmation pages, over the API's SignUp, ConfirmSignUp and
//! ResendConfirmationCode (so PreSignUp, CustomMessage and PostConfirmation run as
//! they do for the API).

use super::login::{login_form, posted};
use super::*;
use crate::state::SharedState;
use axum::extract::{Query, State};
use idpool_store::ClientRow;
use idpool_wire::shapes::cognito_idp::{
    AttributeType, ConfirmSignUpRequest, ResendConfirmationCodeRequest, SignUpRequest,
};
use std::collections::HashMap;

/// The attributes the sign-up form asks for: email and phone when the pool signs in or
/// verifies with them, and every required attribute of its schema.
fn fields(site: &Site, values: &HashMap<String, String>) -> Vec<serde_json::Value> {
    let cfg = &site.pool.config;
    let listed = |key: &str| crate::api::support::str_list(&cfg[key]);
    let mut names: Vec<(String, bool)> = Vec::new();
    let mut add = |name: &str, required: bool| {
        if let Some(existing) = names.iter_mut().find(|(n, _)| n == name) {
            existing.1 |= required;
        } else {
            names.push((name.to_string(), required));
        }
    };
    for attr in ["email", "phone_number"] {
        let username_attr = listed("UsernameAttributes").iter().any(|a| a == attr);
        if username_attr || listed("AutoVerifiedAttributes").iter().any(|a| a == attr) {
            add(attr, username_attr);
        }
    }
    for a in cfg["SchemaAttributes"].as_array().into_iter().flatten() {
        // `sub` is the pool's to assign; developer-only attributes are not the user's.
        if a["Required"] == true
            && a["DeveloperOnlyAttribute"] != true
            && let Some(name) = a["Name"].as_str().filter(|n| *n != "sub")
        {
            add(name, true);
        }
    }
    names
        .into_iter()
        .map(|(name, required)| {
            let input = match name.as_str() {
                "email" => "email",
                "phone_number" => "tel",
                _ => "text",
            };
            // Standard attributes by their name in the page's language; custom ones
            // by their own name.
            let label = match site.lang.text(&format!("attr_{name}")) {
                "" => name.replace('_', " "),
                known => known.to_string(),
            };
            serde_json::json!({
                "name": name,
                "label": label,
                "input": input,
                "required": required,
                "value": values.get(&name).cloned().unwrap_or_default(),
            })
        })
        .collect()
}

fn username_is_attribute(site: &Site) -> bool {
    !crate::api::support::str_list(&site.pool.config["UsernameAttributes"]).is_empty()
}

async fn signup_form(
    ctx: &Ctx,
    site: &Site,
    req: &AuthRequest,
    username: &str,
    values: &HashMap<String, String>,
    error: Option<String>,
) -> Response {
    let terms =
        crate::api::branding::client_terms_links(ctx, &site.pool, &req.client_id, site.lang).await;
    render(
        page(ctx, site, req, error, None).await,
        StatusCode::OK,
        "signup.html",
        minijinja::context! {
            req => req.seal(ctx),
            username => username,
            username_is_attribute => username_is_attribute(site),
            fields => minijinja::value::Serde(fields(site, values)),
            terms => minijinja::value::Serde(terms),
        },
        vec![],
    )
}

pub async fn signup_page(
    State(state): State<SharedState>,
    site: Site,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ctx = Ctx::for_state(state);
    let req = match open_request(&ctx, &site, q.get("req").map(String::as_str)) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    signup_form(&ctx, &site, &req, "", &HashMap::new(), None).await
}

pub async fn signup_submit(
    State(state): State<SharedState>,
    site: Site,
    body: axum::body::Bytes,
) -> Response {
    let ctx = Ctx {
        operation: "SignUp",
        ..Ctx::for_state(state)
    };
    let (pairs, req, client) = match posted(&ctx, &site, &body).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let values: HashMap<String, String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("attr:")
                .map(|n| (n.to_string(), v.trim().to_string()))
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    // In a pool that signs in by email or phone, the address is the username.
    let username = if username_is_attribute(&site) {
        values
            .get("email")
            .or_else(|| values.get("phone_number"))
            .cloned()
            .unwrap_or_default()
    } else {
        field(&pairs, "username")
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let attributes: Vec<AttributeType> = values
        .iter()
        .map(|(name, value)| AttributeType {
            name: name.clone(),
            value: Some(value.clone()),
        })
        .collect();
    // Hosted sign-up and password reset write the user: paused during a recovery.
    let result = async {
        crate::api::point_in_time_recovery::refuse_write_during_recovery(&ctx, &client.pool_id)
            .await?;
        crate::api::signup::sign_up(
            ctx.clone(),
            SignUpRequest {
                client_id: client.client_id.clone(),
                secret_hash: secret_hash(&ctx, &client, &username),
                username: username.clone(),
                password: field(&pairs, "password").map(String::from),
                user_attributes: Some(attributes),
                ..Default::default()
            },
        )
        .await
    }
    .await;
    match result {
        Ok(r) if r.user_confirmed => {
            login_form(
                &ctx,
                &site,
                &req,
                &username,
                None,
                Some(site.lang.text("notice_account_ready").into()),
                StatusCode::OK,
            )
            .await
        }
        Ok(r) => {
            let destination = r.code_delivery_details.and_then(|d| d.destination);
            confirm_form(&ctx, &site, &req, &username, destination, None, None).await
        }
        Err(e) => signup_form(&ctx, &site, &req, &username, &values, Some(e.message)).await,
    }
}

async fn confirm_form(
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
        "confirm.html",
        minijinja::context! {
            req => req.seal(ctx),
            username => username,
            destination => destination,
        },
        vec![],
    )
}

async fn resend(ctx: &Ctx, client: &ClientRow, username: &str) -> Result<Option<String>, String> {
    let ctx = Ctx {
        operation: "ResendConfirmationCode",
        ..ctx.clone()
    };
    crate::api::signup::resend_confirmation_code(
        ctx.clone(),
        ResendConfirmationCodeRequest {
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

/// An unconfirmed user tried to sign in: a fresh code, and the confirmation page.
pub async fn confirm_after_sign_in(
    ctx: &Ctx,
    site: &Site,
    client: &ClientRow,
    req: &AuthRequest,
    username: &str,
) -> Response {
    match resend(ctx, client, username).await {
        Ok(destination) => {
            confirm_form(
                ctx,
                site,
                req,
                username,
                destination,
                None,
                Some(site.lang.text("notice_confirm_then_sign_in").into()),
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

pub async fn confirm_submit(
    State(state): State<SharedState>,
    site: Site,
    body: axum::body::Bytes,
) -> Response {
    let ctx = Ctx {
        operation: "ConfirmSignUp",
        ..Ctx::for_state(state)
    };
    let (pairs, req, client) = match posted(&ctx, &site, &body).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let username = field(&pairs, "username").unwrap_or_default().to_string();
    if field(&pairs, "action") == Some("resend") {
        return match resend(&ctx, &client, &username).await {
            Ok(destination) => {
                confirm_form(
                    &ctx,
                    &site,
                    &req,
                    &username,
                    destination,
                    None,
                    Some(site.lang.text("notice_new_code").into()),
                )
                .await
            }
            Err(message) => {
                confirm_form(&ctx, &site, &req, &username, None, Some(message), None).await
            }
        };
    }
    // Hosted sign-up and password reset write the user: paused during a recovery.
    let result = async {
        crate::api::point_in_time_recovery::refuse_write_during_recovery(&ctx, &client.pool_id)
            .await?;
        crate::api::signup::confirm_sign_up(
            ctx.clone(),
            ConfirmSignUpRequest {
                client_id: client.client_id.clone(),
                secret_hash: secret_hash(&ctx, &client, &username),
                username: username.clone(),
                confirmation_code: field(&pairs, "code").unwrap_or_default().trim().to_string(),
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
                Some(site.lang.text("notice_account_confirmed").into()),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => confirm_form(&ctx, &site, &req, &username, None, Some(e.message), None).await,
    }
}
