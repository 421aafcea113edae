//! The OAuth 2.0 / OpenID Connect authorization server of each pool: discovery and
//! JWKS here, `authorize` (the authorization endpoint and its codes), `token` (token,
//! revocation, userInfo, logout), `site` (which pool a request addresses). The pages
//! a user signs in on are `crate::ui`.

// Page handlers return the page that explains a refusal as their error: one
// response per request, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod authorize;
pub mod federation;
pub mod site;
pub mod token;

use crate::api::Ctx;
use crate::api::support::{issuer, pool_keys};
use crate::state::SharedState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

fn ctx(state: SharedState) -> Ctx {
    Ctx::for_state(state)
}

fn pool_not_found(pool_id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": format!("User pool {pool_id} does not exist.")})),
    )
        .into_response()
}

pub async fn jwks(State(state): State<SharedState>, Path(pool_id): Path<String>) -> Response {
    let ctx = ctx(state);
    match ctx.state.store.get_pool(&pool_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return pool_not_found(&pool_id),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    match pool_keys(&ctx, &pool_id).await {
        Ok(keys) => {
            let body = json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
            ([("cache-control", "public, max-age=300")], Json(body)).into_response()
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

pub async fn openid_configuration(
    State(state): State<SharedState>,
    Path(pool_id): Path<String>,
) -> Response {
    let ctx = ctx(state);
    match ctx.state.store.get_pool(&pool_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return pool_not_found(&pool_id),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    // The path form of the endpoints shares the issuer's base, so discovery works on
    // localhost without DNS; a pool's domain serves the same endpoints at its root.
    let iss = issuer(&ctx, &pool_id);
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userInfo"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "end_session_endpoint": format!("{iss}/logout"),
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["code", "token"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        // draft-parecki-oauth-client-id-metadata-document: URL client ids that a CIMD
        // policy of the pool admits.
        "client_id_metadata_document_supported": true,
        "scopes_supported": ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "ui_locales_supported": crate::ui::i18n::Lang::all().map(|l| l.code()).collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr",
            "email", "email_verified", "phone_number", "phone_number_verified", "name",
            "given_name", "family_name", "preferred_username", "cognito:username", "cognito:groups"],
    }))
    .into_response()
}

/// The hosted UI's logo (SetUICustomization's ImageFile), the address its ImageUrl
/// names. Public, as Cognito's CloudFront copy is.
pub async fn ui_logo(
    State(state): State<SharedState>,
    Path((pool_id, client)): Path<(String, String)>,
) -> Response {
    let ctx = ctx(state);
    match crate::api::pool_settings::ui_logo(&ctx, &pool_id, &client).await {
        Ok(Some((content_type, bytes))) => (
            [
                ("content-type", content_type),
                ("cache-control", "public, max-age=300"),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
