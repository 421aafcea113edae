//! Threat protection (Cognito's "advanced security features") acting on requests:
//! adaptive authentication (each sign-in gets a risk level, and the pool's
//! `AccountTakeoverRiskConfiguration` answers it with nothing, MFA or a block, and may
//! email the user), compromised-credentials detection (breached passwords at sign-in,
//! sign-up and password change), and the IP address exceptions of
//! `RiskExceptionConfiguration`.
//!
//! `UserPoolAddOns.AdvancedSecurityMode` decides: OFF does nothing; AUDIT scores and
//! records every sign-in in the user's event history but never acts; ENFORCED acts.
//! Custom authentication has its own mode (`mode_for`).
//! The scoring itself is `idpool_core::risk`.

use super::Ctx;
use super::auth_events::{HISTORY_FOR_RISK, StepResult, feedback_token, insert_event, locate};
use super::error::{ApiResult, OrWire};
use super::pool_settings::{ALL_CLIENTS, effective};
use super::support::deliver;
use idpool_core::context_data::{self, DeviceContext};
use idpool_core::crypto;
use idpool_core::risk::{self, PastEvent, RiskLevel};
use idpool_store::{ClientRow, ObjectKind, PoolRow, UserRow};
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Audit,
    Enforced,
}

impl Mode {
    fn parse(value: &Value) -> Mode {
        match value.as_str() {
            Some("AUDIT") => Mode::Audit,
            Some("ENFORCED") => Mode::Enforced,
            _ => Mode::Off,
        }
    }
}

/// The pool's mode for standard sign-ins (passwords, SRP, passwordless).
pub fn mode(pool: &PoolRow) -> Mode {
    Mode::parse(&pool.config["UserPoolAddOns"]["AdvancedSecurityMode"])
}

/// What proved who the user is in a sign-in that threat protection assesses.
#[derive(Debug, Clone, Copy)]
pub enum SignInProof<'a> {
    /// A password: in the clear (`Some`, checked against breached passwords) or by SRP.
    Password(Option<&'a str>),
    /// A passwordless first factor of USER_AUTH: a one-time code or a passkey.
    Passwordless,
    /// The challenges of CUSTOM_AUTH, decided by the pool's DefineAuthChallenge.
    Custom,
}

/// Cognito configures custom authentication apart
/// (`UserPoolAddOns.AdvancedSecurityAdditionalFlows.CustomAuthMode`), so that a pool
/// can, say, only watch its custom sign-ins, which have their own extra factors, while
/// acting on password ones. Custom sign-ins are assessed only when that mode is set
/// and threat protection is on for the pool.
fn mode_for(pool: &PoolRow, proof: SignInProof) -> Mode {
    let standard = mode(pool);
    match proof {
        SignInProof::Custom if standard != Mode::Off => Mode::parse(
            &pool.config["UserPoolAddOns"]["AdvancedSecurityAdditionalFlows"]["CustomAuthMode"],
        ),
        SignInProof::Custom => Mode::Off,
        _ => standard,
    }
}

/// The context with the end user's address as a trusted caller reports it. Cognito
/// takes `ContextData.IpAddress` from the admin operations (a server reporting its
/// user), but `UserContextData.IpAddress` from public ones only when the app client has
/// `EnablePropagateAdditionalUserContextData`: otherwise anyone could claim to sign in
/// from the victim's usual address.
pub fn with_reported_ip(ctx: &Ctx, reported: Option<&str>, trusted: bool) -> Ctx {
    let reported = reported
        .filter(|_| trusted)
        .and_then(|s| s.trim().parse::<IpAddr>().ok());
    Ctx {
        source_ip: reported.or(ctx.source_ip),
        ..ctx.clone()
    }
}

/// What the user's device says about itself in an `EncodedData`, when it was made for
/// this client and pool. Unreadable data is dropped, not refused: Cognito treats
/// context data as advice, and a sign-in must not fail over an old library's output.
pub fn device_context(client: &ClientRow, encoded: Option<&str>) -> Option<DeviceContext> {
    let encoded = encoded.filter(|e| !e.trim().is_empty())?;
    match context_data::decode(encoded, &client.client_id, &client.pool_id) {
        Ok(context) => Some(context),
        Err(why) => {
            tracing::debug!(client = %client.client_id, ?why, "unreadable EncodedData ignored");
            None
        }
    }
}

/// What the hosted sign-in page reports about the browser, in place of the
/// advanced-security script's `EncodedData`: the time zone its script read (`tz`, a
/// `±hh:mm` offset; absent without JavaScript) and the browser's own device cookie, a
/// random id idpool set on an earlier page, which serves as its fingerprint. Neither is
/// trusted more than an SDK's report: both come from the browser.
pub fn hosted_device_context(
    timezone: Option<&str>,
    device_id: Option<&str>,
) -> Option<DeviceContext> {
    let timezone = timezone
        .map(str::trim)
        .filter(|tz| context_data::is_utc_offset(tz))
        .map(String::from);
    let fingerprint = device_id
        .filter(|id| is_device_id(id))
        .map(|id| format!("hosted-ui:{id}"));
    (timezone.is_some() || fingerprint.is_some()).then_some(DeviceContext {
        timezone,
        fingerprint,
        ..Default::default()
    })
}

/// The hosted UI's device cookie: 22 to 64 base64url characters, as idpool makes them.
pub fn is_device_id(id: &str) -> bool {
    (22..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The keyed hash of the fingerprint the user's device reported, as the event history
/// keeps it (`risk::DEVICE_KEY`): comparable between sign-ins, useless to anyone who
/// reads the database.
pub fn device_hash(ctx: &Ctx) -> Option<String> {
    let fingerprint = ctx.device_context.as_ref()?.fingerprint.as_deref()?;
    Some(crypto::b64url(&ctx.state.master.keyed_hash(
        format!("device-fingerprint\n{fingerprint}").as_bytes(),
    )))
}

/// The name of the user's device for the event history and notifications: from the
/// User-Agent its own context data reports, else the request's (or, for the admin
/// operations, the one the server reports), else the name the device gives itself.
pub fn device_name(ctx: &Ctx) -> Option<String> {
    let reported = ctx.device_context.as_ref();
    reported
        .and_then(|d| d.user_agent.as_deref())
        .and_then(idpool_core::user_agent::device_name)
        .or_else(|| {
            ctx.user_agent
                .as_deref()
                .and_then(idpool_core::user_agent::device_name)
        })
        .or_else(|| reported.and_then(|d| d.device_name.clone()))
}

/// Whether a public client may report its user's address.
pub fn client_propagates_context(client: &ClientRow) -> bool {
    client.config["EnablePropagateAdditionalUserContextData"] == true
}

/// What the rest of a password sign-in must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskResponse {
    Allow,
    /// MFA_IF_CONFIGURED: a second factor if the user can receive one, else allow.
    MfaIfPossible,
    /// MFA_REQUIRED: a second factor, else block.
    MfaRequired,
}

/// The refusal of a sign-in that threat protection blocks.
pub fn blocked() -> WireError {
    WireError::idp(
        E::NotAuthorizedException,
        "Unable to login because of security reasons.",
    )
}

async fn risk_configuration(
    ctx: &Ctx,
    pool: &PoolRow,
    client_id: Option<&str>,
) -> ApiResult<Value> {
    let key = client_id.unwrap_or(ALL_CLIENTS);
    Ok(effective(ctx, pool, ObjectKind::RiskConfiguration, key)
        .await?
        .map(|row| row.doc)
        .unwrap_or(Value::Null))
}

fn in_ranges(list: &Value, ip: Option<IpAddr>) -> bool {
    let Some(ip) = ip else { return false };
    list.as_array().is_some_and(|ranges| {
        ranges
            .iter()
            .filter_map(Value::as_str)
            .filter_map(idpool_core::policy::parse_cidr)
            .any(|range| range.contains(ip))
    })
}

/// Whether the configuration checks passwords at `event` (SIGN_IN, SIGN_UP,
/// PASSWORD_CHANGE) and blocks the breached ones. Without an `EventFilter`, Cognito
/// checks all events.
fn compromised_filter(config: &Value, event: &str) -> (bool, bool) {
    let cc = &config["CompromisedCredentialsRiskConfiguration"];
    if !cc.is_object() {
        return (false, false);
    }
    let checked = match cc["EventFilter"].as_array() {
        Some(events) => events.iter().any(|e| e == event),
        None => true,
    };
    (checked, cc["Actions"]["EventAction"] == "BLOCK")
}

async fn is_breached(ctx: &Ctx, password: &str) -> ApiResult<bool> {
    let list = ctx.state.config.breached_passwords.clone();
    let password = password.to_string();
    tokio::task::spawn_blocking(move || risk::is_breached(&password, list.as_deref()))
        .await
        .map_err(|e| internal(format!("breached-password check: {e}")))?
        .map_err(|e| internal(format!("breached-password list: {e}")))
}

fn internal(message: String) -> WireError {
    WireError::idp(E::InternalErrorException, message)
}

/// Sign-up and password changes in an ENFORCED pool refuse a breached password when the
/// compromised-credentials configuration blocks it for that event.
pub async fn check_new_password(
    ctx: &Ctx,
    pool: &PoolRow,
    client_id: Option<&str>,
    event: &str,
    password: &str,
) -> ApiResult<()> {
    if mode(pool) != Mode::Enforced {
        return Ok(());
    }
    let config = risk_configuration(ctx, pool, client_id).await?;
    let (checked, blocks) = compromised_filter(&config, event);
    if checked && blocks && is_breached(ctx, password).await? {
        return Err(WireError::idp(
            E::InvalidPasswordException,
            "Password does not conform to policy: the password has appeared in a data breach. Choose another password.",
        ));
    }
    Ok(())
}

/// Assesses a sign-in whose first factor was just proven. Records the sign-in as an
/// open event with its risk, notifies the user when the configuration says so, and
/// either refuses the sign-in or says what it needs next. Only a password sign-in can
/// be asked for a second factor: passwordless users cannot have MFA, and custom
/// authentication brings its own factors, so there the MFA actions let the sign-in
/// through (still notifying when asked). SRP never sends the password, so its sign-ins
/// are not checked for breached passwords, as in Cognito.
pub async fn assess_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: &mut UserRow,
    known_device: bool,
    proof: SignInProof<'_>,
) -> ApiResult<RiskResponse> {
    let mode = mode_for(pool, proof);
    if mode == Mode::Off {
        return Ok(RiskResponse::Allow);
    }
    let password = match proof {
        SignInProof::Password(password) => password,
        SignInProof::Passwordless | SignInProof::Custom => None,
    };
    let enforced = mode == Mode::Enforced;
    let config = risk_configuration(ctx, pool, Some(&client.client_id)).await?;
    let (checked, blocks_breached) = compromised_filter(&config, "SIGN_IN");
    let compromised = match password {
        Some(p) if checked => is_breached(ctx, p).await?,
        _ => false,
    };
    let exceptions = &config["RiskExceptionConfiguration"];
    let ip_blocked = in_ranges(&exceptions["BlockedIPRangeList"], ctx.source_ip);
    let level = if ip_blocked || in_ranges(&exceptions["SkippedIPRangeList"], ctx.source_ip) {
        None
    } else {
        score(ctx, pool, user, known_device).await?
    };
    let action = level.map_or(&Value::Null, |l| {
        &config["AccountTakeoverRiskConfiguration"]["Actions"][format!("{}Action", l.name())]
    });
    let event_action = action["EventAction"].as_str().unwrap_or("NO_ACTION");
    // AUDIT only watches: its events show the risk, never a block.
    let block =
        enforced && (ip_blocked || event_action == "BLOCK" || (compromised && blocks_breached));
    let mut risk = json!({
        "RiskDecision": if block { "Block" } else if level.is_some() { "AccountTakeover" } else { "NoRisk" },
        "CompromisedCredentialsDetected": compromised,
    });
    if let Some(l) = level {
        risk["RiskLevel"] = json!(l.name());
    }
    let proof_steps: &[StepResult] = match proof {
        SignInProof::Password(_) => &[StepResult {
            challenge: "Password",
            success: true,
        }],
        SignInProof::Passwordless | SignInProof::Custom => &[],
    };
    if block {
        let event_id =
            insert_event(ctx, pool, user, "SignIn", "Fail", proof_steps, Some(risk)).await?;
        if event_action == "BLOCK" && action["Notify"] == true {
            notify(ctx, pool, user, &config, Template::Block, &event_id).await?;
        }
        if compromised && blocks_breached && !ip_blocked {
            // Cognito makes the user choose a new password before signing in again.
            user.status = "RESET_REQUIRED".into();
            user.updated_at = ctx.now;
            ctx.state.store.update_user(user).await.wire()?;
            return Err(WireError::idp(
                E::PasswordResetRequiredException,
                "Password reset required for the user",
            ));
        }
        return Err(blocked());
    }
    let event_id = insert_event(
        ctx,
        pool,
        user,
        "SignIn",
        "InProgress",
        proof_steps,
        Some(risk),
    )
    .await?;
    if !enforced {
        return Ok(RiskResponse::Allow);
    }
    let response = match (event_action, proof) {
        ("MFA_IF_CONFIGURED", SignInProof::Password(_)) => RiskResponse::MfaIfPossible,
        ("MFA_REQUIRED", SignInProof::Password(_)) => RiskResponse::MfaRequired,
        _ => RiskResponse::Allow,
    };
    if action["Notify"] == true {
        let template = match response {
            RiskResponse::Allow => Template::NoAction,
            _ => Template::Mfa,
        };
        notify(ctx, pool, user, &config, template, &event_id).await?;
    }
    Ok(response)
}

async fn score(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    known_device: bool,
) -> ApiResult<Option<RiskLevel>> {
    let events = ctx
        .state
        .store
        .list_auth_events(&pool.id, &user.username_key, None, HISTORY_FOR_RISK)
        .await
        .wire()?;
    let history: Vec<PastEvent> = events
        .iter()
        .map(|e| PastEvent {
            doc: &e.doc,
            created_at: e.created_at,
        })
        .collect();
    let located = ctx.source_ip.and_then(|ip| locate(ctx, ip));
    let place = located.as_ref().and_then(|l| {
        Some(risk::Place {
            city: l.city.as_deref()?,
            country: l.country.as_deref()?,
        })
    });
    let device = device_hash(ctx);
    let attempt = risk::Attempt {
        ip: ctx.source_ip,
        place,
        known_device,
        device: device.as_deref(),
    };
    Ok(risk::assess_sign_in(&history, &attempt, ctx.now))
}

#[derive(Debug, Clone, Copy)]
enum Template {
    Block,
    Mfa,
    NoAction,
}

impl Template {
    fn key(self) -> &'static str {
        match self {
            Template::Block => "BlockEmail",
            Template::Mfa => "MfaEmail",
            Template::NoAction => "NoActionEmail",
        }
    }

    /// Used when `NotifyConfiguration` has no template of this kind.
    fn default_subject(self) -> &'static str {
        match self {
            Template::Block => "Blocked sign-in attempt",
            Template::Mfa | Template::NoAction => "New sign-in attempt",
        }
    }

    fn default_text(self) -> &'static str {
        match self {
            Template::Block => {
                "We blocked an unrecognized sign-in to your account with this information:\n\
                 Time: {login-time}\nDevice: {device-name}\nLocation: {city}, {country}\n\
                 IP address: {ip-address}\n\n\
                 If this sign-in was not by you, change your password and tell us: {one-click-link-invalid}\n\
                 If this sign-in was by you, tell us so and you can sign in again: {one-click-link-valid}\n"
            }
            Template::Mfa | Template::NoAction => {
                "We noticed a new sign-in to your account with this information:\n\
                 Time: {login-time}\nDevice: {device-name}\nLocation: {city}, {country}\n\
                 IP address: {ip-address}\n\n\
                 If this sign-in was by you, tell us: {one-click-link-valid}\n\
                 If it was not, change your password and tell us: {one-click-link-invalid}\n"
            }
        }
    }
}

/// Emails the user about a sign-in, with links that rate the event once confirmed on
/// their page (they carry the same token UpdateAuthEventFeedback takes). Like Cognito, only users with an
/// email address are notified. City and country need `--geoip-database`, the device a
/// User-Agent; what is not known reads "unknown".
async fn notify(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    config: &Value,
    template: Template,
    event_id: &str,
) -> ApiResult<()> {
    let Some(email) = user.attr("email").filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    let custom = &config["AccountTakeoverRiskConfiguration"]["NotifyConfiguration"][template.key()];
    let subject = custom["Subject"]
        .as_str()
        .unwrap_or(template.default_subject());
    let body = custom["TextBody"]
        .as_str()
        .unwrap_or(template.default_text());
    let token = feedback_token(ctx, &pool.id, &user.username_key, event_id);
    let link = |value: &str| {
        format!(
            "{}/_idpool/auth-event-feedback?{}",
            ctx.state.public_url,
            crate::oauth::authorize::form_urlencoded_pairs(&[
                ("pool", pool.id.clone()),
                ("username", user.username.clone()),
                ("event", event_id.to_string()),
                ("value", value.to_string()),
                ("token", token.clone()),
            ])
        )
    };
    let login_time = idpool_wire::query::iso8601(ctx.now / 1000);
    let ip = ctx
        .source_ip
        .map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    let located = ctx.source_ip.and_then(|ip| locate(ctx, ip));
    let city = located.as_ref().and_then(|l| l.city.as_deref());
    let country = located.as_ref().and_then(|l| l.country.as_deref());
    let device = device_name(ctx);
    let fill = |text: &str| {
        text.replace("{username}", &user.username)
            .replace("{ip-address}", &ip)
            .replace("{city}", city.unwrap_or("unknown"))
            .replace("{country}", country.unwrap_or("unknown"))
            .replace("{device-name}", device.as_deref().unwrap_or("unknown"))
            .replace("{login-time}", &login_time)
            .replace("{one-click-link-valid}", &link("Valid"))
            .replace("{one-click-link-invalid}", &link("Invalid"))
    };
    deliver(
        ctx,
        pool,
        user,
        "EMAIL",
        email,
        Some(fill(subject)),
        fill(body),
        None,
    )
    .await
}

/// The factor adaptive authentication asks of a user who has not turned MFA on: one
/// the pool offers and the user can receive, in this order: a text message to their
/// phone, a code to their email address, their verified authenticator app.
pub fn adaptive_mfa_factor(pool: &PoolRow, user: &UserRow) -> Option<&'static str> {
    use super::mfa::{EMAIL_OTP, SMS_MFA, SOFTWARE_TOKEN_MFA, UserMfa};
    let offered = super::mfa::pool_factors(pool);
    let has = |attr: &str| user.attr(attr).is_some_and(|v| !v.is_empty());
    [
        (SMS_MFA, has("phone_number")),
        (EMAIL_OTP, has("email")),
        (SOFTWARE_TOKEN_MFA, UserMfa::of(user).totp_secret.is_some()),
    ]
    .into_iter()
    .find(|(factor, reachable)| *reachable && offered.contains(factor))
    .map(|(factor, _)| factor)
}
