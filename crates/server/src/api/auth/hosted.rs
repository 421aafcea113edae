//! Sign-in for the hosted UI's forms: the API's password, passkey and challenge steps,
//! ending in the UI's session instead of tokens.

use super::*;

/// A step of a sign-in at the hosted UI.
pub enum HostedStep {
    SignedIn(UserRow),
    /// A challenge page to show: its name, parameters and Session.
    Challenge(String, BTreeMap<String, String>, String),
}

fn hosted_step(o: Outcome) -> ApiResult<HostedStep> {
    match (o.signed_in, o.challenge) {
        (Some(user), _) => Ok(HostedStep::SignedIn(user)),
        (None, Some((name, params, session))) => Ok(HostedStep::Challenge(name, params, session)),
        _ => Err(WireError::idp(
            E::InternalErrorException,
            "a hosted sign-in ended without a user",
        )),
    }
}

/// The hosted UI's sign-in form: the same checks, triggers, lockout and challenges as
/// the API's password flows, whatever ExplicitAuthFlows the client has (Cognito's
/// hosted UI does not depend on them). `ctx.hosted_ui` must be set.
pub async fn hosted_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    username: &str,
    password: &str,
) -> ApiResult<HostedStep> {
    hosted_step(password_sign_in(ctx, pool, client, username, password, None).await?)
}

/// Whether the pool lets users sign in with a passkey alone (`SignInPolicy`).
pub fn passkeys_allowed(pool: &PoolRow) -> bool {
    choice::allowed_first_factors(pool).contains(&"WEB_AUTHN")
}

/// The hosted UI's passkey sign-in: USER_AUTH's WEB_AUTHN factor for the user named,
/// whatever ExplicitAuthFlows the client has, like the password form.
pub async fn hosted_passkey_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    username: &str,
) -> ApiResult<HostedStep> {
    let Some(user) = sign_in_user(ctx, pool, client, username, None).await? else {
        return Err(incorrect());
    };
    if !choice::first_factors(pool, &user).contains(&"WEB_AUTHN") {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "This account has no passkey; sign in with your password.",
        ));
    }
    hosted_step(choice::first_factor(ctx, pool, client, user, "WEB_AUTHN", &BTreeMap::new()).await?)
}

/// A challenge answered on a hosted page.
pub async fn hosted_respond(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    challenge: &str,
    responses: &BTreeMap<String, String>,
    session: &str,
) -> ApiResult<HostedStep> {
    crate::api::point_in_time_recovery::refuse_paused_challenge(ctx, &pool.id, challenge).await?;
    hosted_step(respond(ctx, pool, client, challenge, responses, Some(session)).await?)
}
