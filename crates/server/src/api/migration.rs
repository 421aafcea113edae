//! The UserMigration trigger: a user unknown to the pool signs in (USER_PASSWORD_AUTH,
//! ADMIN_USER_PASSWORD_AUTH) or asks for a password reset, and the pool's function
//! looks them up in the directory being migrated from. If it answers with attributes,
//! the user is created here, with the password just proven (`finalUserStatus`
//! CONFIRMED) or needing a reset (RESET_REQUIRED), and the request carries on as if
//! they had always been here. SRP sign-ins cannot migrate: the server never sees the
//! password, as with Cognito.

use super::Ctx;
use super::error::ApiResult;
use super::signup::{claim_aliases, insert_user, new_user};
use super::triggers::{self, bad_response};
use idpool_core::attributes::Writer;
use idpool_core::auth::password::PasswordRecord;
use idpool_core::triggers::{Trigger, string_map, text};
use idpool_store::{PoolRow, UserRow};
use idpool_wire::WireError;
use serde_json::{Value, json};

/// Runs UserMigration for `username`, which no user of the pool has. `password` is the
/// one the user typed (sign-in), None for ForgotPassword. Returns the created user, or
/// None when the pool has no migration function.
pub async fn migrate_user(
    ctx: &Ctx,
    pool: &PoolRow,
    client_id: &str,
    username: &str,
    password: Option<&str>,
) -> ApiResult<Option<UserRow>> {
    if !triggers::configured(pool, Trigger::UserMigration) {
        return Ok(None);
    }
    let source = if password.is_some() {
        "UserMigration_Authentication"
    } else {
        "UserMigration_ForgotPassword"
    };
    let mut request = serde_json::Map::new();
    if let Some(p) = password {
        request.insert("password".into(), json!(p));
    }
    request.insert(
        "validationData".into(),
        ctx.client_metadata.clone().unwrap_or(Value::Null),
    );
    let Some(fired) = triggers::fire(
        ctx,
        pool,
        Trigger::UserMigration,
        source,
        username,
        Some(client_id),
        request,
    )
    .await?
    else {
        return Ok(None);
    };
    let r = &fired.response;
    let attrs_map = string_map(r, "userAttributes").map_err(bad_response)?;
    if attrs_map.is_empty() {
        // The legacy directory does not know this user either.
        return Ok(None);
    }
    let status = match text(r, "finalUserStatus").map_err(bad_response)? {
        None | Some("CONFIRMED") => "CONFIRMED",
        Some("RESET_REQUIRED") => "RESET_REQUIRED",
        Some(other) => {
            return Err(bad_response(idpool_core::triggers::BadResponse(format!(
                "Invalid lambda response: finalUserStatus {other} is not CONFIRMED or RESET_REQUIRED"
            ))));
        }
    };
    let attrs: Vec<(String, String)> = attrs_map
        .iter()
        .filter(|(k, _)| k.as_str() != "sub" && k.as_str() != "username")
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let force_alias = match r.get("forceAliasCreation") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(bad_response(idpool_core::triggers::BadResponse(
                "Invalid lambda response: forceAliasCreation must be a boolean".into(),
            )));
        }
    };
    let mut user = new_user(ctx, pool, username, &attrs, Writer::Admin).await?;
    if r.get("enableSMSMFA") == Some(&Value::Bool(true)) {
        if user.attr("phone_number").is_none() {
            return Err(bad_response(idpool_core::triggers::BadResponse(
                "Invalid lambda response: enableSMSMFA needs a phone_number attribute".into(),
            )));
        }
        super::mfa::enable_sms_mfa(&mut user);
    }
    // Without a proven password (ForgotPassword) the user can only go on by resetting.
    user.status = match password {
        Some(_) => status.to_string(),
        None => "RESET_REQUIRED".into(),
    };
    if let Some(p) = password {
        user.password = Some(
            serde_json::to_value(PasswordRecord::new(
                &ctx.state.master,
                &pool.id,
                &user.username,
                p,
                ctx.now,
                false,
            ))
            .map_err(|e| {
                WireError::idp(
                    idpool_wire::IdpException::InternalErrorException,
                    e.to_string(),
                )
            })?,
        );
    }
    // Without forceAliasCreation a taken alias stops the migration; the operations
    // that migrate declare no AliasExistsException, so it surfaces as the trigger's
    // failure.
    claim_aliases(ctx, pool, &user, force_alias)
        .await
        .map_err(|e| match e.code {
            idpool_wire::ErrorCode::Idp(idpool_wire::IdpException::AliasExistsException) => {
                WireError::idp(
                    idpool_wire::IdpException::UserLambdaValidationException,
                    format!("UserMigration failed with error {}", e.message),
                )
            }
            _ => e,
        })?;
    insert_user(ctx, &user).await?;
    tracing::info!(pool = %pool.id, user = %user.username, "user migrated");
    Ok(Some(user))
}
