//! Answers to the challenges after the first factor: NEW_PASSWORD_REQUIRED, the MFA
//! codes (SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA, and the passwordless SMS_OTP),
//! SELECT_MFA_TYPE and MFA_SETUP.

use super::*;

/// The ANSWER to SELECT_CHALLENGE or SELECT_MFA_TYPE, checked against the choices the
/// session offered (listed to the client as `offered_as`); spends the session.
pub(super) async fn chosen(
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

pub(super) async fn new_password_required(
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
    threat_protection::check_new_password(
        ctx,
        pool,
        Some(&client.client_id),
        "PASSWORD_CHANGE",
        new_password,
    )
    .await?;
    super::super::admin_users::check_password_history(ctx, pool, &user, new_password)?;
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
    second_factor(
        ctx,
        pool,
        client,
        user,
        device.as_deref(),
        RiskResponse::Allow,
    )
    .await
}

pub(super) async fn mfa_answer(
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
            record_failure(ctx, pool, &mut user, "Mfa").await?;
        }
        return Err(e);
    }
    spend(ctx, &s).await?;
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    if s.data["pl"] == true {
        return finish_passwordless(ctx, pool, client, user, CODE_PROVEN).await;
    }
    let device = session_device(&s, responses);
    finish_proven(ctx, pool, client, user, device.as_deref(), AFTER_MFA).await
}

pub(super) async fn select_mfa_type(
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
    mfa_challenge(ctx, pool, client, user, &answer, device.as_deref(), false).await
}

pub(super) async fn mfa_setup(
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
    finish_proven(ctx, pool, client, user, device.as_deref(), AFTER_MFA).await
}
