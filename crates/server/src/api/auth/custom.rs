//! CUSTOM_AUTH: sign-in driven by the pool's DefineAuthChallenge, CreateAuthChallenge
//! and VerifyAuthChallengeResponse functions (magic links, one-time codes, CAPTCHA...).
//!
//! Each round Define reads the history of the challenges so far and decides: issue
//! tokens, fail, or ask another challenge. A CUSTOM_CHALLENGE is made by Create: its
//! public parameters go to the client, its private ones (the expected answer) stay in
//! the sealed Session and only Verify sees them. With `CHALLENGE_NAME: SRP_A` in the
//! auth parameters the flow starts with SRP, and Define may ask for PASSWORD_VERIFIER
//! before any custom round, as Cognito allows.

use super::*;
use idpool_core::triggers::{AuthDecision, define_decision, flag, string_map};

/// A sign-in that goes round more often than this is a loop in Define, not a user.
const MAX_ROUNDS: usize = 20;

pub(super) fn custom_allowed(client: &ClientRow) -> bool {
    match client.config["ExplicitAuthFlows"].as_array() {
        // Cognito's default flows include ALLOW_CUSTOM_AUTH.
        None => true,
        Some(_) => flow_allowed(client, &["ALLOW_CUSTOM_AUTH", "CUSTOM_AUTH_FLOW_ONLY"]),
    }
}

pub(super) async fn custom_start(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    params: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    if !custom_allowed(client) {
        return Err(WireError::invalid_parameter(
            "CUSTOM_AUTH flow not enabled for this client",
        ));
    }
    let lambda = &pool.config["LambdaConfig"];
    if [
        Trigger::DefineAuthChallenge,
        Trigger::CreateAuthChallenge,
        Trigger::VerifyAuthChallengeResponse,
    ]
    .iter()
    .any(|t| t.function(lambda).is_none())
    {
        return Err(WireError::idp(
            E::InvalidUserPoolConfigurationException,
            "Custom auth lambda trigger is not configured for the user pool.",
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
    refuse_reset_required(&user)?;
    if user.status == "UNCONFIRMED" {
        return Err(WireError::idp(
            E::UserNotConfirmedException,
            "User is not confirmed.",
        ));
    }
    let device_key = params.get("DEVICE_KEY").cloned();
    let mut history = Vec::new();
    let srp_a = if params.get("CHALLENGE_NAME").map(String::as_str) == Some("SRP_A") {
        let a = params.get("SRP_A").ok_or_else(|| missing("SRP_A"))?;
        history.push(round("SRP_A", true, None));
        Some(a.as_str())
    } else {
        None
    };
    next_round(ctx, pool, client, user, history, srp_a, device_key).await
}

fn round(challenge: &str, result: bool, metadata: Option<&str>) -> Value {
    json!({
        "challengeName": challenge,
        "challengeResult": result,
        "challengeMetadata": metadata,
    })
}

/// After PASSWORD_VERIFIER of a CUSTOM_AUTH that began with SRP_A.
pub(super) async fn after_custom_password(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: UserRow,
    history: Value,
    device_key: Option<String>,
) -> ApiResult<Outcome> {
    let mut history = history.as_array().cloned().unwrap_or_default();
    history.push(round("PASSWORD_VERIFIER", true, None));
    next_round(ctx, pool, client, user, history, None, device_key).await
}

/// Asks Define what comes next and does it.
async fn next_round(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: UserRow,
    history: Vec<Value>,
    srp_a: Option<&str>,
    device_key: Option<String>,
) -> ApiResult<Outcome> {
    if history.len() > MAX_ROUNDS {
        return Err(incorrect());
    }
    let attrs = triggers::user_attributes(&user);
    let defined = triggers::fire(
        ctx,
        pool,
        Trigger::DefineAuthChallenge,
        "DefineAuthChallenge_Authentication",
        &user.username,
        Some(&client.client_id),
        json!({"userAttributes": attrs, "session": history, "userNotFound": false})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
    .await?
    .ok_or_else(not_configured)?;
    match define_decision(&defined.response).map_err(triggers::bad_response)? {
        AuthDecision::Fail => Err(incorrect()),
        AuthDecision::IssueTokens => {
            let mut user = user;
            let known_device = match device_key.as_deref() {
                Some(dk) => devices::confirmed_device(ctx, &user, dk).await?.is_some(),
                None => false,
            };
            threat_protection::assess_sign_in(
                ctx,
                pool,
                client,
                &mut user,
                known_device,
                SignInProof::Custom,
            )
            .await?;
            // Cognito's event history names only password and MFA steps.
            let proven: &[StepResult] = if history
                .iter()
                .any(|r| r["challengeName"] == "PASSWORD_VERIFIER")
            {
                PASSWORD_PROVEN
            } else {
                &[]
            };
            finish_proven(ctx, pool, client, user, device_key.as_deref(), proven).await
        }
        AuthDecision::Challenge(name) if name == "PASSWORD_VERIFIER" => {
            let Some(srp_a) = srp_a else {
                return Err(triggers::bad_response(idpool_core::triggers::BadResponse(
                    "Invalid lambda response: PASSWORD_VERIFIER needs a CUSTOM_AUTH started with CHALLENGE_NAME SRP_A".into(),
                )));
            };
            let username = user.username.clone();
            password_verifier_challenge(
                ctx,
                pool,
                client,
                &username,
                Some(&user),
                srp_a,
                Some(Value::Array(history)),
            )
        }
        AuthDecision::Challenge(name) if name == "CUSTOM_CHALLENGE" => {
            create_challenge(ctx, pool, client, user, history, device_key).await
        }
        AuthDecision::Challenge(other) => Err(triggers::bad_response(
            idpool_core::triggers::BadResponse(format!(
                "Invalid lambda response: DefineAuthChallenge asked for {other}; CUSTOM_AUTH continues with CUSTOM_CHALLENGE or PASSWORD_VERIFIER"
            )),
        )),
    }
}

fn not_configured() -> WireError {
    WireError::idp(
        E::InvalidUserPoolConfigurationException,
        "Custom auth lambda trigger is not configured for the user pool.",
    )
}

async fn create_challenge(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    user: UserRow,
    history: Vec<Value>,
    device_key: Option<String>,
) -> ApiResult<Outcome> {
    let created = triggers::fire(
        ctx,
        pool,
        Trigger::CreateAuthChallenge,
        "CreateAuthChallenge_Authentication",
        &user.username,
        Some(&client.client_id),
        json!({
            "userAttributes": triggers::user_attributes(&user),
            "challengeName": "CUSTOM_CHALLENGE",
            "session": history,
            "userNotFound": false,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    )
    .await?
    .ok_or_else(not_configured)?;
    let r = &created.response;
    let public = string_map(r, "publicChallengeParameters").map_err(triggers::bad_response)?;
    let private = string_map(r, "privateChallengeParameters").map_err(triggers::bad_response)?;
    let metadata = idpool_core::triggers::text(r, "challengeMetadata")
        .map_err(triggers::bad_response)?
        .map(String::from);
    let mut params: BTreeMap<String, String> = public
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    params.insert("USERNAME".into(), user.username.clone());
    // The private parameters (the expected answer) travel only inside the sealed
    // session: the client carries them without being able to read them.
    let session = new_session(
        ctx,
        client,
        &user,
        "CUSTOM_CHALLENGE",
        json!({"h": history, "pp": private, "md": metadata, "dk": device_key}),
    );
    Ok(Outcome::challenge("CUSTOM_CHALLENGE", params, session))
}

pub(super) async fn custom_answer(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, user) =
        continue_session(ctx, pool, client, "CUSTOM_CHALLENGE", session, responses).await?;
    let answer = responses.get("ANSWER").ok_or_else(|| missing("ANSWER"))?;
    spend(ctx, &s).await?;
    let verified = triggers::fire(
        ctx,
        pool,
        Trigger::VerifyAuthChallengeResponse,
        "VerifyAuthChallengeResponse_Authentication",
        &user.username,
        Some(&client.client_id),
        json!({
            "userAttributes": triggers::user_attributes(&user),
            "privateChallengeParameters": s.data["pp"],
            "challengeAnswer": answer,
            "userNotFound": false,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    )
    .await?
    .ok_or_else(not_configured)?;
    let correct = flag(&verified.response, "answerCorrect").map_err(triggers::bad_response)?;
    let mut history = s.data["h"].as_array().cloned().unwrap_or_default();
    history.push(round("CUSTOM_CHALLENGE", correct, s.data["md"].as_str()));
    let device_key = session_device(&s, responses);
    next_round(ctx, pool, client, user, history, None, device_key).await
}
