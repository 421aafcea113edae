//! Sign-in: InitiateAuth, AdminInitiateAuth, RespondToAuthChallenge,
//! AdminRespondToAuthChallenge, RevokeToken, GlobalSignOut.
//!
//! Every flow proves the password first (USER_PASSWORD_AUTH, the admin flows, or SRP's
//! PASSWORD_VERIFIER), then goes through `after_password`: account state, remembered
//! device (DEVICE_SRP_AUTH), MFA, and finally tokens. Each challenge's `Session` is
//! spent when its step completes, so it works once.

use super::Ctx;
use super::admin_users::{set_password, sign_out_everywhere, write_attributes};
use super::devices;
use super::error::{ApiResult, OrWire};
use super::mfa::{self, EMAIL_OTP, SMS_MFA, SOFTWARE_TOKEN_MFA, UserMfa};
use super::passkeys;
use super::support::*;
use idpool_core::attributes::Writer;
use idpool_core::auth::password::PasswordRecord;
use idpool_core::auth::srp;
use idpool_core::crypto::{self, sha256_hex};
use idpool_core::password_policy::PasswordPolicy;
use idpool_store::{ClientRow, PoolRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The passwordless SMS first factor of USER_AUTH (SMS_MFA is the second factor).
const SMS_OTP: &str = "SMS_OTP";

/// After this many failed proofs in a row (password, SRP or one-time code) the account
/// locks, doubling from one second up to 15 minutes: online guessing must not be cheap.
/// The counter lives on the user row, so it holds across nodes.
const LOCKOUT_AFTER: i64 = 5;
const LOCKOUT_MAX_SECONDS: i64 = 900;
/// How far a client's SRP TIMESTAMP may be from our clock.
const SRP_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

fn incorrect() -> WireError {
    WireError::idp(E::NotAuthorizedException, "Incorrect username or password.")
}

fn missing(name: &str) -> WireError {
    WireError::invalid_parameter(format!("Missing required parameter {name}"))
}

fn flow_allowed(client: &ClientRow, names: &[&str]) -> bool {
    client.config["ExplicitAuthFlows"]
        .as_array()
        .is_some_and(|flows| {
            flows
                .iter()
                .any(|f| names.contains(&f.as_str().unwrap_or_default()))
        })
}

/// SRP is on for clients created without ExplicitAuthFlows (Cognito's default set is
/// SRP, refresh and custom), for ALLOW_USER_SRP_AUTH, and for legacy flow lists unless
/// they say CUSTOM_AUTH_FLOW_ONLY.
fn srp_allowed(client: &ClientRow) -> bool {
    match client.config["ExplicitAuthFlows"].as_array() {
        None => true,
        Some(flows) => {
            let names: Vec<&str> = flows.iter().filter_map(|f| f.as_str()).collect();
            names.contains(&"ALLOW_USER_SRP_AUTH")
                || (!names.iter().any(|f| f.starts_with("ALLOW_"))
                    && !names.contains(&"CUSTOM_AUTH_FLOW_ONLY"))
        }
    }
}

fn prevent_existence_errors(client: &ClientRow) -> bool {
    client.config["PreventUserExistenceErrors"] == "ENABLED"
}

/// What a sign-in step produced: tokens, or a challenge to answer first.
struct Outcome {
    result: Option<AuthenticationResultType>,
    challenge: Option<(String, BTreeMap<String, String>, String)>,
    /// SELECT_CHALLENGE's AvailableChallenges.
    available: Option<Vec<String>>,
}

impl Outcome {
    fn tokens(result: AuthenticationResultType) -> Outcome {
        Outcome {
            result: Some(result),
            challenge: None,
            available: None,
        }
    }
    fn challenge(name: &str, params: BTreeMap<String, String>, session: String) -> Outcome {
        Outcome {
            result: None,
            challenge: Some((name.to_string(), params, session)),
            available: None,
        }
    }
}

fn failures(user: &UserRow) -> i64 {
    user.extra
        .get("failedSignIns")
        .and_then(|v| v.as_i64())
        .unwrap_or(0)
}

fn ensure_can_sign_in(ctx: &Ctx, user: &UserRow) -> ApiResult<()> {
    if !user.enabled {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "User is disabled.",
        ));
    }
    let locked_until = user
        .extra
        .get("lockedUntil")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    if locked_until > ctx.now {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Password attempts exceeded",
        ));
    }
    Ok(())
}

/// Counts a failed proof and stores it (with the lockout it may trigger).
async fn record_failure(ctx: &Ctx, user: &mut UserRow) -> ApiResult<()> {
    let n = failures(user) + 1;
    user.extra.insert("failedSignIns".into(), json!(n));
    if n >= LOCKOUT_AFTER {
        let secs = (1i64 << (n - LOCKOUT_AFTER).min(10)).min(LOCKOUT_MAX_SECONDS);
        user.extra
            .insert("lockedUntil".into(), json!(ctx.now + secs * 1000));
    }
    ctx.state.store.update_user(user).await.wire()
}

/// Resets the counter after a successful proof; true if the row changed.
fn clear_failures(user: &mut UserRow) -> bool {
    let had = user.extra.remove("failedSignIns").is_some();
    user.extra.remove("lockedUntil").is_some() || had
}

/// The user a sign-in names, refusing unknown (as PreventUserExistenceErrors says),
/// disabled and locked-out users.
async fn sign_in_user(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    username: &str,
) -> ApiResult<Option<UserRow>> {
    match find_user(ctx, pool, username).await? {
        Some(user) => {
            ensure_can_sign_in(ctx, &user)?;
            Ok(Some(user))
        }
        None if prevent_existence_errors(client) => Ok(None),
        None => Err(user_not_found()),
    }
}

fn password_record(user: &UserRow) -> Option<PasswordRecord> {
    user.password
        .clone()
        .and_then(|p| serde_json::from_value(p).ok())
}

async fn password_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    username: &str,
    password: &str,
    device_key: Option<&str>,
) -> ApiResult<Outcome> {
    let Some(mut user) = sign_in_user(ctx, pool, client, username).await? else {
        return Err(incorrect());
    };
    let Some(record) = password_record(&user) else {
        return Err(incorrect());
    };
    if !record
        .matches(&ctx.state.master, &pool.id, password)
        .wire()?
    {
        record_failure(ctx, &mut user).await?;
        return Err(incorrect());
    }
    after_password(ctx, pool, client, user, &record, device_key).await
}

/// The password is proven: account state, then device and MFA.
async fn after_password(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: UserRow,
    record: &PasswordRecord,
    device_key: Option<&str>,
) -> ApiResult<Outcome> {
    // The failure counter is cleared only when the whole sign-in succeeds (`finish`):
    // clearing it here would let someone who knows the password reset it between
    // guesses at the MFA code.
    match user.status.as_str() {
        "UNCONFIRMED" => {
            return Err(WireError::idp(
                E::UserNotConfirmedException,
                "User is not confirmed.",
            ));
        }
        "RESET_REQUIRED" => {
            return Err(WireError::idp(
                E::PasswordResetRequiredException,
                "Password reset required for the user",
            ));
        }
        "FORCE_CHANGE_PASSWORD" => {
            let days =
                PasswordPolicy::from_pool_config(&pool.config).temporary_password_validity_days;
            if record.temporary && ctx.now > record.set_at + days * 86_400_000 {
                return Err(WireError::idp(
                    E::NotAuthorizedException,
                    "Temporary password has expired and must be reset by an administrator.",
                ));
            }
            let mut attrs = serde_json::Map::new();
            for (k, v) in &user.attributes {
                if !k.ends_with("_verified") && !k.starts_with("dev:") {
                    attrs.insert(k.clone(), v.clone());
                }
            }
            let params = BTreeMap::from([
                ("USER_ID_FOR_SRP".to_string(), record.srp_username.clone()),
                ("requiredAttributes".to_string(), "[]".to_string()),
                (
                    "userAttributes".to_string(),
                    Value::Object(attrs).to_string(),
                ),
            ]);
            let session = new_session(
                ctx,
                client,
                &user,
                "NEW_PASSWORD_REQUIRED",
                json!({"dk": device_key}),
            );
            return Ok(Outcome::challenge("NEW_PASSWORD_REQUIRED", params, session));
        }
        _ => {}
    }
    if let Some(dk) = device_key
        && devices::confirmed_device(ctx, &user, dk)
            .await?
            .is_some_and(|d| d.remembered_status.as_deref() == Some("remembered"))
    {
        // A remembered device skips MFA once it proves its own secret; clients treat
        // the answer to DEVICE_PASSWORD_VERIFIER as final, so MFA is decided here.
        let session = new_session(ctx, client, &user, "DEVICE_SRP_AUTH", json!({"dk": dk}));
        let params = BTreeMap::from([("USERNAME".to_string(), user.username.clone())]);
        return Ok(Outcome::challenge("DEVICE_SRP_AUTH", params, session));
    }
    second_factor(ctx, pool, client, user, device_key).await
}

/// MFA as the pool and the user configure it: nothing, one factor's challenge,
/// SELECT_MFA_TYPE when several are on and none is preferred, or MFA_SETUP when MFA is
/// required and the user has no factor yet.
async fn second_factor(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: UserRow,
    device_key: Option<&str>,
) -> ApiResult<Outcome> {
    let mode = mfa::pool_mode(pool);
    if mode == "OFF" {
        return finish(ctx, pool, client, user, device_key).await;
    }
    let offered = mfa::pool_factors(pool);
    let settings = UserMfa::of(&user);
    let mut factors: Vec<&str> = settings
        .enabled
        .iter()
        .map(String::as_str)
        .filter(|f| offered.contains(f) || *f == SOFTWARE_TOKEN_MFA)
        .collect();
    if factors.is_empty() && mode == "ON" {
        // Required MFA with no choice made: SMS when the user has a phone, as Cognito.
        if offered.contains(&SMS_MFA) && user.attr("phone_number").is_some_and(|p| !p.is_empty()) {
            factors.push(SMS_MFA);
        } else {
            let can_setup: Vec<&str> = offered
                .iter()
                .copied()
                .filter(|f| *f == SOFTWARE_TOKEN_MFA)
                .collect();
            if can_setup.is_empty() {
                return Err(WireError::idp(
                    E::InvalidUserPoolConfigurationException,
                    "MFA is required but the user has no MFA factor and the pool offers none that can be set up during sign-in.",
                ));
            }
            let session = new_session(
                ctx,
                client,
                &user,
                "MFA_SETUP",
                json!({"dk": device_key, "verified": false}),
            );
            let params =
                BTreeMap::from([("MFAS_CAN_SETUP".to_string(), json!(can_setup).to_string())]);
            return Ok(Outcome::challenge("MFA_SETUP", params, session));
        }
    }
    let chosen = match settings.preferred.as_deref() {
        Some(p) if factors.contains(&p) => Some(p),
        _ if factors.len() == 1 => Some(factors[0]),
        _ => None,
    };
    match chosen {
        _ if factors.is_empty() => finish(ctx, pool, client, user, device_key).await,
        Some(factor) => mfa_challenge(ctx, pool, client, user, factor, device_key).await,
        None => {
            let session = new_session(
                ctx,
                client,
                &user,
                "SELECT_MFA_TYPE",
                json!({"dk": device_key, "choices": factors}),
            );
            let params = BTreeMap::from([
                ("MFAS_CAN_CHOOSE".to_string(), json!(factors).to_string()),
                ("USER_ID_FOR_SRP".to_string(), user.username.clone()),
            ]);
            Ok(Outcome::challenge("SELECT_MFA_TYPE", params, session))
        }
    }
}

/// Asks for one factor, sending the code first for SMS and email.
async fn mfa_challenge(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: UserRow,
    factor: &str,
    device_key: Option<&str>,
) -> ApiResult<Outcome> {
    let mut params = BTreeMap::from([("USER_ID_FOR_SRP".to_string(), user.username.clone())]);
    match factor {
        SMS_MFA | SMS_OTP | EMAIL_OTP => {
            let attr = if factor == EMAIL_OTP {
                "email"
            } else {
                "phone_number"
            };
            if user.attr(attr).is_none_or(str::is_empty) {
                return Err(WireError::idp(
                    E::InvalidParameterException,
                    format!("The user has no {attr} to send the {factor} code to."),
                ));
            }
            let details = send_code_via(ctx, pool, &user, CodePurpose::SignIn, Some(attr))
                .await?
                .ok_or_else(|| WireError::invalid_parameter("No delivery destination"))?;
            params.insert(
                "CODE_DELIVERY_DELIVERY_MEDIUM".into(),
                details.delivery_medium.unwrap_or_default(),
            );
            params.insert(
                "CODE_DELIVERY_DESTINATION".into(),
                details.destination.unwrap_or_default(),
            );
        }
        _ => {
            if let Some(name) = user.extra.get("totpFriendlyName").and_then(|v| v.as_str()) {
                params.insert("FRIENDLY_DEVICE_NAME".into(), name.to_string());
            }
        }
    }
    let session = new_session(ctx, client, &user, factor, json!({"dk": device_key}));
    Ok(Outcome::challenge(factor, params, session))
}

/// Signed in: tokens, and device tracking as the pool's DeviceConfiguration asks.
async fn finish(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    mut user: UserRow,
    device_key: Option<&str>,
) -> ApiResult<Outcome> {
    if clear_failures(&mut user) {
        ctx.state.store.update_user(&user).await.wire()?;
    }
    let mut tokens = issue_tokens(ctx, pool, client, &user, None).await?;
    tokens.new_device_metadata = devices::track_sign_in(ctx, pool, &user, device_key).await?;
    Ok(Outcome::tokens(tokens))
}

async fn refresh_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    params: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    let invalid = || WireError::idp(E::NotAuthorizedException, "Invalid Refresh Token");
    let token = params
        .get("REFRESH_TOKEN")
        .ok_or_else(|| missing("REFRESH_TOKEN"))?;
    let row = ctx
        .state
        .store
        .get_refresh_token(&sha256_hex(token.as_bytes()))
        .await
        .wire()?
        .ok_or_else(invalid)?;
    if row.client_id != client.client_id || row.pool_id != pool.id {
        return Err(invalid());
    }
    if row.revoked_at.is_some() {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Refresh Token has been revoked",
        ));
    }
    if row.expires_at < ctx.now {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Refresh Token has expired",
        ));
    }
    let user: UserRow = ctx
        .state
        .store
        .get_user(&pool.id, &row.username_key)
        .await
        .wire()?
        .ok_or_else(invalid)?;
    if client.secret.is_some() {
        // Cognito checks the hash against the username the token belongs to.
        let provided = params.get("SECRET_HASH").map(String::as_str);
        check_secret_hash(
            ctx,
            client,
            params
                .get("USERNAME")
                .map(String::as_str)
                .unwrap_or(&user.username),
            provided,
        )?;
    }
    if !user.enabled {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "User is disabled.",
        ));
    }
    let tokens = issue_tokens(ctx, pool, client, &user, Some(&row)).await?;
    Ok(Outcome::tokens(tokens))
}

/// What SECRET_BLOCK carries, sealed with the master key: who the exchange is for and
/// the key K the server already derived, so PASSWORD_VERIFIER needs no stored state
/// (pycognito answers without the Session) and any node can check it.
#[derive(Serialize, Deserialize)]
pub struct SrpBlock {
    pub p: String,
    pub c: String,
    pub u: String,
    /// K, hex. A decoy exchange (unknown user) carries the K of a random verifier that
    /// no password matches.
    pub k: String,
    pub exp: i64,
    /// The device key of a DEVICE_SRP_AUTH exchange.
    #[serde(default)]
    pub dk: Option<String>,
}

pub fn seal_block(ctx: &Ctx, block: &SrpBlock) -> String {
    ctx.state.master.encrypt(
        serde_json::to_string(block).expect("serializes").as_bytes(),
        b"srp-secret-block",
    )
}

/// Runs the server's side of SRP for a verifier: returns (SRP_B hex, K).
pub fn srp_exchange(srp_a_hex: &str, verifier: &[u8]) -> ApiResult<(String, [u8; 16])> {
    let a = hex::decode(if srp_a_hex.len() % 2 == 1 {
        format!("0{srp_a_hex}")
    } else {
        srp_a_hex.to_string()
    })
    .map_err(|_| WireError::invalid_parameter("SRP_A is not a hexadecimal number."))?;
    let eph = srp::server_ephemeral(verifier)
        .map_err(|_| WireError::idp(E::InternalErrorException, "stored SRP verifier"))?;
    let key = srp::server_session_key(&a, &eph.big_b, &eph.b, verifier).map_err(|e| match e {
        srp::SrpError::InvalidA | srp::SrpError::Malformed => {
            WireError::invalid_parameter("SRP_A is not a valid SRP value.")
        }
        srp::SrpError::InvalidU => incorrect(),
    })?;
    Ok((hex::encode(&eph.big_b), key))
}

/// Opens a PASSWORD_CLAIM_SECRET_BLOCK, checks its signature and timestamp, and spends
/// it. `realm`/`username` are what the client signed with: the pool name and
/// USER_ID_FOR_SRP, or the device group key and device key.
pub async fn check_password_claim(
    ctx: &Ctx,
    responses: &BTreeMap<String, String>,
    expect_realm: impl FnOnce(&SrpBlock) -> ApiResult<(String, String)>,
) -> ApiResult<SrpBlock> {
    let block_text = responses
        .get("PASSWORD_CLAIM_SECRET_BLOCK")
        .ok_or_else(|| missing("PASSWORD_CLAIM_SECRET_BLOCK"))?;
    let signature = responses
        .get("PASSWORD_CLAIM_SIGNATURE")
        .ok_or_else(|| missing("PASSWORD_CLAIM_SIGNATURE"))?;
    let timestamp = responses
        .get("TIMESTAMP")
        .ok_or_else(|| missing("TIMESTAMP"))?;
    let block: SrpBlock = ctx
        .state
        .master
        .decrypt(block_text, b"srp-secret-block")
        .ok()
        .and_then(|plain| serde_json::from_slice(&plain).ok())
        .ok_or_else(incorrect)?;
    if block.exp < ctx.now {
        return Err(session_expired());
    }
    let ts = srp::parse_timestamp(timestamp).ok_or_else(|| {
        WireError::invalid_parameter("TIMESTAMP is not in the format EEE MMM d HH:mm:ss UTC yyyy.")
    })?;
    if (ts - ctx.now_s()).abs() > SRP_CLOCK_SKEW_SECONDS {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "TIMESTAMP is too far from the server's time.",
        ));
    }
    let (realm, username) = expect_realm(&block)?;
    let key: [u8; 16] = hex::decode(&block.k)
        .ok()
        .and_then(|k| k.try_into().ok())
        .unwrap_or([0; 16]);
    let block_bytes = idpool_core::crypto::b64_decode(block_text).ok_or_else(incorrect)?;
    let expected = srp::claim_signature(&key, &realm, &username, &block_bytes, timestamp);
    let given = idpool_core::crypto::b64_decode(signature).unwrap_or_default();
    let valid = !block.k.is_empty() && crypto::constant_time_eq(&expected, &given);
    // One exchange, one answer: a captured block cannot be replayed, right or wrong.
    let first = ctx
        .state
        .store
        .consume_once(
            &format!("srp:{}", sha256_hex(block_text.as_bytes())),
            block.exp,
            ctx.now,
        )
        .await
        .wire()?;
    if !first {
        return Err(session_used());
    }
    if !valid {
        return Err(incorrect());
    }
    Ok(block)
}

async fn srp_start(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    params: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    if !srp_allowed(client) {
        return Err(WireError::invalid_parameter(
            "USER_SRP_AUTH is not enabled for this client.",
        ));
    }
    let username = params.get("USERNAME").ok_or_else(|| missing("USERNAME"))?;
    let srp_a = params.get("SRP_A").ok_or_else(|| missing("SRP_A"))?;
    check_secret_hash(
        ctx,
        client,
        username,
        params.get("SECRET_HASH").map(String::as_str),
    )?;
    let user = sign_in_user(ctx, pool, client, username).await?;
    password_verifier_challenge(ctx, pool, client, username, user.as_ref(), srp_a)
}

/// SRP's first round trip: SRP_B, SALT and the sealed SECRET_BLOCK for `user`, or a
/// decoy for an unknown one.
fn password_verifier_challenge(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    username: &str,
    user: Option<&UserRow>,
    srp_a: &str,
) -> ApiResult<Outcome> {
    let exp = ctx.now + 5 * 60 * 1000;
    let record = user.and_then(password_record);
    let (salt, srp_b, key, srp_id, user_name, username_key) = match (user, &record) {
        (Some(user), Some(record)) => {
            let v = record.verifier_bytes(&ctx.state.master).wire()?;
            let (b, k) = srp_exchange(srp_a, &v)?;
            (
                record.salt.clone(),
                b,
                hex::encode(k),
                record.srp_username.clone(),
                user.username.clone(),
                user.username_key.clone(),
            )
        }
        _ => {
            // Unknown user (PreventUserExistenceErrors) or no password: a decoy exchange
            // that looks like a real one and can never succeed. The salt is stable per
            // name so probing twice shows nothing either.
            // Keyed, or anyone could compute the decoy and tell it from a real salt.
            let mut salt = ctx
                .state
                .master
                .keyed_hash(format!("{}\n{username}", pool.id).as_bytes());
            salt.truncate(16);
            if salt[0] == 0 {
                salt[0] = 1; // as real salts never start with a zero byte
            }
            let salt = hex::encode(salt);
            let decoy = srp::verifier(&crypto::random_bytes(32).try_into().expect("32"));
            // K is the decoy's own, never derivable by the client: no answer matches.
            let (b, k) = srp_exchange(srp_a, &decoy)?;
            (
                salt,
                b,
                hex::encode(k),
                username.to_string(),
                username.to_string(),
                username_key(pool, username),
            )
        }
    };
    let block = seal_block(
        ctx,
        &SrpBlock {
            p: pool.id.clone(),
            c: client.client_id.clone(),
            u: username_key,
            k: key,
            exp,
            dk: None,
        },
    );
    let out = BTreeMap::from([
        ("SALT".to_string(), salt),
        ("SECRET_BLOCK".to_string(), block),
        ("SRP_B".to_string(), srp_b),
        ("USERNAME".to_string(), user_name),
        ("USER_ID_FOR_SRP".to_string(), srp_id),
    ]);
    let session = match user {
        Some(u) => new_session(ctx, client, u, "PASSWORD_VERIFIER", json!({})),
        // Sealed like a real session (same fields, so about the same length), but for
        // no user: answering with it can only fail.
        None => ctx.state.master.encrypt(
            json!({"id": idpool_core::ids::uuid(), "p": pool.id, "c": client.client_id,
                   "u": "", "ch": "PASSWORD_VERIFIER", "d": {}, "exp": exp})
            .to_string()
            .as_bytes(),
            b"challenge-session",
        ),
    };
    Ok(Outcome::challenge("PASSWORD_VERIFIER", out, session))
}

/// The first factors USER_AUTH offers this user: what the pool's
/// `Policies.SignInPolicy.AllowedFirstAuthFactors` allows (PASSWORD by default) and the
/// user can do. PASSWORD also admits PASSWORD_SRP, as Cognito lists both.
pub(super) fn first_factors(pool: &PoolRow, user: &UserRow) -> Vec<&'static str> {
    let allowed: Vec<String> = pool.config["Policies"]["SignInPolicy"]["AllowedFirstAuthFactors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_else(|| vec!["PASSWORD".to_string()]);
    let has = |attr: &str| user.attr(attr).is_some_and(|v| !v.is_empty());
    let mut out = Vec::new();
    if allowed.iter().any(|f| f == "PASSWORD") && user.password.is_some() {
        out.extend(["PASSWORD", "PASSWORD_SRP"]);
    }
    if allowed.iter().any(|f| f == EMAIL_OTP) && has("email") {
        out.push(EMAIL_OTP);
    }
    if allowed.iter().any(|f| f == SMS_OTP) && has("phone_number") {
        out.push(SMS_OTP);
    }
    if allowed.iter().any(|f| f == "WEB_AUTHN") && !passkeys::stored(user).is_empty() {
        out.push("WEB_AUTHN");
    }
    out
}

/// USER_AUTH: the factor named by PREFERRED_CHALLENGE when it is available, else
/// SELECT_CHALLENGE with AvailableChallenges.
async fn choice_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    params: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    if !flow_allowed(client, &["ALLOW_USER_AUTH"]) {
        return Err(WireError::invalid_parameter(
            "USER_AUTH flow not enabled for this client",
        ));
    }
    let username = params.get("USERNAME").ok_or_else(|| missing("USERNAME"))?;
    check_secret_hash(
        ctx,
        client,
        username,
        params.get("SECRET_HASH").map(String::as_str),
    )?;
    let Some(user) = sign_in_user(ctx, pool, client, username).await? else {
        return Err(incorrect());
    };
    let factors = first_factors(pool, &user);
    if let Some(preferred) = params.get("PREFERRED_CHALLENGE")
        && let Some(factor) = factors.iter().find(|f| *f == preferred)
    {
        return first_factor(ctx, pool, client, user, factor, params).await;
    }
    if factors.is_empty() {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "The user has no sign-in factor this pool allows.",
        ));
    }
    let session = new_session(
        ctx,
        client,
        &user,
        "SELECT_CHALLENGE",
        json!({"choices": factors}),
    );
    let mut o = Outcome::challenge("SELECT_CHALLENGE", BTreeMap::new(), session);
    o.available = Some(factors.iter().map(|f| f.to_string()).collect());
    Ok(o)
}

/// Starts one first factor of USER_AUTH; `params` holds what the client sent with it
/// (PASSWORD, SRP_A).
async fn first_factor(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    mut user: UserRow,
    factor: &str,
    params: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    match factor {
        "PASSWORD" => {
            let password = params.get("PASSWORD").ok_or_else(|| missing("PASSWORD"))?;
            let record = password_record(&user).ok_or_else(incorrect)?;
            if !record
                .matches(&ctx.state.master, &pool.id, password)
                .wire()?
            {
                record_failure(ctx, &mut user).await?;
                return Err(incorrect());
            }
            let device_key = params.get("DEVICE_KEY").map(String::as_str);
            after_password(ctx, pool, client, user, &record, device_key).await
        }
        "PASSWORD_SRP" => {
            let srp_a = params.get("SRP_A").ok_or_else(|| missing("SRP_A"))?;
            let name = user.username.clone();
            password_verifier_challenge(ctx, pool, client, &name, Some(&user), srp_a)
        }
        // Passwordless: the code is the whole proof, so it ends in tokens (mfa_answer).
        EMAIL_OTP | SMS_OTP => {
            if user.status != "CONFIRMED" {
                return Err(WireError::idp(
                    E::UserNotConfirmedException,
                    "User is not confirmed.",
                ));
            }
            mfa_challenge(ctx, pool, client, user, factor, None).await
        }
        "WEB_AUTHN" => {
            let ceremony = idpool_core::ids::uuid();
            let options = passkeys::start_sign_in(ctx, pool, &mut user, &ceremony).await?;
            let session = new_session(ctx, client, &user, "WEB_AUTHN", json!({"wa": ceremony}));
            let params = BTreeMap::from([(
                "CREDENTIAL_REQUEST_OPTIONS".to_string(),
                options.to_string(),
            )]);
            Ok(Outcome::challenge("WEB_AUTHN", params, session))
        }
        other => Err(WireError::invalid_parameter(format!(
            "{other} is not an available challenge."
        ))),
    }
}

/// A passkey is the whole proof, like a passwordless code: tokens follow.
async fn web_authn_answer(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, mut user) =
        continue_session(ctx, pool, client, "WEB_AUTHN", session, responses).await?;
    let credential = responses
        .get("CREDENTIAL")
        .ok_or_else(|| missing("CREDENTIAL"))?;
    let ceremony = s.data["wa"].as_str().unwrap_or_default().to_string();
    if let Err(e) = passkeys::finish_sign_in(ctx, pool, &mut user, &ceremony, credential).await {
        record_failure(ctx, &mut user).await?;
        return Err(e);
    }
    spend(ctx, &s).await?;
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    finish(ctx, pool, client, user, None).await
}

async fn select_challenge(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (_, user, answer) = chosen(
        ctx,
        pool,
        client,
        "SELECT_CHALLENGE",
        responses,
        session,
        "AvailableChallenges",
    )
    .await?;
    first_factor(ctx, pool, client, user, &answer, responses).await
}

/// The ANSWER to SELECT_CHALLENGE or SELECT_MFA_TYPE, checked against the choices the
/// session offered (listed to the client as `offered_as`); spends the session.
async fn chosen(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    challenge: &str,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
    offered_as: &str,
) -> ApiResult<(Session, UserRow, String)> {
    let (s, user) = continue_session(ctx, pool, client, challenge, session, responses).await?;
    let answer = responses.get("ANSWER").ok_or_else(|| missing("ANSWER"))?;
    let offered = s.data["choices"]
        .as_array()
        .is_some_and(|c| c.iter().any(|f| f == answer.as_str()));
    if !offered {
        return Err(WireError::invalid_parameter(format!(
            "{answer} is not one of the choices offered ({offered_as})."
        )));
    }
    spend(ctx, &s).await?;
    let answer = answer.clone();
    Ok((s, user, answer))
}

async fn srp_verify(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    let given_name = responses
        .get("USERNAME")
        .ok_or_else(|| missing("USERNAME"))?;
    let block = check_password_claim(ctx, responses, |b| {
        if b.p != pool.id || b.c != client.client_id {
            return Err(incorrect());
        }
        Ok((srp::pool_name(&pool.id).to_string(), given_name.clone()))
    })
    .await;
    // A wrong signature is a wrong password: it counts towards the lockout.
    let block = match block {
        Ok(b) => b,
        Err(e) => {
            if e.message == incorrect().message
                && let Some(mut user) = find_user(ctx, pool, given_name).await?
            {
                record_failure(ctx, &mut user).await?;
            }
            return Err(e);
        }
    };
    let user = ctx
        .state
        .store
        .get_user(&pool.id, &block.u)
        .await
        .wire()?
        .ok_or_else(incorrect)?;
    ensure_can_sign_in(ctx, &user)?;
    let record = password_record(&user).ok_or_else(incorrect)?;
    if *given_name != record.srp_username {
        return Err(incorrect());
    }
    check_secret_hash_any(ctx, client, &user, responses)?;
    let device_key = responses.get("DEVICE_KEY").map(String::as_str);
    after_password(ctx, pool, client, user, &record, device_key).await
}

/// SECRET_HASH on a challenge answer: clients compute it over the name they typed or the
/// one Cognito returned, so any name of this user is accepted.
fn check_secret_hash_any(
    ctx: &Ctx,
    client: &ClientRow,
    user: &UserRow,
    responses: &BTreeMap<String, String>,
) -> ApiResult<()> {
    let provided = responses.get("SECRET_HASH").map(String::as_str);
    let mut names: Vec<&str> = vec![&user.username];
    if let Some(n) = responses.get("USERNAME") {
        names.push(n);
    }
    names.extend(
        ["email", "phone_number", "preferred_username"]
            .iter()
            .filter_map(|a| user.attr(a)),
    );
    let mut last = Ok(());
    for n in names {
        last = check_secret_hash(ctx, client, n, provided);
        if last.is_ok() {
            return last;
        }
    }
    last
}

/// Whether `given` (a challenge's USERNAME) names `user`.
fn names_user(pool: &PoolRow, user: &UserRow, given: &str) -> bool {
    given == user.username
        || username_key(pool, given) == user.username_key
        || given == user.sub
        || password_record(user).is_some_and(|r| r.srp_username == given)
        || ["email", "phone_number", "preferred_username"]
            .iter()
            .any(|a| user.attr(a) == Some(given))
}

/// Opens the Session of a challenge answer and loads its user, checking it belongs to
/// this pool, client and challenge and that the user may still sign in.
async fn continue_session(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    challenge: &str,
    session: Option<&str>,
    responses: &BTreeMap<String, String>,
) -> ApiResult<(Session, UserRow)> {
    let invalid = || WireError::idp(E::NotAuthorizedException, "Invalid session for the user.");
    let s = open_session(ctx, session.ok_or_else(|| missing("Session"))?)?;
    if s.challenge != challenge || s.pool_id != pool.id || s.client_id != client.client_id {
        return Err(invalid());
    }
    let user = ctx
        .state
        .store
        .get_user(&pool.id, &s.username_key)
        .await
        .wire()?
        .ok_or_else(invalid)?;
    let given = responses
        .get("USERNAME")
        .ok_or_else(|| missing("USERNAME"))?;
    if !names_user(pool, &user, given) {
        return Err(invalid());
    }
    check_secret_hash_any(ctx, client, &user, responses)?;
    ensure_can_sign_in(ctx, &user)?;
    if s.is_spent(ctx).await? {
        return Err(session_used());
    }
    Ok((s, user))
}

fn session_used() -> WireError {
    WireError::idp(
        E::NotAuthorizedException,
        "Invalid session for the user, session can only be used once.",
    )
}

async fn spend(ctx: &Ctx, s: &Session) -> ApiResult<()> {
    if s.spend(ctx).await? {
        Ok(())
    } else {
        Err(session_used())
    }
}

fn session_device(s: &Session, responses: &BTreeMap<String, String>) -> Option<String> {
    responses
        .get("DEVICE_KEY")
        .cloned()
        .or_else(|| s.data["dk"].as_str().map(String::from))
}

async fn start(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    flow: &str,
    params: &BTreeMap<String, String>,
    admin: bool,
) -> ApiResult<Outcome> {
    let username = params.get("USERNAME").map(String::as_str);
    let device_key = params.get("DEVICE_KEY").map(String::as_str);
    match flow {
        "USER_PASSWORD_AUTH" if !admin => {
            if !flow_allowed(client, &["ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"]) {
                return Err(WireError::invalid_parameter(
                    "USER_PASSWORD_AUTH flow not enabled for this client",
                ));
            }
            let username = username.ok_or_else(|| missing("USERNAME"))?;
            let password = params.get("PASSWORD").ok_or_else(|| missing("PASSWORD"))?;
            check_secret_hash(
                ctx,
                client,
                username,
                params.get("SECRET_HASH").map(String::as_str),
            )?;
            password_sign_in(ctx, pool, client, username, password, device_key).await
        }
        "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" if admin => {
            if !flow_allowed(
                client,
                &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"],
            ) {
                return Err(WireError::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            let username = username.ok_or_else(|| missing("USERNAME"))?;
            let password = params.get("PASSWORD").ok_or_else(|| missing("PASSWORD"))?;
            check_secret_hash(
                ctx,
                client,
                username,
                params.get("SECRET_HASH").map(String::as_str),
            )?;
            password_sign_in(ctx, pool, client, username, password, device_key).await
        }
        "USER_SRP_AUTH" => srp_start(ctx, pool, client, params).await,
        "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => refresh_sign_in(ctx, pool, client, params).await,
        "USER_AUTH" => choice_sign_in(ctx, pool, client, params).await,
        "CUSTOM_AUTH" => Err(WireError::invalid_parameter(format!(
            "{flow} is not supported by this idpool version yet."
        ))),
        _ => Err(WireError::invalid_parameter(
            "Initiate Auth method not supported",
        )),
    }
}

fn initiate_response(o: Outcome) -> InitiateAuthResponse {
    match o.challenge {
        Some((name, params, session)) => InitiateAuthResponse {
            challenge_name: Some(name),
            session: Some(session),
            challenge_parameters: Some(params),
            authentication_result: None,
            available_challenges: o.available,
        },
        None => InitiateAuthResponse {
            challenge_parameters: Some(BTreeMap::new()),
            authentication_result: o.result,
            ..Default::default()
        },
    }
}

pub async fn initiate_auth(ctx: Ctx, req: InitiateAuthRequest) -> ApiResult<InitiateAuthResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    let params = req.auth_parameters.clone().unwrap_or_default();
    Ok(initiate_response(
        start(&ctx, &pool, &client, &req.auth_flow, &params, false).await?,
    ))
}

pub async fn admin_initiate_auth(
    ctx: Ctx,
    req: AdminInitiateAuthRequest,
) -> ApiResult<AdminInitiateAuthResponse> {
    let (client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let params = req.auth_parameters.clone().unwrap_or_default();
    let r = initiate_response(start(&ctx, &pool, &client, &req.auth_flow, &params, true).await?);
    Ok(AdminInitiateAuthResponse {
        challenge_name: r.challenge_name,
        session: r.session,
        challenge_parameters: r.challenge_parameters,
        authentication_result: r.authentication_result,
        available_challenges: r.available_challenges,
    })
}

async fn new_password_required(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, mut user) = continue_session(
        ctx,
        pool,
        client,
        "NEW_PASSWORD_REQUIRED",
        session,
        responses,
    )
    .await?;
    if user.status != "FORCE_CHANGE_PASSWORD" {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Invalid session for the user.",
        ));
    }
    let new_password = responses
        .get("NEW_PASSWORD")
        .ok_or_else(|| missing("NEW_PASSWORD"))?;
    PasswordPolicy::from_pool_config(&pool.config)
        .check(new_password)
        .wire()?;
    let attrs: Vec<(String, String)> = responses
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("userAttributes.")
                .map(|n| (n.to_string(), v.clone()))
        })
        .collect();
    if !attrs.is_empty() {
        write_attributes(ctx, pool, &mut user, &attrs, Writer::User).await?;
    }
    spend(ctx, &s).await?;
    set_password(ctx, pool, &mut user, new_password, false);
    user.status = "CONFIRMED".into();
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    let device = session_device(&s, responses);
    second_factor(ctx, pool, client, user, device.as_deref()).await
}

async fn mfa_answer(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    challenge: &str,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, mut user) = continue_session(ctx, pool, client, challenge, session, responses).await?;
    let code_name = match challenge {
        SMS_MFA => "SMS_MFA_CODE",
        SMS_OTP => "SMS_OTP_CODE",
        EMAIL_OTP => "EMAIL_OTP_CODE",
        _ => "SOFTWARE_TOKEN_MFA_CODE",
    };
    let code = responses.get(code_name).ok_or_else(|| missing(code_name))?;
    let checked = if challenge == SOFTWARE_TOKEN_MFA {
        mfa::check_totp(ctx, &mut user, code)
    } else {
        consume_code(ctx, pool, &user, CodePurpose::SignIn, code).await
    };
    if let Err(e) = checked {
        if matches!(
            e.code,
            idpool_wire::ErrorCode::Idp(E::CodeMismatchException | E::ExpiredCodeException)
        ) {
            record_failure(ctx, &mut user).await?;
        }
        return Err(e);
    }
    spend(ctx, &s).await?;
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    let device = session_device(&s, responses);
    finish(ctx, pool, client, user, device.as_deref()).await
}

async fn select_mfa_type(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, user, answer) = chosen(
        ctx,
        pool,
        client,
        "SELECT_MFA_TYPE",
        responses,
        session,
        "MFAS_CAN_CHOOSE",
    )
    .await?;
    let device = session_device(&s, responses);
    mfa_challenge(ctx, pool, client, user, &answer, device.as_deref()).await
}

async fn mfa_setup(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, user) = continue_session(ctx, pool, client, "MFA_SETUP", session, responses).await?;
    if s.data["verified"] != true {
        return Err(WireError::invalid_parameter(
            "MFA setup is not complete: verify the software token with VerifySoftwareToken and answer with the Session it returns.",
        ));
    }
    spend(ctx, &s).await?;
    let device = session_device(&s, responses);
    finish(ctx, pool, client, user, device.as_deref()).await
}

async fn device_srp_auth(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, user) =
        continue_session(ctx, pool, client, "DEVICE_SRP_AUTH", session, responses).await?;
    let device_key = session_device(&s, responses).ok_or_else(|| missing("DEVICE_KEY"))?;
    let srp_a = responses.get("SRP_A").ok_or_else(|| missing("SRP_A"))?;
    let device = devices::confirmed_device(ctx, &user, &device_key)
        .await?
        .ok_or_else(|| WireError::idp(E::ResourceNotFoundException, "Device does not exist."))?;
    let verifier = devices::verifier_bytes(ctx, &device)?;
    let (srp_b, key) = srp_exchange(srp_a, &verifier)?;
    spend(ctx, &s).await?;
    let block = seal_block(
        ctx,
        &SrpBlock {
            p: pool.id.clone(),
            c: client.client_id.clone(),
            u: user.username_key.clone(),
            k: hex::encode(key),
            exp: ctx.now + 5 * 60 * 1000,
            dk: Some(device_key.clone()),
        },
    );
    let params = BTreeMap::from([
        ("DEVICE_KEY".to_string(), device_key.clone()),
        ("SALT".to_string(), devices::salt_hex(&device)?),
        ("SECRET_BLOCK".to_string(), block),
        ("SRP_B".to_string(), srp_b),
        ("USERNAME".to_string(), user.username.clone()),
    ]);
    let session = new_session(
        ctx,
        client,
        &user,
        "DEVICE_PASSWORD_VERIFIER",
        json!({"dk": device_key}),
    );
    Ok(Outcome::challenge(
        "DEVICE_PASSWORD_VERIFIER",
        params,
        session,
    ))
}

async fn device_password_verifier(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, mut user) = continue_session(
        ctx,
        pool,
        client,
        "DEVICE_PASSWORD_VERIFIER",
        session,
        responses,
    )
    .await?;
    let device_key = s.data["dk"].as_str().unwrap_or_default().to_string();
    let device = devices::confirmed_device(ctx, &user, &device_key)
        .await?
        .ok_or_else(|| WireError::idp(E::ResourceNotFoundException, "Device does not exist."))?;
    let checked = check_password_claim(ctx, responses, |b| {
        if b.p != pool.id
            || b.c != client.client_id
            || b.u != user.username_key
            || b.dk.as_deref() != Some(device_key.as_str())
        {
            return Err(incorrect());
        }
        Ok((device.group_key.clone(), device_key.clone()))
    })
    .await;
    if let Err(e) = checked {
        if e.message == incorrect().message {
            record_failure(ctx, &mut user).await?;
        }
        return Err(e);
    }
    spend(ctx, &s).await?;
    finish(ctx, pool, client, user, Some(&device_key)).await
}

async fn respond(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    challenge: &str,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    match challenge {
        "PASSWORD_VERIFIER" => srp_verify(ctx, pool, client, responses).await,
        "NEW_PASSWORD_REQUIRED" => {
            new_password_required(ctx, pool, client, responses, session).await
        }
        SMS_MFA | SMS_OTP | EMAIL_OTP | SOFTWARE_TOKEN_MFA => {
            mfa_answer(ctx, pool, client, challenge, responses, session).await
        }
        "SELECT_CHALLENGE" => select_challenge(ctx, pool, client, responses, session).await,
        "WEB_AUTHN" => web_authn_answer(ctx, pool, client, responses, session).await,
        "SELECT_MFA_TYPE" => select_mfa_type(ctx, pool, client, responses, session).await,
        "MFA_SETUP" => mfa_setup(ctx, pool, client, responses, session).await,
        "DEVICE_SRP_AUTH" => device_srp_auth(ctx, pool, client, responses, session).await,
        "DEVICE_PASSWORD_VERIFIER" => {
            device_password_verifier(ctx, pool, client, responses, session).await
        }
        other => Err(WireError::invalid_parameter(format!(
            "{other} is not supported by this idpool version yet."
        ))),
    }
}

pub async fn respond_to_auth_challenge(
    ctx: Ctx,
    req: RespondToAuthChallengeRequest,
) -> ApiResult<RespondToAuthChallengeResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    let responses = req.challenge_responses.clone().unwrap_or_default();
    let o = respond(
        &ctx,
        &pool,
        &client,
        &req.challenge_name,
        &responses,
        req.session.as_deref(),
    )
    .await?;
    let r = initiate_response(o);
    Ok(RespondToAuthChallengeResponse {
        challenge_name: r.challenge_name,
        session: r.session,
        challenge_parameters: r.challenge_parameters,
        authentication_result: r.authentication_result,
    })
}

pub async fn admin_respond_to_auth_challenge(
    ctx: Ctx,
    req: AdminRespondToAuthChallengeRequest,
) -> ApiResult<AdminRespondToAuthChallengeResponse> {
    let (client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let responses = req.challenge_responses.clone().unwrap_or_default();
    let o = respond(
        &ctx,
        &pool,
        &client,
        &req.challenge_name,
        &responses,
        req.session.as_deref(),
    )
    .await?;
    let r = initiate_response(o);
    Ok(AdminRespondToAuthChallengeResponse {
        challenge_name: r.challenge_name,
        session: r.session,
        challenge_parameters: r.challenge_parameters,
        authentication_result: r.authentication_result,
    })
}

/// Revokes a refresh token and, through `origin_jti`, the access tokens minted from it.
pub async fn revoke_token(ctx: Ctx, req: RevokeTokenRequest) -> ApiResult<RevokeTokenResponse> {
    let (client, _pool) = load_client(&ctx, &req.client_id).await?;
    if client.config["EnableTokenRevocation"] == false {
        return Err(WireError::idp(
            E::UnsupportedOperationException,
            "Token revocation is not enabled for this client.",
        ));
    }
    if let Some(secret) = client_secret(&ctx, &client)?
        && !req
            .client_secret
            .as_deref()
            .is_some_and(|s| constant_time_eq(s.as_bytes(), secret.as_bytes()))
    {
        return Err(WireError::idp(
            E::UnauthorizedException,
            "Invalid client secret.",
        ));
    }
    if idpool_core::tokens::jwt::decode(&req.token).is_some() {
        return Err(WireError::idp(
            E::UnsupportedTokenTypeException,
            "Only refresh tokens can be revoked.",
        ));
    }
    let hash = sha256_hex(req.token.as_bytes());
    if let Some(row) = ctx.state.store.get_refresh_token(&hash).await.wire()? {
        if row.client_id != client.client_id {
            return Err(WireError::idp(
                E::UnauthorizedException,
                "The token was not issued to this client.",
            ));
        }
        ctx.state
            .store
            .revoke_refresh_token(&hash, ctx.now)
            .await
            .wire()?;
    }
    // An unknown token is already as revoked as it can be (RFC 7009).
    Ok(RevokeTokenResponse {})
}

pub async fn global_sign_out(
    ctx: Ctx,
    req: GlobalSignOutRequest,
) -> ApiResult<GlobalSignOutResponse> {
    let (pool, mut user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    sign_out_everywhere(&ctx, &pool, &mut user).await?;
    Ok(GlobalSignOutResponse {})
}
