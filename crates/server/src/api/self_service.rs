//! What users do with their own access token or a client id: GetUser, DeleteUser,
//! UpdateUserAttributes, DeleteUserAttributes, GetUserAttributeVerificationCode,
//! VerifyUserAttribute, ChangePassword, ForgotPassword, ConfirmForgotPassword.

use super::Ctx;
use super::admin_users::{
    check_password_history, remove_attributes, send_attribute_code, send_verification_codes,
    set_password, value_to_verify, write_attributes,
};
use super::error::{ApiResult, OrWire};
use super::support::*;
use idpool_core::attributes::Writer;
use idpool_core::auth::password::PasswordRecord;
use idpool_core::password_policy::PasswordPolicy;
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};

pub async fn get_user(ctx: Ctx, req: GetUserRequest) -> ApiResult<GetUserResponse> {
    let (_, user, _) = session_from_access_token(&ctx, &req.access_token).await?;
    let (mfa_options, preferred_mfa_setting, user_mfa_setting_list) =
        super::mfa::user_mfa_fields(&user);
    Ok(GetUserResponse {
        username: user.username.clone(),
        user_attributes: attribute_list(&user)
            .into_iter()
            .filter(|a| !a.name.starts_with("dev:"))
            .collect(),
        mfa_options,
        preferred_mfa_setting,
        user_mfa_setting_list,
    })
}

pub async fn delete_user(ctx: Ctx, req: DeleteUserRequest) -> ApiResult<()> {
    let (pool, user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    ctx.state
        .store
        .revoke_user_refresh_tokens(&pool.id, &user.username_key, ctx.now)
        .await
        .wire()?;
    ctx.state
        .store
        .delete_user(&pool.id, &user.username_key)
        .await
        .wire()?;
    Ok(())
}

pub async fn update_user_attributes(
    ctx: Ctx,
    req: UpdateUserAttributesRequest,
) -> ApiResult<UpdateUserAttributesResponse> {
    let (pool, mut user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    let attrs = attrs_from(&req.user_attributes);
    if attrs.iter().any(|(n, _)| n.ends_with("_verified")) {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "A client attempted to write unauthorized attribute",
        ));
    }
    let unverified = write_attributes(&ctx, &pool, &mut user, &attrs, Writer::User).await?;
    Ok(UpdateUserAttributesResponse {
        code_delivery_details_list: Some(
            send_verification_codes(&ctx, &pool, &user, &unverified).await?,
        ),
    })
}

fn contact_attribute(name: &str) -> ApiResult<&'static str> {
    match name {
        "email" => Ok("email"),
        "phone_number" => Ok("phone_number"),
        other => Err(WireError::invalid_parameter(format!(
            "Only email and phone_number can be verified, not {other}."
        ))),
    }
}

pub async fn get_user_attribute_verification_code(
    ctx: Ctx,
    req: GetUserAttributeVerificationCodeRequest,
) -> ApiResult<GetUserAttributeVerificationCodeResponse> {
    let (pool, user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    let attr = contact_attribute(&req.attribute_name)?;
    if value_to_verify(&user, attr).is_none() {
        return Err(WireError::invalid_parameter(format!(
            "The user has no {attr} to verify."
        )));
    }
    Ok(GetUserAttributeVerificationCodeResponse {
        code_delivery_details: send_attribute_code(&ctx, &pool, &user, attr).await?,
    })
}

/// Marks the attribute verified; a value waiting for verification
/// (`AttributesRequireVerificationBeforeUpdate`) takes effect now.
pub async fn verify_user_attribute(
    ctx: Ctx,
    req: VerifyUserAttributeRequest,
) -> ApiResult<VerifyUserAttributeResponse> {
    let (pool, mut user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    let attr = contact_attribute(&req.attribute_name)?;
    consume_code(
        &ctx,
        &pool,
        &user,
        CodePurpose::VerifyAttribute(attr),
        &req.code,
    )
    .await?;
    let pending = user
        .extra
        .get_mut("pending_attributes")
        .and_then(|p| p.as_object_mut())
        .and_then(|p| p.remove(attr));
    if let Some(value) = pending {
        user.attributes.insert(attr.into(), value);
    }
    user.attributes
        .insert(format!("{attr}_verified"), serde_json::json!("true"));
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    Ok(VerifyUserAttributeResponse {})
}

pub async fn delete_user_attributes(
    ctx: Ctx,
    req: DeleteUserAttributesRequest,
) -> ApiResult<DeleteUserAttributesResponse> {
    let (pool, mut user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    remove_attributes(&pool, &mut user, &req.user_attribute_names)?;
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    Ok(DeleteUserAttributesResponse {})
}

pub async fn change_password(
    ctx: Ctx,
    req: ChangePasswordRequest,
) -> ApiResult<ChangePasswordResponse> {
    let (pool, mut user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    let record: Option<PasswordRecord> = user
        .password
        .clone()
        .and_then(|p| serde_json::from_value(p).ok());
    let previous = req.previous_password.as_deref().unwrap_or_default();
    let ok = match &record {
        Some(r) => r.matches(&ctx.state.master, &pool.id, previous).wire()?,
        None => false,
    };
    if !ok {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Incorrect username or password.",
        ));
    }
    PasswordPolicy::from_pool_config(&pool.config)
        .check(&req.proposed_password)
        .wire()?;
    super::threat_protection::check_new_password(
        &ctx,
        &pool,
        None,
        "PASSWORD_CHANGE",
        &req.proposed_password,
    )
    .await?;
    check_password_history(&ctx, &pool, &user, &req.proposed_password)?;
    set_password(&ctx, &pool, &mut user, &req.proposed_password, false);
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    super::auth_events::record_event(&ctx, &pool, &user, "PasswordChange", true, &[]).await?;
    Ok(ChangePasswordResponse {})
}

pub async fn forgot_password(
    ctx: Ctx,
    req: ForgotPasswordRequest,
) -> ApiResult<ForgotPasswordResponse> {
    // Cognito's wording for an unknown client here.
    let (client, pool) = load_client(&ctx, &req.client_id).await.map_err(|e| {
        if e.code.name() == "ResourceNotFoundException" {
            not_found("Username/client id combination not found.")
        } else {
            e
        }
    })?;
    check_secret_hash(&ctx, &client, &req.username, req.secret_hash.as_deref())?;
    let mechanisms = pool.config["AccountRecoverySetting"]["RecoveryMechanisms"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !mechanisms.is_empty() && mechanisms.iter().all(|m| m["Name"] == "admin_only") {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Contact administrator to reset password.",
        ));
    }
    let found = match find_user(&ctx, &pool, &req.username).await? {
        Some(user) => Some(user),
        None => {
            super::migration::migrate_user(&ctx, &pool, &client.client_id, &req.username, None)
                .await?
        }
    };
    let Some(user) = found else {
        if client.config["PreventUserExistenceErrors"] == "ENABLED" {
            // Answer as if a code went out, so the response does not reveal who exists.
            return Ok(ForgotPasswordResponse {
                code_delivery_details: Some(CodeDeliveryDetailsType {
                    destination: Some(mask("EMAIL", &format!("{}@example.com", req.username))),
                    delivery_medium: Some("EMAIL".into()),
                    attribute_name: Some("email".into()),
                }),
            });
        }
        return Err(user_not_found());
    };
    if !user.enabled {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "User is disabled.",
        ));
    }
    if delivery_target(&user, None).is_none() {
        return Err(WireError::invalid_parameter(
            "Cannot reset password for the user as there is no registered/verified email or phone_number",
        ));
    }
    let details = send_code(&ctx, &pool, &user, CodePurpose::ForgotPassword).await?;
    super::auth_events::record_event(&ctx, &pool, &user, "ForgotPassword", true, &[]).await?;
    Ok(ForgotPasswordResponse {
        code_delivery_details: details,
    })
}

pub async fn confirm_forgot_password(
    ctx: Ctx,
    req: ConfirmForgotPasswordRequest,
) -> ApiResult<ConfirmForgotPasswordResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    check_secret_hash(&ctx, &client, &req.username, req.secret_hash.as_deref())?;
    let mut user = require_user(&ctx, &pool, &req.username).await?;
    PasswordPolicy::from_pool_config(&pool.config)
        .check(&req.password)
        .wire()?;
    super::threat_protection::check_new_password(
        &ctx,
        &pool,
        Some(&client.client_id),
        "PASSWORD_CHANGE",
        &req.password,
    )
    .await?;
    consume_code(
        &ctx,
        &pool,
        &user,
        CodePurpose::ForgotPassword,
        &req.confirmation_code,
    )
    .await?;
    // Only after the code: before it, anyone knowing a username could ask which
    // passwords the user had, with no lockout in the way.
    check_password_history(&ctx, &pool, &user, &req.password)?;
    set_password(&ctx, &pool, &mut user, &req.password, false);
    if user.status == "RESET_REQUIRED" || user.status == "FORCE_CHANGE_PASSWORD" {
        user.status = "CONFIRMED".into();
    }
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    // The new password stands even if the handler fails: the code is spent and the
    // user proved it, so undoing the change would only lock them out.
    super::triggers::post_confirmation(
        &ctx,
        &pool,
        &user,
        Some(&client.client_id),
        "PostConfirmation_ConfirmForgotPassword",
    )
    .await?;
    Ok(ConfirmForgotPasswordResponse {})
}
