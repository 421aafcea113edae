//! Helpers shared by the handlers: loading pools and clients with Cognito's not-found
//! messages, SECRET_HASH, resolving a username or alias to a user, codes and
//! pagination. Token issuing and reading live in `tokens.rs`, re-exported here so
//! handlers find every helper through `support::*`.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use idpool_core::crypto::{self, sha256_hex};
use idpool_core::ids;
use idpool_store::{ClientRow, CodeRow, IndexedAttr, OutboxRow, PoolRow, UserRow};
use idpool_wire::shapes::cognito_idp::{AttributeType, CodeDeliveryDetailsType, UserType};
use idpool_wire::{IdpException as E, WireError};
use serde_json::Value;

pub use super::tokens::*;

pub fn not_found(what: impl Into<String>) -> WireError {
    WireError::idp(E::ResourceNotFoundException, what)
}

pub async fn load_pool(ctx: &Ctx, pool_id: &str) -> ApiResult<PoolRow> {
    ctx.state
        .store
        .get_pool(pool_id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("User pool {pool_id} does not exist.")))
}

/// A client and its pool, by client id alone (ids are unique across pools).
pub async fn load_client(ctx: &Ctx, client_id: &str) -> ApiResult<(ClientRow, PoolRow)> {
    let client = ctx
        .state
        .store
        .get_client(client_id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("User pool client {client_id} does not exist.")))?;
    let pool = load_pool(ctx, &client.pool_id).await?;
    Ok((client, pool))
}

/// A client that must belong to `pool_id` (admin operations name both).
pub async fn load_pool_client(
    ctx: &Ctx,
    pool_id: &str,
    client_id: &str,
) -> ApiResult<(ClientRow, PoolRow)> {
    let pool = load_pool(ctx, pool_id).await?;
    match ctx.state.store.get_client(client_id).await.wire()? {
        Some(c) if c.pool_id == pool_id => Ok((c, pool)),
        _ => Err(not_found(format!(
            "User pool client {client_id} does not exist."
        ))),
    }
}

/// Clients with a secret must prove it on every public call that names a user.
pub fn check_secret_hash(
    ctx: &Ctx,
    client: &ClientRow,
    username: &str,
    provided: Option<&str>,
) -> ApiResult<()> {
    if client.secret.is_none() {
        return Ok(());
    }
    let Some(provided) = provided else {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            format!(
                "Client {} is configured with secret but SECRET_HASH was not received",
                client.client_id
            ),
        ));
    };
    // While a client rotates its secret, a hash made with either secret is valid.
    let matched = super::client_secrets::any_secret_matches(ctx, client, |secret| {
        let expected = crypto::secret_hash(secret, username, &client.client_id);
        constant_time_eq(expected.as_bytes(), provided.as_bytes())
    })?;
    if !matched {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            format!(
                "Unable to verify secret hash for client {}",
                client.client_id
            ),
        ));
    }
    Ok(())
}

pub use super::sessions::{Session, new_session, open_session, session_expired};
pub use idpool_core::crypto::constant_time_eq;

pub fn case_sensitive(pool: &PoolRow) -> bool {
    pool.config["UsernameConfiguration"]["CaseSensitive"]
        .as_bool()
        .unwrap_or(true)
}

pub fn username_key(pool: &PoolRow, username: &str) -> String {
    if case_sensitive(pool) {
        username.to_string()
    } else {
        username.to_lowercase()
    }
}

pub fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn username_attributes(pool: &PoolRow) -> Vec<String> {
    str_list(&pool.config["UsernameAttributes"])
}

pub fn alias_attributes(pool: &PoolRow) -> Vec<String> {
    str_list(&pool.config["AliasAttributes"])
}

pub fn auto_verified_attributes(pool: &PoolRow) -> Vec<String> {
    str_list(&pool.config["AutoVerifiedAttributes"])
}

/// Finds a user by username, or by an email/phone that the pool lets stand in for it
/// (`UsernameAttributes`), or by a verified alias (`AliasAttributes`).
pub async fn find_user(ctx: &Ctx, pool: &PoolRow, username: &str) -> ApiResult<Option<UserRow>> {
    let store = &ctx.state.store;
    if let Some(u) = store
        .get_user(&pool.id, &username_key(pool, username))
        .await
        .wire()?
    {
        return Ok(Some(u));
    }
    let as_username = username_attributes(pool);
    let aliases = alias_attributes(pool);
    for (attr, indexed) in [
        ("email", IndexedAttr::Email),
        ("phone_number", IndexedAttr::PhoneNumber),
        ("preferred_username", IndexedAttr::PreferredUsername),
    ] {
        let is_username = as_username.iter().any(|a| a == attr);
        let is_alias = aliases.iter().any(|a| a == attr);
        if !is_username && !is_alias {
            continue;
        }
        let value = if case_sensitive(pool) || attr == "phone_number" {
            username.to_string()
        } else {
            username.to_lowercase()
        };
        for u in store
            .find_users_by(&pool.id, indexed, &value)
            .await
            .wire()?
        {
            // An alias signs in only once verified, so an unverified copy of someone
            // else's email cannot take over their sign-in.
            let verified = attr == "preferred_username"
                || is_username
                || u.attr(&format!("{attr}_verified")) == Some("true");
            if verified {
                return Ok(Some(u));
            }
        }
    }
    Ok(None)
}

pub fn user_not_found() -> WireError {
    WireError::idp(E::UserNotFoundException, "User does not exist.")
}

pub async fn require_user(ctx: &Ctx, pool: &PoolRow, username: &str) -> ApiResult<UserRow> {
    find_user(ctx, pool, username)
        .await?
        .ok_or_else(user_not_found)
}

/// The user's attributes as Cognito lists them: `sub` first.
pub fn attribute_list(user: &UserRow) -> Vec<AttributeType> {
    let mut out = vec![AttributeType {
        name: "sub".into(),
        value: Some(user.sub.clone()),
    }];
    for (k, v) in &user.attributes {
        out.push(AttributeType {
            name: k.clone(),
            value: v.as_str().map(str::to_string),
        });
    }
    out
}

pub fn user_type(user: &UserRow, only: Option<&[String]>) -> UserType {
    let mut attrs = attribute_list(user);
    if let Some(names) = only {
        attrs.retain(|a| names.contains(&a.name));
    }
    UserType {
        username: Some(user.username.clone()),
        attributes: Some(attrs),
        user_create_date: Some(user.created_at as f64 / 1000.0),
        user_last_modified_date: Some(user.updated_at as f64 / 1000.0),
        enabled: Some(user.enabled),
        user_status: Some(user.status.clone()),
        mfa_options: None,
    }
}

pub fn attrs_from(list: &[AttributeType]) -> Vec<(String, String)> {
    list.iter()
        .map(|a| (a.name.clone(), a.value.clone().unwrap_or_default()))
        .collect()
}

/// Cognito's masked destinations: `a***@e***` for email, `+*******1234` for phones.
pub fn mask(channel: &str, destination: &str) -> String {
    if channel == "EMAIL" {
        let (local, domain) = destination.split_once('@').unwrap_or((destination, ""));
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        format!("{}***@{}***", first(local), first(domain))
    } else {
        let digits: Vec<char> = destination.chars().collect();
        let keep = digits.len().saturating_sub(4);
        digits
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 && *c == '+' {
                    '+'
                } else if i < keep {
                    '*'
                } else {
                    *c
                }
            })
            .collect()
    }
}

/// Where a code for `user` goes: email if they have one (or `prefer`), else phone.
pub fn delivery_target(
    user: &UserRow,
    prefer: Option<&str>,
) -> Option<(&'static str, &'static str, String)> {
    let email = user
        .attr("email")
        .filter(|s| !s.is_empty())
        .map(|e| ("EMAIL", "email", e.to_string()));
    let phone = user
        .attr("phone_number")
        .filter(|s| !s.is_empty())
        .map(|p| ("SMS", "phone_number", p.to_string()));
    match prefer {
        Some("phone_number") => phone.or(email),
        _ => email.or(phone),
    }
}

pub enum CodePurpose {
    SignUp,
    ForgotPassword,
    /// A sign-in code sent by SMS or email (SMS_MFA, EMAIL_OTP).
    SignIn,
    /// Proof of an `email` or `phone_number` (GetUserAttributeVerificationCode).
    VerifyAttribute(&'static str),
}

impl CodePurpose {
    fn key(&self) -> &'static str {
        match self {
            CodePurpose::SignUp => "signup",
            CodePurpose::ForgotPassword => "forgot_password",
            CodePurpose::SignIn => "sign_in",
            CodePurpose::VerifyAttribute("phone_number") => "verify:phone_number",
            CodePurpose::VerifyAttribute(_) => "verify:email",
        }
    }
}

/// Codes live 24 hours (sign-up), 1 hour (password reset) or 3 minutes (sign-in), as
/// Cognito's.
fn code_lifetime_ms(purpose: &CodePurpose) -> i64 {
    match purpose {
        CodePurpose::SignUp | CodePurpose::VerifyAttribute(_) => 24 * 3600 * 1000,
        CodePurpose::ForgotPassword => 3600 * 1000,
        CodePurpose::SignIn => 3 * 60 * 1000,
    }
}

fn hash_code(pool_id: &str, username_key: &str, code: &str) -> String {
    sha256_hex(format!("{pool_id}\n{username_key}\n{code}").as_bytes())
}

/// Creates a code, stores its hash, delivers it and says where it went.
pub async fn send_code(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    purpose: CodePurpose,
) -> ApiResult<Option<CodeDeliveryDetailsType>> {
    send_code_via(ctx, pool, user, purpose, None).await
}

/// `send_code`, preferring the channel of attribute `prefer` (`email`, `phone_number`).
pub async fn send_code_via(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    purpose: CodePurpose,
    prefer: Option<&str>,
) -> ApiResult<Option<CodeDeliveryDetailsType>> {
    let code = ids::numeric_code();
    ctx.state
        .store
        .put_code(&CodeRow {
            pool_id: pool.id.clone(),
            username_key: user.username_key.clone(),
            purpose: purpose.key().into(),
            code_hash: hash_code(&pool.id, &user.username_key, &code),
            expires_at: ctx.now + code_lifetime_ms(&purpose),
            failed_attempts: 0,
            created_at: ctx.now,
        })
        .await
        .wire()?;
    let Some((channel, attr, destination)) = delivery_target(user, prefer) else {
        return Ok(None);
    };
    let (subject, template) = match purpose {
        CodePurpose::SignUp | CodePurpose::VerifyAttribute(_) => (
            pool.config["EmailVerificationSubject"]
                .as_str()
                .unwrap_or("Your verification code")
                .to_string(),
            if channel == "EMAIL" {
                pool.config["EmailVerificationMessage"]
                    .as_str()
                    .unwrap_or("Your verification code is {####}. ")
                    .to_string()
            } else {
                pool.config["SmsVerificationMessage"]
                    .as_str()
                    .unwrap_or("Your verification code is {####}. ")
                    .to_string()
            },
        ),
        CodePurpose::ForgotPassword => (
            "Your password reset code".to_string(),
            "Your password reset code is {####}. ".to_string(),
        ),
        CodePurpose::SignIn => (
            "Your sign-in code".to_string(),
            pool.config["SmsAuthenticationMessage"]
                .as_str()
                .filter(|_| channel == "SMS")
                .unwrap_or("Your authentication code is {####}. ")
                .to_string(),
        ),
    };
    let details = CodeDeliveryDetailsType {
        destination: Some(mask(channel, &destination)),
        delivery_medium: Some(channel.into()),
        attribute_name: Some(attr.into()),
    };
    let source = super::triggers::message_source(ctx.operation, purpose.key());
    if super::triggers::custom_sender(ctx, pool, user, channel, source, &code).await? {
        return Ok(Some(details));
    }
    let custom = super::triggers::custom_message(
        ctx,
        pool,
        user,
        source,
        channel,
        false,
        super::triggers::MessageTemplate {
            subject,
            message: template,
        },
    )
    .await?;
    let subject = custom.subject;
    let message = custom
        .message
        .replace("{####}", &code)
        .replace("{username}", &user.username);
    deliver(
        ctx,
        pool,
        user,
        channel,
        &destination,
        Some(subject),
        message,
        Some(code),
    )
    .await?;
    Ok(Some(details))
}

#[allow(clippy::too_many_arguments)]
pub async fn deliver(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    channel: &str,
    destination: &str,
    subject: Option<String>,
    message: String,
    code: Option<String>,
) -> ApiResult<()> {
    let row = OutboxRow {
        id: ids::uuid(),
        pool_id: pool.id.clone(),
        username: user.username.clone(),
        channel: channel.into(),
        destination: destination.into(),
        subject,
        message,
        code,
        created_at: ctx.now,
    };
    let failure = crate::delivery::deliver(ctx.state.store.as_ref(), &ctx.state.senders, row)
        .await
        .wire()?;
    if let Some(details) = failure {
        // Cognito's message-delivery error log: what failed and for whom, never the
        // message (it holds the code) nor the address or number.
        let record = || {
            serde_json::json!({
                "details": details,
                "deliveryMedium": channel,
                "Username": user.username,
                "UserSub": user.sub,
            })
        };
        super::log_delivery::export(
            ctx,
            &pool.id,
            super::log_delivery::LogStream::UserNotification,
            record,
        )
        .await;
    }
    Ok(())
}

/// Checks and consumes a code. Five wrong guesses burn it, as brute-forcing six
/// digits must not be possible.
pub async fn consume_code(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    purpose: CodePurpose,
    code: &str,
) -> ApiResult<()> {
    let store = &ctx.state.store;
    let mismatch = || {
        WireError::idp(
            E::CodeMismatchException,
            match purpose {
                CodePurpose::SignIn => "Invalid code received for user",
                _ => "Invalid verification code provided, please try again.",
            },
        )
    };
    let Some(row) = store
        .get_code(&pool.id, &user.username_key, purpose.key())
        .await
        .wire()?
    else {
        return Err(mismatch());
    };
    if row.expires_at < ctx.now {
        return Err(WireError::idp(
            E::ExpiredCodeException,
            "Invalid code provided, please request a code again.",
        ));
    }
    if !constant_time_eq(
        row.code_hash.as_bytes(),
        hash_code(&pool.id, &user.username_key, code).as_bytes(),
    ) {
        let failures = store
            .record_code_failure(&pool.id, &user.username_key, purpose.key())
            .await
            .wire()?;
        if failures >= 5 {
            store
                .delete_code(&pool.id, &user.username_key, purpose.key())
                .await
                .wire()?;
            // RespondToAuthChallenge may not answer TooManyFailedAttempts: a burnt
            // sign-in code is an expired one there (the user signs in again).
            return Err(match &purpose {
                CodePurpose::SignIn => WireError::idp(
                    E::ExpiredCodeException,
                    "Invalid code provided, please request a code again.",
                ),
                _ => WireError::idp(
                    E::TooManyFailedAttemptsException,
                    "Attempt limit exceeded, please try after some time.",
                ),
            });
        }
        return Err(mismatch());
    }
    if !store
        .delete_code(&pool.id, &user.username_key, purpose.key())
        .await
        .wire()?
    {
        // Another request used it between our read and delete.
        return Err(mismatch());
    }
    Ok(())
}

pub fn pool_arn(ctx: &Ctx, pool_id: &str) -> String {
    let region = pool_id.split('_').next().unwrap_or(&ctx.region);
    format!(
        "arn:aws:cognito-idp:{region}:{}:userpool/{pool_id}",
        ctx.state.config.account_id
    )
}

/// One page of a keyed listing that fetched `limit + 1` rows: the extra row only says
/// that more follow, and the page's last key becomes the opaque next token.
pub fn paginate<T>(
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> &str,
) -> (Vec<T>, Option<String>) {
    if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        let next = rows.last().map(|r| super::pools::encode_token(key(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

/// One page of a pool's objects of `kind` for a List* operation: at most `limit`,
/// after the position `token` names, and the token of the next page.
pub async fn list_objects_page(
    ctx: &Ctx,
    pool_id: &str,
    kind: idpool_store::ObjectKind,
    token: Option<&str>,
    limit: u32,
) -> ApiResult<(Vec<idpool_store::PoolObjectRow>, Option<String>)> {
    let after = token.map(super::pools::decode_token).transpose()?;
    let rows = ctx
        .state
        .store
        .list_objects(pool_id, kind, after.as_deref(), limit + 1)
        .await
        .wire()?;
    Ok(paginate(rows, limit, |r| &r.key))
}

/// Every object of `kind` in the pool whose key starts with `prefix` ("" for all), by
/// key, read a page at a time so no listing is silently cut short. The listing starts
/// after `prefix` itself, so a key equal to it is not listed: prefixes end in a
/// separator no key ends in.
pub async fn objects_with_prefix(
    ctx: &Ctx,
    pool_id: &str,
    kind: idpool_store::ObjectKind,
    prefix: &str,
) -> ApiResult<Vec<idpool_store::PoolObjectRow>> {
    const PAGE: u32 = 200;
    let mut all = Vec::new();
    let mut after = (!prefix.is_empty()).then(|| prefix.to_string());
    loop {
        let page = ctx
            .state
            .store
            .list_objects(pool_id, kind, after.as_deref(), PAGE)
            .await
            .wire()?;
        let full = page.len() == PAGE as usize;
        after = page.last().map(|r| r.key.clone());
        for row in page {
            if !row.key.starts_with(prefix) {
                return Ok(all);
            }
            all.push(row);
        }
        if !full {
            return Ok(all);
        }
    }
}
