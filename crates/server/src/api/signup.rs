//! Self-service sign-up: SignUp, ConfirmSignUp, ResendConfirmationCode.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::*;
use super::triggers;
use idpool_core::attributes::{self, Writer};
use idpool_core::auth::password::PasswordRecord;
use idpool_core::ids;
use idpool_core::password_policy::PasswordPolicy;
use idpool_store::{IndexedAttr, PoolRow, StoreError, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Map, Value, json};

/// Builds a new user from a username and attributes, with Cognito's rules for pools
/// that sign in with email/phone (`UsernameAttributes`): the username becomes a UUID
/// and the email or phone becomes an attribute.
pub async fn new_user(
    ctx: &Ctx,
    pool: &PoolRow,
    username: &str,
    attrs: &[(String, String)],
    writer: Writer,
) -> ApiResult<UserRow> {
    let schema: Vec<Value> = pool.config["SchemaAttributes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    attributes::check_writes(&schema, attrs, writer, true).wire()?;
    let mut map = Map::new();
    for (k, v) in attrs {
        map.insert(k.clone(), json!(attributes::normalize(k, v)));
    }
    let sub = ids::uuid();
    let username_attrs = username_attributes(pool);
    let stored_username = if username_attrs.is_empty() {
        username.to_string()
    } else {
        let attr = if attributes::looks_like_email(username)
            && username_attrs.iter().any(|a| a == "email")
        {
            "email"
        } else if attributes::looks_like_phone(username)
            && username_attrs.iter().any(|a| a == "phone_number")
        {
            "phone_number"
        } else {
            return Err(WireError::invalid_parameter(
                "Username should be either an email or a phone number.",
            ));
        };
        map.insert(attr.into(), json!(username));
        sub.clone()
    };
    attributes::check_required(&schema, &map).wire()?;
    for attr in ["email", "phone_number"] {
        if let Some(value) = map.get(attr).and_then(|v| v.as_str()) {
            check_username_attribute_free(ctx, pool, attr, value, None, E::UsernameExistsException)
                .await?;
        }
    }
    Ok(UserRow {
        pool_id: pool.id.clone(),
        username_key: username_key(pool, &stored_username),
        username: stored_username,
        sub,
        status: "UNCONFIRMED".into(),
        enabled: true,
        attributes: map,
        password: None,
        extra: Map::new(),
        tokens_valid_after: 0,
        created_at: ctx.now,
        updated_at: ctx.now,
    })
}

/// In a pool whose users sign in with their email or phone number (UsernameAttributes),
/// that value must belong to one user only, or sign-in by it would be ambiguous. Another
/// user (not `owner`, a username key) holding `value` is refused with `conflict`:
/// UsernameExistsException at sign-up, AliasExistsException when an attribute changes.
pub async fn check_username_attribute_free(
    ctx: &Ctx,
    pool: &PoolRow,
    attr: &str,
    value: &str,
    owner: Option<&str>,
    conflict: E,
) -> ApiResult<()> {
    let indexed = match attr {
        "email" => IndexedAttr::Email,
        "phone_number" => IndexedAttr::PhoneNumber,
        _ => return Ok(()),
    };
    if !username_attributes(pool).iter().any(|a| a == attr) {
        return Ok(());
    }
    let holders = ctx
        .state
        .store
        .find_users_by(&pool.id, indexed, value)
        .await
        .wire()?;
    if holders
        .iter()
        .any(|u| Some(u.username_key.as_str()) != owner)
    {
        return Err(WireError::idp(
            conflict,
            format!("An account with the given {attr} already exists."),
        ));
    }
    Ok(())
}

pub async fn insert_user(ctx: &Ctx, user: &UserRow) -> ApiResult<()> {
    match ctx.state.store.create_user(user).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(WireError::idp(
            E::UsernameExistsException,
            "User already exists",
        )),
        Err(e) => Err(e).wire(),
    }
}

pub async fn sign_up(ctx: Ctx, req: SignUpRequest) -> ApiResult<SignUpResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    check_secret_hash(&ctx, &client, &req.username, req.secret_hash.as_deref())?;
    if pool.config["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] == true {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "SignUp is not permitted for this user pool",
        ));
    }
    let password = req.password.clone().unwrap_or_default();
    if password.is_empty() {
        return Err(WireError::invalid_parameter(
            "A password is required: this pool has no passwordless sign-in.",
        ));
    }
    PasswordPolicy::from_pool_config(&pool.config)
        .check(&password)
        .wire()?;
    super::threat_protection::check_new_password(
        &ctx,
        &pool,
        Some(&req.client_id),
        "SIGN_UP",
        &password,
    )
    .await?;
    let attrs = attrs_from(req.user_attributes.as_deref().unwrap_or(&[]));
    let mut user = new_user(&ctx, &pool, &req.username, &attrs, Writer::User).await?;
    if find_user(&ctx, &pool, &user.username).await?.is_some() {
        return Err(WireError::idp(
            E::UsernameExistsException,
            "User already exists",
        ));
    }
    user.password = Some(
        serde_json::to_value(PasswordRecord::new(
            &ctx.state.master,
            &pool.id,
            &user.username,
            &password,
            ctx.now,
            false,
        ))
        .expect("serializes"),
    );
    let answer = triggers::pre_sign_up(
        &ctx,
        &pool,
        &user,
        Some(&client.client_id),
        "PreSignUp_SignUp",
        req.validation_data.as_deref(),
    )
    .await?;
    if answer.auto_confirm {
        user.status = "CONFIRMED".into();
    }
    if answer.verify_email {
        user.attributes
            .insert("email_verified".into(), json!("true"));
    }
    if answer.verify_phone {
        user.attributes
            .insert("phone_number_verified".into(), json!("true"));
    }
    insert_user(&ctx, &user).await?;
    if answer.auto_confirm {
        // An auto-confirmed user reaches PostConfirmation at sign-up. If it fails the
        // sign-up fails, and leaves no user behind that the app never saw confirmed.
        if let Err(e) = triggers::post_confirmation(
            &ctx,
            &pool,
            &user,
            Some(&client.client_id),
            "PostConfirmation_ConfirmSignUp",
        )
        .await
        {
            ctx.state
                .store
                .delete_user(&pool.id, &user.username_key)
                .await
                .wire()?;
            return Err(e);
        }
    }
    super::auth_events::record_event(&ctx, &pool, &user, "SignUp", true, &[]).await?;
    let details = if answer.auto_confirm || auto_verified_attributes(&pool).is_empty() {
        None
    } else {
        send_sign_up_code(&ctx, &pool, &user).await?
    };
    Ok(SignUpResponse {
        user_confirmed: answer.auto_confirm,
        code_delivery_details: details,
        user_sub: user.sub,
        session: None,
    })
}

/// The attribute a sign-up code goes to, and which confirming it proves: one the pool
/// verifies automatically, the phone number when both are ("If both email and phone
/// are set, Cognito only verifies the phone number"), else the email.
fn sign_up_code_attribute(pool: &PoolRow, user: &UserRow) -> Option<&'static str> {
    let auto = auto_verified_attributes(pool);
    ["phone_number", "email"]
        .into_iter()
        .find(|a| auto.iter().any(|x| x == a) && user.attr(a).is_some())
}

async fn send_sign_up_code(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
) -> ApiResult<Option<CodeDeliveryDetailsType>> {
    let prefer = sign_up_code_attribute(pool, user);
    send_code_via(ctx, pool, user, CodePurpose::SignUp, prefer).await
}

/// Marks verified the attribute a sign-up code was sent to, on confirmation.
fn mark_code_attribute_verified(pool: &PoolRow, user: &mut UserRow) {
    if let Some(attr) = sign_up_code_attribute(pool, user) {
        user.attributes
            .insert(format!("{attr}_verified"), json!("true"));
    }
}

/// Marks the attributes a confirmation code proves, as Cognito does on confirmation.
/// In a pool with sign-in aliases (`AliasAttributes`), a verified email or phone
/// number signs in one user only. Before `user` holds one verified, another user
/// holding the same verified value either loses it as an alias (`force`: Cognito's
/// ForceAliasCreation, which marks it unverified there) or the request fails with
/// AliasExistsException.
pub async fn claim_aliases(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    force: bool,
) -> ApiResult<()> {
    let aliases = alias_attributes(pool);
    for (attr, indexed) in [
        ("email", IndexedAttr::Email),
        ("phone_number", IndexedAttr::PhoneNumber),
    ] {
        let flag = format!("{attr}_verified");
        let Some(value) = user.attr(attr) else {
            continue;
        };
        if !aliases.iter().any(|a| a == attr) || user.attr(&flag) != Some("true") {
            continue;
        }
        let holders = ctx
            .state
            .store
            .find_users_by(&pool.id, indexed, value)
            .await
            .wire()?;
        for mut other in holders {
            if other.username_key == user.username_key || other.attr(&flag) != Some("true") {
                continue;
            }
            if !force {
                return Err(WireError::idp(
                    E::AliasExistsException,
                    format!("An account with the given {attr} already exists."),
                ));
            }
            other.attributes.insert(flag.clone(), json!("false"));
            other.updated_at = ctx.now;
            ctx.state.store.update_user(&other).await.wire()?;
        }
    }
    Ok(())
}

fn mark_verified(pool: &PoolRow, user: &mut UserRow) {
    for attr in auto_verified_attributes(pool) {
        if user.attr(&attr).is_some() {
            user.attributes
                .insert(format!("{attr}_verified"), json!("true"));
        }
    }
}

pub async fn confirm_sign_up(
    ctx: Ctx,
    req: ConfirmSignUpRequest,
) -> ApiResult<ConfirmSignUpResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    check_secret_hash(&ctx, &client, &req.username, req.secret_hash.as_deref())?;
    let mut user = require_user(&ctx, &pool, &req.username).await?;
    if user.status == "CONFIRMED" {
        if req.force_alias_creation != Some(true) {
            return Err(WireError::idp(
                E::NotAuthorizedException,
                "User cannot be confirmed. Current status is CONFIRMED",
            ));
        }
        return Ok(ConfirmSignUpResponse { session: None });
    }
    let force_alias = req.force_alias_creation == Some(true);
    if !force_alias {
        // Refused before the code is spent, so the user can retry with ForceAliasCreation.
        let mut confirmed = user.clone();
        mark_code_attribute_verified(&pool, &mut confirmed);
        claim_aliases(&ctx, &pool, &confirmed, false).await?;
    }
    consume_code(
        &ctx,
        &pool,
        &user,
        CodePurpose::SignUp,
        &req.confirmation_code,
    )
    .await?;
    user.status = "CONFIRMED".into();
    mark_code_attribute_verified(&pool, &mut user);
    if force_alias {
        claim_aliases(&ctx, &pool, &user, true).await?;
    }
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    confirmed_or_rolled_back(&ctx, &pool, &user, Some(&client.client_id)).await?;
    Ok(ConfirmSignUpResponse { session: None })
}

pub async fn resend_confirmation_code(
    ctx: Ctx,
    req: ResendConfirmationCodeRequest,
) -> ApiResult<ResendConfirmationCodeResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    check_secret_hash(&ctx, &client, &req.username, req.secret_hash.as_deref())?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    if user.status == "CONFIRMED" {
        return Err(WireError::invalid_parameter("User is already confirmed."));
    }
    let details = send_sign_up_code(&ctx, &pool, &user).await?;
    Ok(ResendConfirmationCodeResponse {
        code_delivery_details: details,
    })
}

/// Runs PostConfirmation for a user just confirmed. If it fails, the confirmation is
/// undone (the user is UNCONFIRMED again and asks for a new code), so the app's
/// PostConfirmation work, such as creating its profile row, is never skipped.
pub async fn confirmed_or_rolled_back(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    client_id: Option<&str>,
) -> ApiResult<()> {
    let Err(e) =
        triggers::post_confirmation(ctx, pool, user, client_id, "PostConfirmation_ConfirmSignUp")
            .await
    else {
        return Ok(());
    };
    // Re-read: the handler may have changed the user (groups, attributes) meanwhile.
    if let Some(mut current) = ctx
        .state
        .store
        .get_user(&pool.id, &user.username_key)
        .await
        .wire()?
    {
        current.status = "UNCONFIRMED".into();
        current.updated_at = ctx.now;
        ctx.state.store.update_user(&current).await.wire()?;
    }
    Err(e)
}

pub fn admin_confirm(pool: &PoolRow, user: &mut UserRow, now: i64) {
    user.status = "CONFIRMED".into();
    mark_verified(pool, user);
    user.updated_at = now;
}
