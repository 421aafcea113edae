//! Choice-based sign-in (USER_AUTH): the first factors a pool allows and a user has,
//! PREFERRED_CHALLENGE, SELECT_CHALLENGE, and the WEB_AUTHN passkey answer.

use super::*;

/// The pool's `Policies.SignInPolicy.AllowedFirstAuthFactors` (PASSWORD by default).
pub(crate) fn allowed_first_factors(pool: &PoolRow) -> Vec<&'static str> {
    match pool.config["Policies"]["SignInPolicy"]["AllowedFirstAuthFactors"].as_array() {
        Some(list) => ["PASSWORD", EMAIL_OTP, SMS_OTP, "WEB_AUTHN"]
            .into_iter()
            .filter(|f| list.iter().any(|x| x == f))
            .collect(),
        None => vec!["PASSWORD"],
    }
}

/// The first factors USER_AUTH offers this user: what the pool's
/// `Policies.SignInPolicy.AllowedFirstAuthFactors` allows (PASSWORD by default) and the
/// user can do. PASSWORD also admits PASSWORD_SRP, as Cognito lists both.
pub(crate) fn first_factors(pool: &PoolRow, user: &UserRow) -> Vec<&'static str> {
    let allowed = allowed_first_factors(pool);
    let has = |attr: &str| user.attr(attr).is_some_and(|v| !v.is_empty());
    let mut out = Vec::new();
    if allowed.contains(&"PASSWORD") && user.password.is_some() {
        out.extend(["PASSWORD", "PASSWORD_SRP"]);
    }
    if allowed.contains(&EMAIL_OTP) && has("email") {
        out.push(EMAIL_OTP);
    }
    if allowed.contains(&SMS_OTP) && has("phone_number") {
        out.push(SMS_OTP);
    }
    if allowed.contains(&"WEB_AUTHN") && !passkeys::stored(user).is_empty() {
        out.push("WEB_AUTHN");
    }
    out
}

/// USER_AUTH: the factor named by PREFERRED_CHALLENGE when it is available, else
/// SELECT_CHALLENGE with AvailableChallenges.
pub(super) async fn choice_sign_in(
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
    let Some(user) = sign_in_user(ctx, pool, client, username, None).await? else {
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
pub(super) async fn first_factor(
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
            refuse_reset_required(&user)?;
            let record = password_record(&user).ok_or_else(incorrect)?;
            if !record
                .matches(&ctx.state.master, &pool.id, password)
                .wire()?
            {
                record_failure(ctx, pool, &mut user, "Password").await?;
                return Err(incorrect());
            }
            let device_key = params.get("DEVICE_KEY").map(String::as_str);
            after_password(ctx, pool, client, user, &record, Some(password), device_key).await
        }
        "PASSWORD_SRP" => {
            let srp_a = params.get("SRP_A").ok_or_else(|| missing("SRP_A"))?;
            let name = user.username.clone();
            password_verifier_challenge(ctx, pool, client, &name, Some(&user), srp_a, None)
        }
        // Passwordless: the code is the whole proof, so it ends in tokens (mfa_answer).
        EMAIL_OTP | SMS_OTP => {
            if user.status != "CONFIRMED" {
                return Err(WireError::idp(
                    E::UserNotConfirmedException,
                    "User is not confirmed.",
                ));
            }
            mfa_challenge(ctx, pool, client, user, factor, None, true).await
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
pub(super) async fn web_authn_answer(
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
        record_failure(ctx, pool, &mut user, "Password").await?;
        return Err(e);
    }
    spend(ctx, &s).await?;
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    finish_passwordless(ctx, pool, client, user, &[]).await
}

pub(super) async fn select_challenge(
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
