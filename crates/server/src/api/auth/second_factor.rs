//! The second factor after a proven password: MFA as the pool, the user and threat
//! protection ask for it, and the challenge that sends the code.

use super::*;

/// MFA as the pool and the user configure it: nothing, one factor's challenge,
/// SELECT_MFA_TYPE when several are on and none is preferred, or MFA_SETUP when MFA is
/// required and the user has no factor yet. A user without MFA still gets a factor
/// when threat protection asks for one (`risk`).
pub(super) async fn second_factor(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: UserRow,
    device_key: Option<&str>,
    risk: RiskResponse,
) -> ApiResult<Outcome> {
    let mode = mfa::pool_mode(pool);
    if mode == "OFF" {
        return match risk {
            RiskResponse::MfaRequired => refuse_without_mfa(ctx, pool, &user).await,
            _ => finish(ctx, pool, client, user, device_key).await,
        };
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
        _ if factors.is_empty() => {
            match (risk, threat_protection::adaptive_mfa_factor(pool, &user)) {
                (RiskResponse::Allow, _) | (RiskResponse::MfaIfPossible, None) => {
                    finish(ctx, pool, client, user, device_key).await
                }
                (_, Some(factor)) => {
                    mfa_challenge(ctx, pool, client, user, factor, device_key, false).await
                }
                (RiskResponse::MfaRequired, None) => refuse_without_mfa(ctx, pool, &user).await,
            }
        }
        Some(factor) => mfa_challenge(ctx, pool, client, user, factor, device_key, false).await,
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

/// MFA_REQUIRED for a user who cannot receive any factor: the sign-in ends blocked.
async fn refuse_without_mfa(ctx: &Ctx, pool: &PoolRow, user: &UserRow) -> ApiResult<Outcome> {
    crate::api::auth_events::record_event(ctx, pool, user, "SignIn", false, &[]).await?;
    Err(threat_protection::blocked())
}

/// Asks for one factor, sending the code first for SMS and email.
pub(super) async fn mfa_challenge(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: UserRow,
    factor: &str,
    device_key: Option<&str>,
    passwordless: bool,
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
    let session = new_session(
        ctx,
        client,
        &user,
        factor,
        json!({"dk": device_key, "pl": passwordless}),
    );
    Ok(Outcome::challenge(factor, params, session))
}
