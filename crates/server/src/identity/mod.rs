//! cognito-identity over AWS JSON 1.1 (`X-Amz-Target: AWSCognitoIdentityService.<Op>`):
//! identity pools and the identities in them. Same edge rules as cognito-idp: the
//! operation catalogue, SigV4 (in production), model validation (here AWS's
//! `ValidationException`), then the handler named after the operation.
//!
//! Where is operation X? `fn <snake_case_of_X>` in `pools.rs` (pool management and
//! tags), `identities.rs` (identities and their logins), `developer.rs`
//! (developer-authenticated identities) or `credentials.rs` (roles, OpenID tokens,
//! credentials). `oidc.rs` checks logins from external OpenID Connect providers,
//! `social.rs` Facebook's, Amazon's and Twitter's access tokens through their APIs.

mod credentials;
mod developer;
mod identities;
pub mod oidc;
pub mod openid;
mod pools;
mod saml;
mod social;

use crate::api::error::ApiResult;
use crate::api::{Ctx, RawRequest, authorize, parse_body, run};
use crate::state::SharedState;
use idpool_wire::cognito_identity_operations::IDENTITY_TARGET_PREFIX;
use idpool_wire::{FrameworkError, IdentityException, IdentityOperation, WireError};
use serde_json::Value;

pub fn is_identity_target(target: &str) -> bool {
    target
        .strip_prefix(IDENTITY_TARGET_PREFIX)
        .is_some_and(|rest| rest.starts_with('.'))
}

pub fn not_found(what: impl Into<String>) -> WireError {
    WireError::identity(IdentityException::ResourceNotFoundException, what)
}

pub async fn handle(state: SharedState, req: RawRequest<'_>) -> Result<Value, WireError> {
    let target = req.target.unwrap_or_default();
    let Some(op) = target
        .strip_prefix(IDENTITY_TARGET_PREFIX)
        .and_then(|t| t.strip_prefix('.'))
        .and_then(IdentityOperation::from_name)
    else {
        return Err(WireError::framework(
            FrameworkError::UnknownOperationException,
            format!("Operation {target} is not a cognito-identity operation."),
        ));
    };
    let region = authorize(&state, op.auth(), &req)?;
    let input = parse_body(req.body)?;
    idpool_wire::validate::identity_model().validate(op.input_shape(), &input)?;
    let mut ctx = Ctx::for_state(state);
    ctx.region = region;
    ctx.operation = op.name();
    let result = dispatch(ctx, op, input).await;
    if let Err(e) = &result
        && let idpool_wire::ErrorCode::Identity(code) = e.code
    {
        debug_assert!(
            op.allowed_errors().contains(&code),
            "{} may not return {}",
            op.name(),
            code.name()
        );
    }
    result
}

async fn dispatch(ctx: Ctx, op: IdentityOperation, input: Value) -> ApiResult<Value> {
    use IdentityOperation as Op;
    match op {
        Op::CreateIdentityPool => run(ctx, input, pools::create_identity_pool).await,
        Op::DescribeIdentityPool => run(ctx, input, pools::describe_identity_pool).await,
        Op::UpdateIdentityPool => run(ctx, input, pools::update_identity_pool).await,
        Op::DeleteIdentityPool => run(ctx, input, pools::delete_identity_pool).await,
        Op::ListIdentityPools => run(ctx, input, pools::list_identity_pools).await,
        Op::GetId => run(ctx, input, identities::get_id).await,
        Op::DescribeIdentity => run(ctx, input, identities::describe_identity).await,
        Op::ListIdentities => run(ctx, input, identities::list_identities).await,
        Op::DeleteIdentities => run(ctx, input, identities::delete_identities).await,
        Op::SetIdentityPoolRoles => run(ctx, input, credentials::set_identity_pool_roles).await,
        Op::GetIdentityPoolRoles => run(ctx, input, credentials::get_identity_pool_roles).await,
        Op::SetPrincipalTagAttributeMap => {
            run(ctx, input, credentials::set_principal_tag_attribute_map).await
        }
        Op::GetPrincipalTagAttributeMap => {
            run(ctx, input, credentials::get_principal_tag_attribute_map).await
        }
        Op::GetOpenIdToken => run(ctx, input, credentials::get_open_id_token).await,
        Op::GetCredentialsForIdentity => {
            run(ctx, input, credentials::get_credentials_for_identity).await
        }
        Op::UnlinkIdentity => run(ctx, input, identities::unlink_identity).await,
        Op::GetOpenIdTokenForDeveloperIdentity => {
            run(
                ctx,
                input,
                developer::get_open_id_token_for_developer_identity,
            )
            .await
        }
        Op::LookupDeveloperIdentity => run(ctx, input, developer::lookup_developer_identity).await,
        Op::MergeDeveloperIdentities => {
            run(ctx, input, developer::merge_developer_identities).await
        }
        Op::UnlinkDeveloperIdentity => run(ctx, input, developer::unlink_developer_identity).await,
        Op::TagResource => run(ctx, input, pools::tag_resource).await,
        Op::UntagResource => run(ctx, input, pools::untag_resource).await,
        Op::ListTagsForResource => run(ctx, input, pools::list_tags_for_resource).await,
    }
}

/// `GET /cognito-identity/.well-known/jwks.json`: the keys of identity pools' OpenID
/// tokens.
pub async fn openid_jwks(
    axum::extract::State(state): axum::extract::State<SharedState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let ctx = Ctx::for_state(state);
    match crate::api::support::pool_keys(&ctx, openid::KEY_SET).await {
        Ok(keys) => (
            [("cache-control", "public, max-age=300")],
            axum::Json(
                serde_json::json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}),
            ),
        )
            .into_response(),
        Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// `GET /cognito-identity/.well-known/openid-configuration`, so an OIDC relying party
/// (AWS STS, for one) can find the keys of identity pools' tokens.
pub async fn openid_configuration(
    axum::extract::State(state): axum::extract::State<SharedState>,
) -> axum::Json<Value> {
    let ctx = Ctx::for_state(state);
    let issuer = openid::issuer(&ctx);
    axum::Json(serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "aud", "amr", "iss", "iat", "exp"],
    }))
}
