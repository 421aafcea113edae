//! WebAuthn passkeys: StartWebAuthnRegistration, CompleteWebAuthnRegistration,
//! ListWebAuthnCredentials, DeleteWebAuthnCredential, and the WEB_AUTHN first factor of
//! USER_AUTH (`auth.rs` calls `start_sign_in` / `finish_sign_in`). The WebAuthn
//! ceremony checks (challenge, origin, RP id hash, user verification, signature,
//! counter) are webauthn-rs's.
//!
//! The relying party is the pool's `WebAuthnConfiguration.RelyingPartyId` (set with
//! SetUserPoolMfaConfig), else the host of `--public-url`; pages on that host or its
//! subdomains, on any port, may use the passkeys. `http://` origins are allowed only
//! for `localhost`, as browsers allow WebAuthn there.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::*;
use idpool_core::crypto;
use idpool_store::{PoolRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs::prelude::*;

/// Cognito's limit of passkeys per user.
const MAX_PASSKEYS: usize = 20;
/// How long a registration or sign-in ceremony may take.
const CEREMONY_MS: i64 = 5 * 60 * 1000;
const LIST_LIMIT_DEFAULT: usize = 20;

/// A registered passkey, kept in `UserRow::extra["passkeys"]`.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredPasskey {
    pub id: String,
    pub name: String,
    pub rp_id: String,
    pub attachment: Option<String>,
    pub transports: Vec<String>,
    pub created_at: i64,
    pub passkey: Passkey,
}

pub fn stored(user: &UserRow) -> Vec<StoredPasskey> {
    user.extra
        .get("passkeys")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

fn save(user: &mut UserRow, keys: &[StoredPasskey]) {
    user.extra.insert(
        "passkeys".into(),
        serde_json::to_value(keys).expect("passkeys serialize"),
    );
}

/// Whether the pool lets passkeys be a first factor (its SignInPolicy).
pub fn enabled(pool: &PoolRow) -> bool {
    pool.config["Policies"]["SignInPolicy"]["AllowedFirstAuthFactors"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f == "WEB_AUTHN"))
}

fn rp_id(ctx: &Ctx, pool: &PoolRow) -> String {
    pool.config["WebAuthnConfiguration"]["RelyingPartyId"]
        .as_str()
        .map(String::from)
        .or_else(|| {
            Url::parse(&ctx.state.public_url)
                .ok()
                .and_then(|u| u.host_str().map(String::from))
        })
        .unwrap_or_else(|| "localhost".into())
}

fn relying_party(ctx: &Ctx, pool: &PoolRow) -> ApiResult<(String, Webauthn)> {
    let id = rp_id(ctx, pool);
    let misconfigured = |what: String| {
        WireError::idp(
            E::WebAuthnConfigurationMissingException,
            format!("The pool's WebAuthn relying party is not usable: {what}"),
        )
    };
    let origin = Url::parse(&format!("https://{id}")).map_err(|e| misconfigured(e.to_string()))?;
    let mut builder = WebauthnBuilder::new(&id, &origin)
        .map_err(|e| misconfigured(e.to_string()))?
        .rp_name(&pool.name)
        .allow_any_port(true)
        .allow_subdomains(true);
    if id == "localhost" {
        let local = Url::parse("http://localhost").expect("static URL");
        builder = builder.append_allowed_origin(&local);
    }
    let webauthn = builder.build().map_err(|e| misconfigured(e.to_string()))?;
    Ok((id, webauthn))
}

fn not_enabled() -> WireError {
    WireError::idp(
        E::WebAuthnNotEnabledException,
        "Passkeys are not enabled for this user pool: add WEB_AUTHN to Policies.SignInPolicy.AllowedFirstAuthFactors.",
    )
}

/// The WebAuthn user handle: the user's `sub` (a UUID for every user idpool creates).
fn user_uuid(user: &UserRow) -> Uuid {
    Uuid::parse_str(&user.sub).unwrap_or_else(|_| {
        let digest = crypto::sha256_hex(user.sub.as_bytes());
        let bytes: [u8; 16] = hex::decode(&digest[..32])
            .expect("hex")
            .try_into()
            .expect("16 bytes");
        Uuid::from_bytes(bytes)
    })
}

fn cred_id_text(passkey: &Passkey) -> String {
    serde_json::to_value(passkey.cred_id())
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

pub async fn start_web_authn_registration(
    ctx: Ctx,
    req: StartWebAuthnRegistrationRequest,
) -> ApiResult<StartWebAuthnRegistrationResponse> {
    let (pool, mut user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    if !enabled(&pool) {
        return Err(not_enabled());
    }
    let existing = stored(&user);
    if existing.len() >= MAX_PASSKEYS {
        return Err(WireError::idp(
            E::LimitExceededException,
            format!("A user can register at most {MAX_PASSKEYS} passkeys."),
        ));
    }
    let (_, webauthn) = relying_party(&ctx, &pool)?;
    let exclude: Vec<CredentialID> = existing
        .iter()
        .map(|k| k.passkey.cred_id().clone())
        .collect();
    let display = user
        .attr("email")
        .or(user.attr("preferred_username"))
        .unwrap_or(&user.username)
        .to_string();
    let (options, state) = webauthn
        .start_passkey_registration(user_uuid(&user), &user.username, &display, Some(exclude))
        .map_err(|e| WireError::invalid_parameter(format!("Cannot start registration: {e}")))?;
    user.extra.insert(
        "webauthnRegistration".into(),
        json!({"state": state, "exp": ctx.now + CEREMONY_MS}),
    );
    ctx.state.store.update_user(&user).await.wire()?;
    let options = serde_json::to_value(&options.public_key).expect("options serialize");
    Ok(StartWebAuthnRegistrationResponse {
        credential_creation_options: options,
    })
}

/// Maps a failed WebAuthn check to the exception Cognito names for it.
fn ceremony_error(e: WebauthnError) -> WireError {
    let text = e.to_string();
    match e {
        WebauthnError::InvalidRPOrigin => WireError::idp(
            E::WebAuthnOriginNotAllowedException,
            format!("The credential's origin is not allowed: {text}"),
        ),
        WebauthnError::InvalidRPIDHash => WireError::idp(
            E::WebAuthnRelyingPartyMismatchException,
            format!("The credential was made for another relying party: {text}"),
        ),
        WebauthnError::MismatchedChallenge | WebauthnError::InvalidClientDataType => {
            WireError::idp(
                E::WebAuthnClientMismatchException,
                format!("The credential does not answer this challenge: {text}"),
            )
        }
        _ => WireError::idp(
            E::WebAuthnCredentialNotSupportedException,
            format!("The credential was refused: {text}"),
        ),
    }
}

pub async fn complete_web_authn_registration(
    ctx: Ctx,
    req: CompleteWebAuthnRegistrationRequest,
) -> ApiResult<CompleteWebAuthnRegistrationResponse> {
    let (pool, mut user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    if !enabled(&pool) {
        return Err(not_enabled());
    }
    let pending = user
        .extra
        .remove("webauthnRegistration")
        .unwrap_or(Value::Null);
    let state: PasskeyRegistration = serde_json::from_value(pending["state"].clone())
        .ok()
        .filter(|_| pending["exp"].as_i64().unwrap_or(0) >= ctx.now)
        .ok_or_else(|| {
            WireError::idp(
                E::WebAuthnChallengeNotFoundException,
                "No registration in progress: call StartWebAuthnRegistration first.",
            )
        })?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(req.credential.clone())
        .map_err(|e| {
            WireError::invalid_parameter(format!(
                "Credential is not a WebAuthn registration response: {e}"
            ))
        })?;
    let (rp, webauthn) = relying_party(&ctx, &pool)?;
    let passkey = webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(ceremony_error)?;
    let mut keys = stored(&user);
    let id = cred_id_text(&passkey);
    keys.retain(|k| k.id != id);
    let transports = req.credential["response"]["transports"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    keys.push(StoredPasskey {
        id,
        name: format!("Passkey {}", keys.len() + 1),
        rp_id: rp,
        attachment: req.credential["authenticatorAttachment"]
            .as_str()
            .map(String::from),
        transports,
        created_at: ctx.now,
        passkey,
    });
    save(&mut user, &keys);
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    Ok(CompleteWebAuthnRegistrationResponse {})
}

pub async fn list_web_authn_credentials(
    ctx: Ctx,
    req: ListWebAuthnCredentialsRequest,
) -> ApiResult<ListWebAuthnCredentialsResponse> {
    let (_, user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    let keys = stored(&user);
    let start = match &req.next_token {
        Some(t) => crypto::b64url_decode(t)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|id| keys.iter().position(|k| k.id == id))
            .map(|i| i + 1)
            .ok_or_else(|| WireError::invalid_parameter("Invalid NextToken"))?,
        None => 0,
    };
    let limit = req
        .max_results
        .map(|m| m as usize)
        .unwrap_or(LIST_LIMIT_DEFAULT);
    let page: Vec<&StoredPasskey> = keys.iter().skip(start).take(limit).collect();
    let next_token = (start + page.len() < keys.len())
        .then(|| page.last().map(|k| crypto::b64url(k.id.as_bytes())))
        .flatten();
    Ok(ListWebAuthnCredentialsResponse {
        credentials: page
            .into_iter()
            .map(|k| WebAuthnCredentialDescription {
                credential_id: k.id.clone(),
                friendly_credential_name: k.name.clone(),
                relying_party_id: k.rp_id.clone(),
                authenticator_attachment: k.attachment.clone(),
                authenticator_transports: k.transports.clone(),
                created_at: k.created_at as f64 / 1000.0,
            })
            .collect(),
        next_token,
    })
}

pub async fn delete_web_authn_credential(
    ctx: Ctx,
    req: DeleteWebAuthnCredentialRequest,
) -> ApiResult<DeleteWebAuthnCredentialResponse> {
    let (_, mut user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    let mut keys = stored(&user);
    let before = keys.len();
    keys.retain(|k| k.id != req.credential_id);
    if keys.len() == before {
        return Err(WireError::idp(
            E::ResourceNotFoundException,
            "The passkey does not exist.",
        ));
    }
    save(&mut user, &keys);
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    Ok(DeleteWebAuthnCredentialResponse {})
}

/// The WEB_AUTHN challenge: request options for the user's passkeys; the ceremony state
/// waits on the user row under the session's id.
pub async fn start_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &mut UserRow,
    session_id: &str,
) -> ApiResult<Value> {
    let keys: Vec<Passkey> = stored(user).into_iter().map(|k| k.passkey).collect();
    let (_, webauthn) = relying_party(ctx, pool)?;
    let (options, state) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| WireError::invalid_parameter(format!("Cannot start passkey sign-in: {e}")))?;
    user.extra.insert(
        "webauthnSignIn".into(),
        json!({"session": session_id, "state": state, "exp": ctx.now + CEREMONY_MS}),
    );
    ctx.state.store.update_user(user).await.wire()?;
    Ok(serde_json::to_value(&options.public_key).expect("options serialize"))
}

/// Checks the CREDENTIAL answer to a WEB_AUTHN challenge and records the new signature
/// counter (a cloned authenticator shows up as a counter that went backwards).
pub async fn finish_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &mut UserRow,
    session_id: &str,
    credential: &str,
) -> ApiResult<()> {
    let refused = || WireError::idp(E::NotAuthorizedException, "Passkey sign-in failed.");
    let pending = user.extra.remove("webauthnSignIn").unwrap_or(Value::Null);
    if pending["session"] != session_id || pending["exp"].as_i64().unwrap_or(0) < ctx.now {
        return Err(session_expired());
    }
    let state: PasskeyAuthentication =
        serde_json::from_value(pending["state"].clone()).map_err(|_| session_expired())?;
    let answer: PublicKeyCredential = serde_json::from_str(credential).map_err(|e| {
        WireError::invalid_parameter(format!(
            "CREDENTIAL is not a WebAuthn authentication response: {e}"
        ))
    })?;
    let (_, webauthn) = relying_party(ctx, pool)?;
    let result = webauthn
        .finish_passkey_authentication(&answer, &state)
        .map_err(|_| refused())?;
    let mut keys = stored(user);
    for k in &mut keys {
        k.passkey.update_credential(&result);
    }
    save(user, &keys);
    Ok(())
}
