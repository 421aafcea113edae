//! MFA settings: SetUserPoolMfaConfig, GetUserPoolMfaConfig, AssociateSoftwareToken,
//! VerifySoftwareToken, SetUserMFAPreference, AdminSetUserMFAPreference,
//! SetUserSettings, AdminSetUserSettings; and the per-user MFA state that sign-in
//! (`auth.rs`) reads to pick a challenge.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::*;
use idpool_core::auth::mfa::{self as totp, TotpCheck};
use idpool_store::{PoolRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const SMS_MFA: &str = "SMS_MFA";
pub const SOFTWARE_TOKEN_MFA: &str = "SOFTWARE_TOKEN_MFA";
pub const EMAIL_OTP: &str = "EMAIL_OTP";

/// A user's MFA state, kept in `UserRow::extra["mfa"]`. TOTP secrets are encrypted with
/// the master key (DESIGN.md section 3).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct UserMfa {
    /// The factors the user turned on, in Cognito's names.
    #[serde(default)]
    pub enabled: Vec<String>,
    #[serde(default)]
    pub preferred: Option<String>,
    /// The verified software token.
    #[serde(default)]
    pub totp_secret: Option<String>,
    /// A token from AssociateSoftwareToken not yet verified.
    #[serde(default)]
    pub totp_pending: Option<String>,
    /// The last TOTP step accepted, so a code works once.
    #[serde(default)]
    pub totp_last_step: Option<i64>,
}

impl UserMfa {
    pub fn of(user: &UserRow) -> UserMfa {
        user.extra
            .get("mfa")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, user: &mut UserRow) {
        user.extra.insert(
            "mfa".into(),
            serde_json::to_value(self).expect("serializes"),
        );
    }

    fn set(&mut self, factor: &str, enabled: Option<bool>, preferred: Option<bool>) {
        if let Some(on) = enabled {
            self.enabled.retain(|f| f != factor);
            if on {
                self.enabled.push(factor.to_string());
            } else if self.preferred.as_deref() == Some(factor) {
                self.preferred = None;
            }
        }
        match preferred {
            Some(true) => self.preferred = Some(factor.to_string()),
            Some(false) if self.preferred.as_deref() == Some(factor) => self.preferred = None,
            _ => {}
        }
    }
}

/// Turns SMS MFA on for a user who has a phone number (UserMigration's `enableSMSMFA`).
pub fn enable_sms_mfa(user: &mut UserRow) {
    let mut mfa = UserMfa::of(user);
    mfa.set(SMS_MFA, Some(true), None);
    mfa.save(user);
}

/// `OFF`, `ON` or `OPTIONAL`.
pub fn pool_mode(pool: &PoolRow) -> &str {
    pool.config["MfaConfiguration"].as_str().unwrap_or("OFF")
}

/// The factors the pool offers. SMS is offered when the pool has an SMS configuration
/// (CreateUserPool's `SmsConfiguration` or SetUserPoolMfaConfig's `SmsMfaConfiguration`).
pub fn pool_factors(pool: &PoolRow) -> Vec<&'static str> {
    let c = &pool.config;
    let mut out = Vec::new();
    if c["SmsMfaConfiguration"].is_object() || c["SmsConfiguration"].is_object() {
        out.push(SMS_MFA);
    }
    if c["SoftwareTokenMfaConfiguration"]["Enabled"] == true {
        out.push(SOFTWARE_TOKEN_MFA);
    }
    if c["EmailMfaConfiguration"].is_object() {
        out.push(EMAIL_OTP);
    }
    out
}

/// GetUser / AdminGetUser: `MFAOptions`, `PreferredMfaSetting`, `UserMFASettingList`.
pub fn user_mfa_fields(
    user: &UserRow,
) -> (
    Option<Vec<MFAOptionType>>,
    Option<String>,
    Option<Vec<String>>,
) {
    let m = UserMfa::of(user);
    let options = m.enabled.iter().any(|f| f == SMS_MFA).then(|| {
        vec![MFAOptionType {
            delivery_medium: Some("SMS".into()),
            attribute_name: Some("phone_number".into()),
        }]
    });
    let list = (!m.enabled.is_empty()).then(|| m.enabled.clone());
    (options, m.preferred.clone(), list)
}

pub async fn set_user_pool_mfa_config(
    ctx: Ctx,
    req: SetUserPoolMfaConfigRequest,
) -> ApiResult<SetUserPoolMfaConfigResponse> {
    let mut pool = load_pool(&ctx, &req.user_pool_id).await?;
    let cfg = pool
        .config
        .as_object_mut()
        .expect("pool config is an object");
    let put = |cfg: &mut serde_json::Map<String, Value>, key: &str, v: Option<Value>| match v {
        Some(v) => {
            cfg.insert(key.into(), v);
        }
        None => {
            cfg.remove(key);
        }
    };
    if let Some(sms) = &req.sms_mfa_configuration {
        // Cognito's own (oddly worded) message for an SMS MFA setting without SMS.
        if sms.sms_configuration.is_none() {
            return Err(WireError::invalid_parameter(
                "[SmsConfiguration] is a required member of [SoftwareTokenMfaConfiguration].",
            ));
        }
        if let Some(msg) = &sms.sms_authentication_message
            && !msg.contains("{####}")
        {
            return Err(WireError::invalid_parameter(
                "SmsAuthenticationMessage must contain the {####} placeholder.",
            ));
        }
        if let Some(msg) = &sms.sms_authentication_message {
            cfg.insert("SmsAuthenticationMessage".into(), json!(msg));
        }
        if let Some(sc) = &sms.sms_configuration {
            cfg.insert(
                "SmsConfiguration".into(),
                serde_json::to_value(sc).expect("ser"),
            );
        }
    }
    put(
        cfg,
        "SmsMfaConfiguration",
        req.sms_mfa_configuration
            .as_ref()
            .map(|v| serde_json::to_value(v).expect("ser")),
    );
    put(
        cfg,
        "SoftwareTokenMfaConfiguration",
        req.software_token_mfa_configuration
            .as_ref()
            .map(|v| serde_json::to_value(v).expect("ser")),
    );
    if let Some(email) = &req.email_mfa_configuration
        && let Some(msg) = &email.message
        && !msg.contains("{####}")
    {
        return Err(WireError::invalid_parameter(
            "EmailMfaConfiguration message must contain the {####} placeholder.",
        ));
    }
    put(
        cfg,
        "EmailMfaConfiguration",
        req.email_mfa_configuration
            .as_ref()
            .map(|v| serde_json::to_value(v).expect("ser")),
    );
    if let Some(w) = &req.web_authn_configuration {
        cfg.insert(
            "WebAuthnConfiguration".into(),
            serde_json::to_value(w).expect("ser"),
        );
    }
    if let Some(mode) = &req.mfa_configuration {
        cfg.insert("MfaConfiguration".into(), json!(mode));
    }
    let mode = pool_mode(&pool).to_string();
    if mode != "OFF" && pool_factors(&pool).is_empty() {
        return Err(WireError::invalid_parameter(
            "At least one of [SmsMfaConfiguration] or [SoftwareTokenMfaConfiguration] must be provided.",
        ));
    }
    pool.updated_at = ctx.now;
    ctx.state.store.update_pool(&pool).await.wire()?;
    let r = get_config(&pool);
    Ok(SetUserPoolMfaConfigResponse {
        sms_mfa_configuration: r.sms_mfa_configuration,
        software_token_mfa_configuration: r.software_token_mfa_configuration,
        email_mfa_configuration: r.email_mfa_configuration,
        mfa_configuration: r.mfa_configuration,
        web_authn_configuration: r.web_authn_configuration,
    })
}

fn get_config(pool: &PoolRow) -> GetUserPoolMfaConfigResponse {
    let c = &pool.config;
    fn read<T: serde::de::DeserializeOwned>(c: &Value, k: &str) -> Option<T> {
        serde_json::from_value(c[k].clone()).ok()
    }
    let sms = if c["SmsMfaConfiguration"].is_object() {
        read(c, "SmsMfaConfiguration")
    } else if c["SmsConfiguration"].is_object() {
        // A pool created with an SMS configuration offers SMS MFA with it.
        Some(SmsMfaConfigType {
            sms_authentication_message: c["SmsAuthenticationMessage"].as_str().map(String::from),
            sms_configuration: read(c, "SmsConfiguration"),
        })
    } else {
        None
    };
    GetUserPoolMfaConfigResponse {
        sms_mfa_configuration: sms,
        software_token_mfa_configuration: read(c, "SoftwareTokenMfaConfiguration"),
        email_mfa_configuration: read(c, "EmailMfaConfiguration"),
        mfa_configuration: Some(pool_mode(pool).to_string()),
        web_authn_configuration: read(c, "WebAuthnConfiguration"),
    }
}

pub async fn get_user_pool_mfa_config(
    ctx: Ctx,
    req: GetUserPoolMfaConfigRequest,
) -> ApiResult<GetUserPoolMfaConfigResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    Ok(get_config(&pool))
}

/// The user a software-token call is about: by access token, or by the session of an
/// MFA_SETUP challenge. Exactly one must be given.
async fn token_or_session_user(
    ctx: &Ctx,
    access_token: Option<&str>,
    session: Option<&str>,
) -> ApiResult<(PoolRow, UserRow, Option<Session>)> {
    match (access_token, session) {
        (Some(token), None) => {
            let (pool, user, _) = user_from_access_token(ctx, token).await?;
            Ok((pool, user, None))
        }
        (None, Some(session)) => {
            let s = open_session(ctx, session)?;
            if s.challenge != "MFA_SETUP" {
                return Err(session_expired());
            }
            let pool = load_pool(ctx, &s.pool_id).await?;
            let user = ctx
                .state
                .store
                .get_user(&s.pool_id, &s.username_key)
                .await
                .wire()?
                .ok_or_else(user_not_found)?;
            Ok((pool, user, Some(s)))
        }
        _ => Err(WireError::invalid_parameter(
            "Exactly one of AccessToken or Session must be provided.",
        )),
    }
}

pub async fn associate_software_token(
    ctx: Ctx,
    req: AssociateSoftwareTokenRequest,
) -> ApiResult<AssociateSoftwareTokenResponse> {
    let (_pool, mut user, session) =
        token_or_session_user(&ctx, req.access_token.as_deref(), req.session.as_deref()).await?;
    let secret = totp::new_secret();
    let mut m = UserMfa::of(&user);
    m.totp_pending = Some(ctx.state.master.encrypt(secret.as_bytes(), b"totp-secret"));
    m.save(&mut user);
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    let session = match session {
        Some(s) => Some(next_setup_session(&ctx, &s, &user, false).await?),
        None => None,
    };
    Ok(AssociateSoftwareTokenResponse {
        secret_code: Some(secret),
        session,
    })
}

/// The MFA_SETUP session that follows `s`: same user and client, `verified` once the
/// software token checked out.
async fn next_setup_session(
    ctx: &Ctx,
    s: &Session,
    user: &UserRow,
    verified: bool,
) -> ApiResult<String> {
    let client = ctx
        .state
        .store
        .get_client(&s.client_id)
        .await
        .wire()?
        .ok_or_else(session_expired)?;
    let mut data = s.data.clone();
    if !data.is_object() {
        data = json!({});
    }
    data["verified"] = json!(verified);
    Ok(new_session(ctx, &client, user, "MFA_SETUP", data))
}

pub fn decrypt_secret(ctx: &Ctx, enc: &str) -> ApiResult<String> {
    let raw = ctx.state.master.decrypt(enc, b"totp-secret").wire()?;
    String::from_utf8(raw)
        .map_err(|_| WireError::idp(E::InternalErrorException, "stored TOTP secret"))
}

pub async fn verify_software_token(
    ctx: Ctx,
    req: VerifySoftwareTokenRequest,
) -> ApiResult<VerifySoftwareTokenResponse> {
    let (_pool, mut user, session) =
        token_or_session_user(&ctx, req.access_token.as_deref(), req.session.as_deref()).await?;
    let mut m = UserMfa::of(&user);
    let Some(pending) = m.totp_pending.clone() else {
        return Err(WireError::idp(
            E::SoftwareTokenMFANotFoundException,
            "Software Token MFA has not been associated with the user. Call AssociateSoftwareToken first.",
        ));
    };
    let secret = decrypt_secret(&ctx, &pending)?;
    match totp::check(&secret, &req.user_code, ctx.now, None) {
        TotpCheck::Valid(step) => {
            m.totp_secret = Some(pending);
            m.totp_pending = None;
            m.totp_last_step = Some(step);
            if session.is_some() {
                // Set up during sign-in (MFA_SETUP): the token becomes the user's factor.
                m.set(SOFTWARE_TOKEN_MFA, Some(true), Some(true));
            }
            m.save(&mut user);
            if let Some(name) = &req.friendly_device_name {
                user.extra.insert("totpFriendlyName".into(), json!(name));
            }
            user.updated_at = ctx.now;
            ctx.state.store.update_user(&user).await.wire()?;
            let session = match session {
                Some(s) => Some(next_setup_session(&ctx, &s, &user, true).await?),
                None => None,
            };
            Ok(VerifySoftwareTokenResponse {
                status: Some("SUCCESS".into()),
                session,
            })
        }
        TotpCheck::Reused | TotpCheck::Mismatch => Err(WireError::idp(
            E::EnableSoftwareTokenMFAException,
            "Code mismatch and fail enable Software Token MFA",
        )),
    }
}

async fn set_preference(
    ctx: &Ctx,
    pool: &PoolRow,
    mut user: UserRow,
    sms: Option<&SMSMfaSettingsType>,
    software: Option<&SoftwareTokenMfaSettingsType>,
    email: Option<&EmailMfaSettingsType>,
) -> ApiResult<()> {
    let mut m = UserMfa::of(&user);
    if let Some(s) = software
        && s.enabled == Some(true)
        && m.totp_secret.is_none()
    {
        return Err(WireError::invalid_parameter(
            "User has not verified software token mfa",
        ));
    }
    if let Some(s) = sms
        && s.enabled == Some(true)
        && user.attr("phone_number").is_none_or(str::is_empty)
    {
        return Err(WireError::invalid_parameter(
            "User does not have delivery config set to turn on SMS_MFA",
        ));
    }
    if let Some(s) = email
        && s.enabled == Some(true)
    {
        if user.attr("email").is_none_or(str::is_empty) {
            return Err(WireError::invalid_parameter(
                "User does not have delivery config set to turn on EMAIL_OTP",
            ));
        }
        if !pool_factors(pool).contains(&EMAIL_OTP) {
            return Err(WireError::invalid_parameter(
                "Email MFA is not enabled for this user pool; set EmailMfaConfiguration with SetUserPoolMfaConfig.",
            ));
        }
    }
    for (factor, enabled, preferred) in [
        (
            SMS_MFA,
            sms.and_then(|s| s.enabled),
            sms.and_then(|s| s.preferred_mfa),
        ),
        (
            SOFTWARE_TOKEN_MFA,
            software.and_then(|s| s.enabled),
            software.and_then(|s| s.preferred_mfa),
        ),
        (
            EMAIL_OTP,
            email.and_then(|s| s.enabled),
            email.and_then(|s| s.preferred_mfa),
        ),
    ] {
        if preferred == Some(true)
            && enabled != Some(true)
            && !m.enabled.iter().any(|f| f == factor)
        {
            return Err(WireError::invalid_parameter(format!(
                "{factor} cannot be preferred without being enabled."
            )));
        }
        m.set(factor, enabled, preferred);
    }
    m.save(&mut user);
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()
}

pub async fn set_user_mfa_preference(
    ctx: Ctx,
    req: SetUserMFAPreferenceRequest,
) -> ApiResult<SetUserMFAPreferenceResponse> {
    let (pool, user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    set_preference(
        &ctx,
        &pool,
        user,
        req.sms_mfa_settings.as_ref(),
        req.software_token_mfa_settings.as_ref(),
        req.email_mfa_settings.as_ref(),
    )
    .await?;
    Ok(SetUserMFAPreferenceResponse {})
}

pub async fn admin_set_user_mfa_preference(
    ctx: Ctx,
    req: AdminSetUserMFAPreferenceRequest,
) -> ApiResult<AdminSetUserMFAPreferenceResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    set_preference(
        &ctx,
        &pool,
        user,
        req.sms_mfa_settings.as_ref(),
        req.software_token_mfa_settings.as_ref(),
        req.email_mfa_settings.as_ref(),
    )
    .await?;
    Ok(AdminSetUserMFAPreferenceResponse {})
}

/// The legacy `MFAOptions` setting: SMS to `phone_number` on, or (empty list) off.
async fn set_mfa_options(ctx: &Ctx, mut user: UserRow, options: &[MFAOptionType]) -> ApiResult<()> {
    let mut m = UserMfa::of(&user);
    let mut sms = false;
    for o in options {
        match (o.delivery_medium.as_deref(), o.attribute_name.as_deref()) {
            (Some("SMS"), Some("phone_number")) => sms = true,
            _ => {
                return Err(WireError::invalid_parameter(
                    "Only SMS delivery to phone_number is supported in MFAOptions.",
                ));
            }
        }
    }
    m.set(SMS_MFA, Some(sms), None);
    m.save(&mut user);
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()
}

pub async fn set_user_settings(
    ctx: Ctx,
    req: SetUserSettingsRequest,
) -> ApiResult<SetUserSettingsResponse> {
    let (_pool, user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    set_mfa_options(&ctx, user, &req.mfa_options).await?;
    Ok(SetUserSettingsResponse {})
}

pub async fn admin_set_user_settings(
    ctx: Ctx,
    req: AdminSetUserSettingsRequest,
) -> ApiResult<AdminSetUserSettingsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    set_mfa_options(&ctx, user, &req.mfa_options).await?;
    Ok(AdminSetUserSettingsResponse {})
}

/// Checks a SOFTWARE_TOKEN_MFA answer and records its step so it works once.
pub fn check_totp(ctx: &Ctx, user: &mut UserRow, code: &str) -> ApiResult<()> {
    let mut m = UserMfa::of(user);
    let Some(enc) = m.totp_secret.clone() else {
        return Err(WireError::idp(
            E::SoftwareTokenMFANotFoundException,
            "Software Token MFA has not been enabled by the user.",
        ));
    };
    let secret = decrypt_secret(ctx, &enc)?;
    match totp::check(&secret, code, ctx.now, m.totp_last_step) {
        TotpCheck::Valid(step) => {
            m.totp_last_step = Some(step);
            m.save(user);
            Ok(())
        }
        TotpCheck::Reused => Err(WireError::idp(
            E::ExpiredCodeException,
            "Your software token has already been used once.",
        )),
        TotpCheck::Mismatch => Err(WireError::idp(
            E::CodeMismatchException,
            "Invalid code received for user",
        )),
    }
}

/// GetUserAuthFactors: the user's MFA settings and the first factors USER_AUTH would
/// offer them.
pub async fn get_user_auth_factors(
    ctx: Ctx,
    req: GetUserAuthFactorsRequest,
) -> ApiResult<GetUserAuthFactorsResponse> {
    let (pool, user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    Ok(auth_factors(&pool, &user))
}

pub async fn admin_get_user_auth_factors(
    ctx: Ctx,
    req: AdminGetUserAuthFactorsRequest,
) -> ApiResult<AdminGetUserAuthFactorsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    let factors = auth_factors(&pool, &user);
    Ok(AdminGetUserAuthFactorsResponse {
        username: factors.username,
        preferred_mfa_setting: factors.preferred_mfa_setting,
        user_mfa_setting_list: factors.user_mfa_setting_list,
        configured_user_auth_factors: factors.configured_user_auth_factors,
    })
}

/// What GetUserAuthFactors and its Admin twin report: the user's MFA settings and the
/// factors set up for them, first factors of USER_AUTH (never PASSWORD_SRP, which is
/// PASSWORD to a client) and, as Cognito's model now lists it, a verified software
/// token, which serves only as MFA.
fn auth_factors(pool: &PoolRow, user: &UserRow) -> GetUserAuthFactorsResponse {
    let (_, preferred_mfa_setting, user_mfa_setting_list) = user_mfa_fields(user);
    let mut configured: Vec<String> = super::auth::first_factors(pool, user)
        .into_iter()
        .filter(|f| *f != "PASSWORD_SRP")
        .map(String::from)
        .collect();
    if UserMfa::of(user).totp_secret.is_some() {
        configured.push("SOFTWARE_TOKEN".into());
    }
    GetUserAuthFactorsResponse {
        username: user.username.clone(),
        preferred_mfa_setting,
        user_mfa_setting_list,
        configured_user_auth_factors: Some(configured),
    }
}

/// Forgets a user's software token (a lost phone): TOTP is off for them, no longer
/// their preference, and AssociateSoftwareToken may register a new one. Where the
/// pool requires MFA and TOTP was their only factor, the next sign-in asks them to set
/// one up again (MFA_SETUP).
pub async fn admin_delete_software_token(
    ctx: Ctx,
    req: AdminDeleteSoftwareTokenRequest,
) -> ApiResult<AdminDeleteSoftwareTokenResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut user = require_user(&ctx, &pool, &req.username).await?;
    let mut m = UserMfa::of(&user);
    if m.totp_secret.is_none() && m.totp_pending.is_none() {
        return Err(WireError::idp(
            E::ResourceNotFoundException,
            "User does not have a software token registered.",
        ));
    }
    m.totp_secret = None;
    m.totp_pending = None;
    m.totp_last_step = None;
    m.set(SOFTWARE_TOKEN_MFA, Some(false), Some(false));
    m.save(&mut user);
    user.extra.remove("totpFriendlyName");
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    Ok(AdminDeleteSoftwareTokenResponse {})
}
