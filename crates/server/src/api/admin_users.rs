//! Admin user management: AdminCreateUser, AdminGetUser, AdminDeleteUser,
//! AdminConfirmSignUp, AdminSetUserPassword, AdminDisableUser, AdminEnableUser,
//! AdminUpdateUserAttributes, AdminDeleteUserAttributes, AdminResetUserPassword,
//! AdminUserGlobalSignOut, ListUsers.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::pools::{decode_token, encode_token};
use super::signup::{admin_confirm, insert_user, new_user};
use super::support::*;
use idpool_core::attributes::{self, Writer};
use idpool_core::auth::password::PasswordRecord;
use idpool_core::password_policy::PasswordPolicy;
use idpool_core::{filter, ids};
use idpool_store::{PoolRow, UserCursor, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};

/// Replaces the user's password. Under a `PasswordHistorySize` of N, the replaced
/// record joins the user's history (the N - 1 before the current one), kept like the
/// current password: an encrypted SRP verifier, never the password.
pub fn set_password(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &mut UserRow,
    password: &str,
    temporary: bool,
) {
    let keep = PasswordPolicy::from_pool_config(&pool.config)
        .password_history_size
        .saturating_sub(1);
    if let Some(old) = user.password.take()
        && keep > 0
    {
        let history = user
            .extra
            .entry("password_history")
            .or_insert_with(|| json!([]));
        if let Some(list) = history.as_array_mut() {
            list.insert(0, old);
            list.truncate(keep);
        }
    }
    let rec = PasswordRecord::new(
        &ctx.state.master,
        &pool.id,
        &user.username,
        password,
        ctx.now,
        temporary,
    );
    user.password = Some(serde_json::to_value(rec).expect("serializes"));
}

/// Refuses a password among the user's last `PasswordHistorySize` (the current one
/// included), as Cognito does for the passwords users choose. Admins setting a password
/// (AdminSetUserPassword) are not held to it.
pub fn check_password_history(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    password: &str,
) -> ApiResult<()> {
    let size = PasswordPolicy::from_pool_config(&pool.config).password_history_size;
    if size == 0 {
        return Ok(());
    }
    let history = user
        .extra
        .get("password_history")
        .and_then(|h| h.as_array());
    let records = user
        .password
        .iter()
        .chain(history.into_iter().flatten())
        .take(size)
        .filter_map(|v| serde_json::from_value::<PasswordRecord>(v.clone()).ok());
    for record in records {
        if record
            .matches(&ctx.state.master, &pool.id, password)
            .wire()?
        {
            return Err(WireError::idp(
                E::PasswordHistoryPolicyViolationException,
                "The password provided has been used previously.",
            ));
        }
    }
    Ok(())
}

pub async fn admin_create_user(
    ctx: Ctx,
    req: AdminCreateUserRequest,
) -> ApiResult<AdminCreateUserResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let policy = PasswordPolicy::from_pool_config(&pool.config);
    let action = req.message_action.as_deref();
    if action == Some("RESEND") {
        let mut user = require_user(&ctx, &pool, &req.username).await?;
        if user.status != "FORCE_CHANGE_PASSWORD" {
            return Err(WireError::idp(
                E::UnsupportedUserStateException,
                "User is not in FORCE_CHANGE_PASSWORD state.",
            ));
        }
        let temp = req
            .temporary_password
            .clone()
            .unwrap_or_else(|| ids::temporary_password(policy.minimum_length));
        set_password(&ctx, &pool, &mut user, &temp, true);
        user.updated_at = ctx.now;
        ctx.state.store.update_user(&user).await.wire()?;
        send_invitation(
            &ctx,
            &pool,
            &user,
            &temp,
            req.desired_delivery_mediums.as_deref(),
        )
        .await?;
        return Ok(AdminCreateUserResponse {
            user: Some(user_type(&user, None)),
        });
    }
    let attrs = attrs_from(req.user_attributes.as_deref().unwrap_or(&[]));
    let mut user = new_user(&ctx, &pool, &req.username, &attrs, Writer::Admin).await?;
    if find_user(&ctx, &pool, &user.username).await?.is_some() {
        return Err(WireError::idp(
            E::UsernameExistsException,
            "User account already exists",
        ));
    }
    let temp = match &req.temporary_password {
        Some(p) => {
            policy.check(p).wire()?;
            p.clone()
        }
        None => ids::temporary_password(policy.minimum_length),
    };
    set_password(&ctx, &pool, &mut user, &temp, true);
    user.status = "FORCE_CHANGE_PASSWORD".into();
    // Cognito creates the user even when no invitation can go out; only an explicit
    // EMAIL request without an email address is refused.
    let asks_email = req
        .desired_delivery_mediums
        .as_deref()
        .is_some_and(|m| m.iter().any(|m| m == "EMAIL"));
    if action != Some("SUPPRESS") && asks_email && user.attr("email").is_none() {
        return Err(WireError::invalid_parameter(
            "User has not set a value for email",
        ));
    }
    // Cognito runs PreSignUp for invited users too but ignores its auto-confirm and
    // auto-verify answers: an invited user always sets a password first.
    super::triggers::pre_sign_up(
        &ctx,
        &pool,
        &user,
        None,
        "PreSignUp_AdminCreateUser",
        req.validation_data.as_deref(),
    )
    .await?;
    super::signup::claim_aliases(&ctx, &pool, &user, req.force_alias_creation == Some(true))
        .await?;
    insert_user(&ctx, &user).await?;
    if action != Some("SUPPRESS") {
        send_invitation(
            &ctx,
            &pool,
            &user,
            &temp,
            req.desired_delivery_mediums.as_deref(),
        )
        .await?;
    }
    Ok(AdminCreateUserResponse {
        user: Some(user_type(&user, None)),
    })
}

async fn send_invitation(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    temp: &str,
    mediums: Option<&[String]>,
) -> ApiResult<()> {
    let template = &pool.config["AdminCreateUserConfig"]["InviteMessageTemplate"];
    let mediums: Vec<String> = mediums
        .map(|m| m.to_vec())
        .unwrap_or_else(|| vec!["SMS".into()]);
    for medium in mediums {
        let (channel, destination, tpl_key) = if medium == "EMAIL" {
            ("EMAIL", user.attr("email"), "EmailMessage")
        } else {
            ("SMS", user.attr("phone_number"), "SMSMessage")
        };
        // Cognito falls back to email when SMS was asked for but there is no phone.
        let (channel, destination, tpl_key) = match destination {
            Some(d) => (channel, d.to_string(), tpl_key),
            None => match user.attr("email") {
                Some(e) => ("EMAIL", e.to_string(), "EmailMessage"),
                None => continue,
            },
        };
        if super::triggers::custom_sender(
            ctx,
            pool,
            user,
            channel,
            "CustomMessage_AdminCreateUser",
            temp,
        )
        .await?
        {
            continue;
        }
        let body = template[tpl_key]
            .as_str()
            .unwrap_or("Your username is {username} and temporary password is {####}. ");
        let subject = template["EmailSubject"]
            .as_str()
            .unwrap_or("Your temporary password")
            .to_string();
        let custom = super::triggers::custom_message(
            ctx,
            pool,
            user,
            "CustomMessage_AdminCreateUser",
            channel,
            true,
            super::triggers::MessageTemplate {
                subject,
                message: body.to_string(),
            },
        )
        .await?;
        let subject = custom.subject;
        let message = custom
            .message
            .replace("{username}", &user.username)
            .replace("{####}", temp);
        deliver(
            ctx,
            pool,
            user,
            channel,
            &destination,
            Some(subject),
            message,
            Some(temp.to_string()),
        )
        .await?;
    }
    Ok(())
}

pub async fn admin_get_user(ctx: Ctx, req: AdminGetUserRequest) -> ApiResult<AdminGetUserResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    let (mfa_options, preferred_mfa_setting, user_mfa_setting_list) =
        super::mfa::user_mfa_fields(&user);
    Ok(AdminGetUserResponse {
        username: user.username.clone(),
        user_attributes: Some(attribute_list(&user)),
        user_create_date: Some(user.created_at as f64 / 1000.0),
        user_last_modified_date: Some(user.updated_at as f64 / 1000.0),
        enabled: Some(user.enabled),
        user_status: Some(user.status.clone()),
        mfa_options,
        preferred_mfa_setting,
        user_mfa_setting_list,
    })
}

pub async fn admin_delete_user(ctx: Ctx, req: AdminDeleteUserRequest) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
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

pub async fn admin_confirm_sign_up(
    ctx: Ctx,
    req: AdminConfirmSignUpRequest,
) -> ApiResult<AdminConfirmSignUpResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut user = require_user(&ctx, &pool, &req.username).await?;
    if user.status != "UNCONFIRMED" {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            format!(
                "User cannot be confirmed. Current status is {}",
                user.status
            ),
        ));
    }
    admin_confirm(&pool, &mut user, ctx.now);
    ctx.state.store.update_user(&user).await.wire()?;
    super::signup::confirmed_or_rolled_back(&ctx, &pool, &user, None).await?;
    Ok(AdminConfirmSignUpResponse {})
}

pub async fn admin_set_user_password(
    ctx: Ctx,
    req: AdminSetUserPasswordRequest,
) -> ApiResult<AdminSetUserPasswordResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut user = require_user(&ctx, &pool, &req.username).await?;
    PasswordPolicy::from_pool_config(&pool.config)
        .check(&req.password)
        .wire()?;
    let permanent = req.permanent == Some(true);
    set_password(&ctx, &pool, &mut user, &req.password, !permanent);
    user.status = if permanent {
        "CONFIRMED".into()
    } else {
        "FORCE_CHANGE_PASSWORD".into()
    };
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    Ok(AdminSetUserPasswordResponse {})
}

async fn set_enabled(ctx: &Ctx, pool_id: &str, username: &str, enabled: bool) -> ApiResult<()> {
    let pool = load_pool(ctx, pool_id).await?;
    let mut user = require_user(ctx, &pool, username).await?;
    user.enabled = enabled;
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()
}

pub async fn admin_disable_user(
    ctx: Ctx,
    req: AdminDisableUserRequest,
) -> ApiResult<AdminDisableUserResponse> {
    set_enabled(&ctx, &req.user_pool_id, &req.username, false).await?;
    Ok(AdminDisableUserResponse {})
}

pub async fn admin_enable_user(
    ctx: Ctx,
    req: AdminEnableUserRequest,
) -> ApiResult<AdminEnableUserResponse> {
    set_enabled(&ctx, &req.user_pool_id, &req.username, true).await?;
    Ok(AdminEnableUserResponse {})
}

/// Writes attributes for an admin or the user and returns the contact attributes
/// (`email`, `phone_number`) that now wait for verification. Changing one clears its
/// `_verified` flag unless the writer sets it too; if the pool lists it in
/// `AttributesRequireVerificationBeforeUpdate` and the old value was verified, the old
/// value stays in force and the new one waits in `extra.pending_attributes` until
/// VerifyUserAttribute, so a typo cannot lock the user out of their sign-in address.
pub async fn write_attributes(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &mut UserRow,
    attrs: &[(String, String)],
    writer: Writer,
) -> ApiResult<Vec<&'static str>> {
    let schema: Vec<Value> = pool.config["SchemaAttributes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    attributes::check_writes(&schema, attrs, writer, false).wire()?;
    let verify_first = str_list(
        &pool.config["UserAttributeUpdateSettings"]["AttributesRequireVerificationBeforeUpdate"],
    );
    let mut unverified = Vec::new();
    for (name, value) in attrs {
        let value = attributes::normalize(name, value);
        let contact = match name.as_str() {
            "email" => Some("email"),
            "phone_number" => Some("phone_number"),
            _ => None,
        };
        if let Some(contact) = contact
            && user.attr(contact) != Some(value.as_str())
        {
            super::signup::check_username_attribute_free(
                ctx,
                pool,
                contact,
                &value,
                Some(&user.username_key),
                E::AliasExistsException,
            )
            .await?;
            let flag = format!("{contact}_verified");
            let marked_verified = attrs.iter().any(|(n, v)| *n == flag && v == "true");
            if !marked_verified {
                unverified.push(contact);
                if verify_first.iter().any(|a| a == contact) && user.attr(&flag) == Some("true") {
                    user.extra
                        .entry("pending_attributes")
                        .or_insert_with(|| json!({}))[contact] = json!(value);
                    continue;
                }
                if !attrs.iter().any(|(n, _)| *n == flag) {
                    user.attributes.insert(flag, json!("false"));
                }
            }
        }
        if let Some(pending) = user
            .extra
            .get_mut("pending_attributes")
            .and_then(|p| p.as_object_mut())
        {
            pending.remove(name);
        }
        user.attributes.insert(name.clone(), json!(value));
    }
    user.updated_at = ctx.now;
    ctx.state.store.update_user(user).await.wire()?;
    Ok(unverified)
}

/// The value a contact attribute is being verified for: a pending new value if there
/// is one, else the current one.
pub fn value_to_verify<'u>(user: &'u UserRow, attr: &str) -> Option<&'u str> {
    user.extra
        .get("pending_attributes")
        .and_then(|p| p[attr].as_str())
        .or_else(|| user.attr(attr))
        .filter(|v| !v.is_empty())
}

/// Sends a verification code for each contact attribute that the pool verifies
/// automatically, to the value being verified.
pub async fn send_verification_codes(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    attrs: &[&'static str],
) -> ApiResult<Vec<CodeDeliveryDetailsType>> {
    let auto = auto_verified_attributes(pool);
    let mut sent = Vec::new();
    for attr in attrs.iter().filter(|a| auto.iter().any(|x| x == *a)) {
        if let Some(details) = send_attribute_code(ctx, pool, user, attr).await? {
            sent.push(details);
        }
    }
    Ok(sent)
}

/// One verification code for `attr` (email or phone_number) of `user`.
pub async fn send_attribute_code(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    attr: &'static str,
) -> ApiResult<Option<CodeDeliveryDetailsType>> {
    let Some(value) = value_to_verify(user, attr) else {
        return Ok(None);
    };
    // Deliver to the value being verified, which may not be in force yet, and only
    // through its own channel.
    let mut target = user.clone();
    target
        .attributes
        .retain(|k, _| k != "email" && k != "phone_number");
    target.attributes.insert(attr.into(), json!(value));
    send_code_via(
        ctx,
        pool,
        &target,
        CodePurpose::VerifyAttribute(attr),
        Some(attr),
    )
    .await
}

pub async fn admin_update_user_attributes(
    ctx: Ctx,
    req: AdminUpdateUserAttributesRequest,
) -> ApiResult<AdminUpdateUserAttributesResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut user = require_user(&ctx, &pool, &req.username).await?;
    let unverified = write_attributes(
        &ctx,
        &pool,
        &mut user,
        &attrs_from(&req.user_attributes),
        Writer::Admin,
    )
    .await?;
    send_verification_codes(&ctx, &pool, &user, &unverified).await?;
    Ok(AdminUpdateUserAttributesResponse {})
}

pub fn remove_attributes(pool: &PoolRow, user: &mut UserRow, names: &[String]) -> ApiResult<()> {
    let schema: Vec<Value> = pool.config["SchemaAttributes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let unknown: String = names
        .iter()
        .filter(|name| !schema.iter().any(|e| e["Name"] == name.as_str()))
        .map(|name| format!("user.{name}: Attribute does not exist in the schema.\n"))
        .collect();
    if !unknown.is_empty() {
        // Cognito's message: every unknown name, each line ending in a newline.
        return Err(WireError::invalid_parameter(format!(
            "Invalid user attributes: {unknown}"
        )));
    }
    for name in names {
        let entry = schema.iter().find(|e| e["Name"] == name.as_str());
        match entry {
            Some(e) if e["Required"] == true => {
                return Err(WireError::invalid_parameter(format!(
                    "Cannot delete the required attribute {name}"
                )));
            }
            Some(e) if e["Mutable"] == false => {
                return Err(WireError::invalid_parameter(format!(
                    "Cannot modify the non-mutable attribute {name}"
                )));
            }
            _ => {
                user.attributes.remove(name);
            }
        }
    }
    Ok(())
}

pub async fn admin_delete_user_attributes(
    ctx: Ctx,
    req: AdminDeleteUserAttributesRequest,
) -> ApiResult<AdminDeleteUserAttributesResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut user = require_user(&ctx, &pool, &req.username).await?;
    remove_attributes(&pool, &mut user, &req.user_attribute_names)?;
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    Ok(AdminDeleteUserAttributesResponse {})
}

/// Sends a reset code and forces the user through ConfirmForgotPassword at next
/// sign-in (`RESET_REQUIRED`), as Cognito's AdminResetUserPassword.
pub async fn admin_reset_user_password(
    ctx: Ctx,
    req: AdminResetUserPasswordRequest,
) -> ApiResult<AdminResetUserPasswordResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut user = require_user(&ctx, &pool, &req.username).await?;
    // Cognito's own wording here, without the final period of the sign-in message.
    if !user.enabled {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "User is disabled",
        ));
    }
    // Only a user with a password of their own can be sent to reset it: an unconfirmed
    // or invited user (FORCE_CHANGE_PASSWORD) still has to finish signing up, and a
    // federated user has no password here.
    if !matches!(user.status.as_str(), "CONFIRMED" | "RESET_REQUIRED") {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "User password cannot be reset in the current state.",
        ));
    }
    if delivery_target(&user, None).is_none() {
        return Err(WireError::invalid_parameter(
            "Cannot reset password for the user as there is no registered/verified email or phone_number",
        ));
    }
    send_code(&ctx, &pool, &user, CodePurpose::ForgotPassword).await?;
    if user.status == "CONFIRMED" {
        user.status = "RESET_REQUIRED".into();
    }
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    Ok(AdminResetUserPasswordResponse {})
}

pub async fn sign_out_everywhere(ctx: &Ctx, pool: &PoolRow, user: &mut UserRow) -> ApiResult<()> {
    ctx.state
        .store
        .revoke_user_refresh_tokens(&pool.id, &user.username_key, ctx.now)
        .await
        .wire()?;
    // Revoking the refresh tokens revokes every session's access tokens through
    // `origin_jti`; this cutoff also catches any token issued in an earlier second.
    user.tokens_valid_after = ctx.now;
    ctx.state.store.update_user(user).await.wire()
}

pub async fn admin_user_global_sign_out(
    ctx: Ctx,
    req: AdminUserGlobalSignOutRequest,
) -> ApiResult<AdminUserGlobalSignOutResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut user = require_user(&ctx, &pool, &req.username).await?;
    sign_out_everywhere(&ctx, &pool, &mut user).await?;
    Ok(AdminUserGlobalSignOutResponse {})
}

pub async fn list_users(ctx: Ctx, req: ListUsersRequest) -> ApiResult<ListUsersResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let f = filter::parse(req.filter.as_deref().unwrap_or(""), !case_sensitive(&pool)).wire()?;
    let limit = req.limit.unwrap_or(60) as u32;
    // The token carries the cursor as `[value, username_key]` (see UserCursor).
    let after = req
        .pagination_token
        .as_deref()
        .map(decode_token)
        .transpose()?
        .map(|t| {
            serde_json::from_str::<(String, String)>(&t)
                .map(|(value, username_key)| UserCursor {
                    value,
                    username_key,
                })
                .map_err(|_| WireError::invalid_parameter("Invalid pagination token."))
        })
        .transpose()?;
    let mut rows = ctx
        .state
        .store
        .list_users(&pool.id, f.as_ref(), after.as_ref(), limit + 1)
        .await
        .wire()?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|u| {
            let c = UserCursor::after(u, f.as_ref());
            encode_token(&json!([c.value, c.username_key]).to_string())
        })
    } else {
        None
    };
    let only = req.attributes_to_get.as_deref();
    Ok(ListUsersResponse {
        users: Some(rows.iter().map(|u| user_type(u, only)).collect()),
        pagination_token: next,
    })
}
