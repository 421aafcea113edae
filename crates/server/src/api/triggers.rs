//! Firing a pool's Lambda triggers from the operations: builds Cognito's event, runs it
//! through the invoker and turns failures into Cognito's errors, in one place:
//! - the handler failed: UserLambdaValidationException "PreSignUp failed with error X."
//! - it timed out or could not be reached: UnexpectedLambdaException
//!   "PreSignUp invocation failed due to error ..."
//! - it answered something unusable: InvalidLambdaResponseException.

use super::Ctx;
use super::error::ApiResult;
use crate::invoke::InvokeError;
use idpool_core::triggers::{self, BadResponse, EventContext, Trigger};
use idpool_store::{PoolRow, UserRow};
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Map, Value, json};

/// A trigger's answer: its `response` object and the event version it answered.
pub struct Fired {
    pub response: Map<String, Value>,
    /// "1", "2" or "3".
    pub version: String,
}

pub fn bad_response(b: BadResponse) -> WireError {
    WireError::idp(E::InvalidLambdaResponseException, b.0)
}

fn invoke_error(trigger: Trigger, arn: &str, e: InvokeError) -> WireError {
    let name = trigger.name();
    match e {
        InvokeError::Function(message) => WireError::idp(
            E::UserLambdaValidationException,
            format!("{name} failed with error {message}."),
        ),
        InvokeError::Timeout => WireError::idp(
            E::UnexpectedLambdaException,
            format!(
                "{name} invocation failed due to error Socket timeout while invoking Lambda function."
            ),
        ),
        InvokeError::Failed(why) => WireError::idp(
            E::UnexpectedLambdaException,
            format!("{name} invocation failed due to error {why}."),
        ),
        InvokeError::BadOutput => bad_response(BadResponse("Unrecognizable lambda output".into())),
        InvokeError::NotMapped => WireError::idp(
            E::UnexpectedLambdaException,
            format!(
                "{name} invocation failed due to error ResourceNotFoundException: idpool has no target for {arn}; map it under [functions] in the config file or set [lambda] endpoint."
            ),
        ),
    }
}

/// Whether the pool has a function for `trigger`.
pub fn configured(pool: &PoolRow, trigger: Trigger) -> bool {
    trigger.function(&pool.config["LambdaConfig"]).is_some()
}

/// Runs `trigger` if the pool configures it. `request` gets the call's ClientMetadata.
pub async fn fire(
    ctx: &Ctx,
    pool: &PoolRow,
    trigger: Trigger,
    source: &str,
    user_name: &str,
    client_id: Option<&str>,
    mut request: Map<String, Value>,
) -> ApiResult<Option<Fired>> {
    let Some((arn, version)) = trigger.function(&pool.config["LambdaConfig"]) else {
        return Ok(None);
    };
    if !request.contains_key("clientMetadata")
        && let Some(meta) = &ctx.client_metadata
    {
        request.insert("clientMetadata".into(), meta.clone());
    }
    let event = triggers::event(
        &EventContext {
            trigger,
            version: &version,
            source,
            region: &ctx.region,
            pool_id: &pool.id,
            user_name,
            client_id,
        },
        Value::Object(request),
    );
    let started = std::time::Instant::now();
    let output = ctx.state.invoker.invoke(&arn, &event).await;
    tracing::info!(
        pool = %pool.id,
        trigger = source,
        arn = %arn,
        ms = started.elapsed().as_millis() as u64,
        ok = output.is_ok(),
        "trigger"
    );
    let output = output.map_err(|e| invoke_error(trigger, &arn, e))?;
    // A sender's answer means nothing to Cognito: it has delivered, or thrown.
    let response = match trigger {
        Trigger::CustomEmailSender | Trigger::CustomSmsSender => Map::new(),
        _ => triggers::response_of(&output).map_err(bad_response)?,
    };
    Ok(Some(Fired {
        response,
        version: event["version"].as_str().unwrap_or("1").to_string(),
    }))
}

/// A user's attributes as events carry them: every stored attribute as a string, with
/// `sub` and `cognito:user_status`.
pub fn user_attributes(user: &UserRow) -> Value {
    let mut attrs = Map::new();
    attrs.insert("sub".into(), json!(user.sub));
    for (k, v) in &user.attributes {
        if !k.starts_with("dev:") {
            attrs.insert(k.clone(), v.clone());
        }
    }
    attrs.insert("cognito:user_status".into(), json!(user.status));
    Value::Object(attrs)
}

/// PostConfirmation for a user just confirmed (`source`: PostConfirmation_ConfirmSignUp
/// or PostConfirmation_ConfirmForgotPassword).
pub async fn post_confirmation(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    client_id: Option<&str>,
    source: &str,
) -> ApiResult<()> {
    let request = json!({"userAttributes": user_attributes(user)});
    fire(
        ctx,
        pool,
        Trigger::PostConfirmation,
        source,
        &user.username,
        client_id,
        request.as_object().cloned().unwrap_or_default(),
    )
    .await?;
    Ok(())
}

/// A message CustomMessage may rewrite: the channel it goes by and the templates, with
/// `{####}` (and `{username}` for invitations) still in them.
pub struct MessageTemplate {
    pub subject: String,
    pub message: String,
}

/// Runs CustomMessage, if configured, over a message about to be sent. Its `smsMessage`
/// or `emailMessage` replaces the template only if it keeps the code placeholder, as a
/// message without the code would lock the user out; Cognito ignores such answers too.
pub async fn custom_message(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    source: &str,
    channel: &str,
    invitation: bool,
    template: MessageTemplate,
) -> ApiResult<MessageTemplate> {
    let request = json!({
        "userAttributes": user_attributes(user),
        "codeParameter": "{####}",
        "linkParameter": "{##Click Here##}",
        "usernameParameter": if invitation { json!("{username}") } else { Value::Null },
    });
    let Some(fired) = fire(
        ctx,
        pool,
        Trigger::CustomMessage,
        source,
        &user.username,
        None,
        request.as_object().cloned().unwrap_or_default(),
    )
    .await?
    else {
        return Ok(template);
    };
    let r = &fired.response;
    let field = if channel == "EMAIL" {
        "emailMessage"
    } else {
        "smsMessage"
    };
    let mut out = template;
    if let Some(message) = triggers::text(r, field).map_err(bad_response)? {
        if message.contains("{####}") {
            out.message = message.to_string();
        } else {
            tracing::warn!(pool = %pool.id, source, "CustomMessage answer without {{####}} ignored");
        }
    }
    if channel == "EMAIL"
        && let Some(subject) = triggers::text(r, "emailSubject").map_err(bad_response)?
        && !subject.is_empty()
    {
        out.subject = subject.to_string();
    }
    Ok(out)
}

/// The CustomMessage source of a code sent during `operation` for `purpose_key`.
pub fn message_source(operation: &str, purpose_key: &str) -> &'static str {
    match (operation, purpose_key) {
        ("ResendConfirmationCode", _) => "CustomMessage_ResendCode",
        (_, "signup") => "CustomMessage_SignUp",
        (_, "forgot_password") => "CustomMessage_ForgotPassword",
        (_, "sign_in") => "CustomMessage_Authentication",
        ("UpdateUserAttributes" | "AdminUpdateUserAttributes", _) => {
            "CustomMessage_UpdateUserAttribute"
        }
        _ => "CustomMessage_VerifyUserAttribute",
    }
}

/// What PreSignUp allowed.
#[derive(Default)]
pub struct SignUpAnswer {
    pub auto_confirm: bool,
    pub verify_email: bool,
    pub verify_phone: bool,
}

/// PreSignUp for a user about to be created (not stored yet). A handler error refuses
/// the sign-up, so nothing is stored. `userName` is the username the user will have:
/// in a pool that signs in by email or phone, the generated one, as Cognito sends it.
pub async fn pre_sign_up(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    client_id: Option<&str>,
    source: &str,
    validation_data: Option<&[idpool_wire::shapes::cognito_idp::AttributeType]>,
) -> ApiResult<SignUpAnswer> {
    let mut attrs = Map::new();
    for (k, v) in &user.attributes {
        if !k.starts_with("dev:") {
            attrs.insert(k.clone(), v.clone());
        }
    }
    let validation = validation_data.map(|list| {
        Value::Object(
            list.iter()
                .map(|a| (a.name.clone(), json!(a.value.clone().unwrap_or_default())))
                .collect(),
        )
    });
    let request = json!({
        "userAttributes": attrs,
        "validationData": validation,
    });
    let Some(fired) = fire(
        ctx,
        pool,
        Trigger::PreSignUp,
        source,
        &user.username,
        client_id,
        request.as_object().cloned().unwrap_or_default(),
    )
    .await?
    else {
        return Ok(SignUpAnswer::default());
    };
    let r = &fired.response;
    let answer = SignUpAnswer {
        auto_confirm: triggers::flag(r, "autoConfirmUser").map_err(bad_response)?,
        verify_email: triggers::flag(r, "autoVerifyEmail").map_err(bad_response)?,
        verify_phone: triggers::flag(r, "autoVerifyPhone").map_err(bad_response)?,
    };
    // Cognito refuses to mark verified an attribute the user does not have.
    for (asked, attr) in [
        (answer.verify_email, "email"),
        (answer.verify_phone, "phone_number"),
    ] {
        if asked && user.attr(attr).is_none_or(str::is_empty) {
            return Err(WireError::invalid_parameter(format!(
                "The {attr} attribute must be set to auto-verify it."
            )));
        }
    }
    Ok(answer)
}

/// CustomEmailSender / CustomSMSSender: when the pool has one for `channel`, the
/// function delivers the message itself and idpool sends nothing. The code goes to it
/// encrypted with the key configured for the pool's KMSKeyID. Returns whether a sender
/// took the message.
pub async fn custom_sender(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    channel: &str,
    message_source: &str,
    code: &str,
) -> ApiResult<bool> {
    let trigger = if channel == "EMAIL" {
        Trigger::CustomEmailSender
    } else {
        Trigger::CustomSmsSender
    };
    if !configured(pool, trigger) {
        return Ok(false);
    }
    let kms_key_id = pool.config["LambdaConfig"]["KMSKeyID"]
        .as_str()
        .unwrap_or_default();
    let sealed = ctx
        .state
        .invoker
        .sender_key(kms_key_id)
        .and_then(|key| triggers::seal_sender_code(key, code).ok())
        .ok_or_else(|| {
            WireError::idp(
                E::UnexpectedLambdaException,
                format!(
                    "{} invocation failed due to error KMSKeyID '{kms_key_id}' has no key under [sender-keys] in idpool's config.",
                    trigger.name()
                ),
            )
        })?;
    let source = message_source.replacen("CustomMessage_", &format!("{}_", trigger.name()), 1);
    let request = json!({
        "type": if channel == "EMAIL" { "customEmailSenderRequestV1" } else { "customSMSSenderRequestV1" },
        "code": sealed,
        "userAttributes": user_attributes(user),
    });
    fire(
        ctx,
        pool,
        trigger,
        &source,
        &user.username,
        None,
        request.as_object().cloned().unwrap_or_default(),
    )
    .await?;
    Ok(true)
}
