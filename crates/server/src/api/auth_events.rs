//! The event history of users: what sign-ins record (`record_event`),
//! AdminListUserAuthEvents, and feedback on events (UpdateAuthEventFeedback with the
//! token a risk notification carries, AdminUpdateAuthEventFeedback). As in Cognito,
//! events are kept only while the pool's threat protection
//! (`UserPoolAddOns.AdvancedSecurityMode`) is AUDIT or ENFORCED, for 90 days.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::log_delivery::{self, LogStream};
use super::pools::{decode_token, encode_token};
use super::support::{constant_time_eq, load_pool, not_found, require_user};
use idpool_core::{crypto, ids};
use idpool_store::{AuthEventRow, PoolRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::json;

const RETENTION_MS: i64 = 90 * 24 * 3600 * 1000;
/// How long a sign-in stays open (InProgress) for its challenges: the longest
/// `AuthSessionValidity`.
const OPEN_SIGN_IN_MS: i64 = 15 * 60 * 1000;
/// The events threat protection compares a sign-in with.
pub const HISTORY_FOR_RISK: u32 = 100;

fn threat_protection_on(pool: &PoolRow) -> bool {
    super::threat_protection::mode(pool) != super::threat_protection::Mode::Off
}

/// How a sign-in step went, as `ChallengeResponses` lists it.
pub struct StepResult {
    /// `Password`, `Mfa`.
    pub challenge: &'static str,
    pub success: bool,
}

fn step_docs(steps: &[StepResult]) -> Vec<serde_json::Value> {
    steps
        .iter()
        .map(|s| {
            json!({
                "ChallengeName": s.challenge,
                "ChallengeResponse": if s.success { "Success" } else { "Failure" },
            })
        })
        .collect()
}

/// Records an event (`SignIn`, `SignUp`, `ForgotPassword`, `PasswordChange`, ...)
/// when the pool keeps a history. A sign-in that threat protection assessed is already
/// open (InProgress, with its `EventRisk`): its outcome completes that event.
/// Events nobody assessed carry no `EventRisk`, since a made-up "NoRisk" would mislead.
pub async fn record_event(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    event_type: &str,
    passed: bool,
    steps: &[StepResult],
) -> ApiResult<()> {
    if !threat_protection_on(pool) {
        return Ok(());
    }
    let response = if passed { "Pass" } else { "Fail" };
    // A wrong password starts a new attempt: it cannot be the end of an open one, whose
    // password was already proven.
    let new_attempt = steps
        .iter()
        .any(|s| s.challenge == "Password" && !s.success);
    if event_type == "SignIn"
        && !new_attempt
        && let Some(mut open) = open_sign_in(ctx, pool, user).await?
    {
        open.doc["EventResponse"] = json!(response);
        let mut responses = open.doc["ChallengeResponses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for step in step_docs(steps) {
            if !responses
                .iter()
                .any(|r| r["ChallengeName"] == step["ChallengeName"])
            {
                responses.push(step);
            }
        }
        open.doc["ChallengeResponses"] = json!(responses);
        ctx.state.store.update_auth_event(&open).await.wire()?;
        export_event(ctx, user, &open).await;
        return Ok(());
    }
    insert_event(ctx, pool, user, event_type, response, steps, None).await?;
    Ok(())
}

/// Stores a new event with where it came from, and its risk when threat protection
/// assessed it; returns its id.
pub async fn insert_event(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    event_type: &str,
    response: &str,
    steps: &[StepResult],
    risk: Option<serde_json::Value>,
) -> ApiResult<String> {
    let mut doc = json!({
        "EventType": event_type,
        "EventResponse": response,
        "ChallengeResponses": step_docs(steps),
    });
    let mut context = serde_json::Map::new();
    if let Some(ip) = ctx.source_ip {
        context.insert("IpAddress".into(), json!(ip.to_string()));
        if let Some(place) = locate(ctx, ip) {
            if let Some(city) = place.city {
                context.insert("City".into(), json!(city));
            }
            if let Some(country) = place.country {
                context.insert("Country".into(), json!(country));
            }
        }
    }
    if let Some(device) = super::threat_protection::device_name(ctx) {
        context.insert("DeviceName".into(), json!(device));
    }
    if let Some(tz) = ctx.device_context.as_ref().and_then(|d| d.timezone.clone()) {
        context.insert("Timezone".into(), json!(tz));
    }
    if !context.is_empty() {
        doc["EventContextData"] = serde_json::Value::Object(context);
    }
    if let Some(device) = super::threat_protection::device_hash(ctx) {
        doc[idpool_core::risk::DEVICE_KEY] = json!(device);
    }
    if let Some(risk) = risk {
        doc["EventRisk"] = risk;
    }
    let row = AuthEventRow {
        pool_id: pool.id.clone(),
        username_key: user.username_key.clone(),
        event_id: ids::uuid(),
        created_at: ctx.now,
        doc,
    };
    ctx.state
        .store
        .insert_auth_event(&row, ctx.now - RETENTION_MS)
        .await
        .wire()?;
    export_event(ctx, user, &row).await;
    Ok(row.event_id)
}

/// The `userAuthEvents` log record of an event: the event as AdminListUserAuthEvents
/// shows it, and whose it is. A sign-in that threat protection opened is exported
/// once open and again with its outcome, under the same `EventId`.
async fn export_event(ctx: &Ctx, user: &UserRow, row: &AuthEventRow) {
    let message = || {
        let mut message = json!(event_type(row));
        message["Username"] = json!(user.username);
        message["UserSub"] = json!(user.sub);
        message
    };
    log_delivery::export(ctx, &row.pool_id, LogStream::UserAuthEvents, message).await;
}

/// Where an address is, when idpool has a GeoIP database.
pub fn locate(ctx: &Ctx, ip: std::net::IpAddr) -> Option<crate::geo::Located> {
    ctx.state.geoip.as_ref()?.locate(ip)
}

/// The user's sign-in still waiting for its challenges, from the same address.
async fn open_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
) -> ApiResult<Option<AuthEventRow>> {
    let ip = ctx.source_ip.map(|ip| ip.to_string());
    let recent = ctx
        .state
        .store
        .list_auth_events(&pool.id, &user.username_key, None, 5)
        .await
        .wire()?;
    Ok(recent.into_iter().find(|e| {
        e.created_at > ctx.now - OPEN_SIGN_IN_MS
            && e.doc["EventType"] == "SignIn"
            && e.doc["EventResponse"] == "InProgress"
            && e.doc["EventContextData"]["IpAddress"].as_str() == ip.as_deref()
    }))
}

fn event_type(row: &AuthEventRow) -> AuthEventType {
    let mut doc = row.doc.clone();
    doc["EventId"] = json!(row.event_id);
    doc["CreationDate"] = json!(row.created_at as f64 / 1000.0);
    serde_json::from_value(doc).unwrap_or_default()
}

fn require_threat_protection(pool: &PoolRow) -> ApiResult<()> {
    if threat_protection_on(pool) {
        Ok(())
    } else {
        Err(WireError::idp(
            E::UserPoolAddOnNotEnabledException,
            "User pool add-on is not enabled: set UserPoolAddOns.AdvancedSecurityMode to AUDIT or ENFORCED.",
        ))
    }
}

pub async fn admin_list_user_auth_events(
    ctx: Ctx,
    req: AdminListUserAuthEventsRequest,
) -> ApiResult<AdminListUserAuthEventsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    require_threat_protection(&pool)?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    let limit = req.max_results.unwrap_or(10) as u32;
    let before = req
        .next_token
        .as_deref()
        .map(decode_token)
        .transpose()?
        .map(|t| {
            t.split_once(':')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| WireError::invalid_parameter("Invalid pagination token."))
        })
        .transpose()?;
    let mut rows = ctx
        .state
        .store
        .list_auth_events(
            &pool.id,
            &user.username_key,
            before.as_ref().map(|(at, id)| (*at, id.as_str())),
            limit + 1,
        )
        .await
        .wire()?;
    let next_token = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|e| encode_token(&format!("{}:{}", e.created_at, e.event_id)))
    } else {
        None
    };
    Ok(AdminListUserAuthEventsResponse {
        auth_events: Some(rows.iter().map(event_type).collect()),
        next_token,
    })
}

/// The token a risk notification gives the user to rate one event: a MAC over the
/// event, so it cannot be forged for another event or user.
pub fn feedback_token(ctx: &Ctx, pool_id: &str, username_key: &str, event_id: &str) -> String {
    crypto::b64url(&ctx.state.master.keyed_hash(
        format!("auth-event-feedback\n{pool_id}\n{username_key}\n{event_id}").as_bytes(),
    ))
}

async fn set_feedback(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    event_id: &str,
    value: &str,
    provider: &str,
) -> ApiResult<()> {
    let store = &ctx.state.store;
    let mut row = store
        .get_auth_event(&pool.id, &user.username_key, event_id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("Auth event {event_id} does not exist.")))?;
    row.doc["EventFeedback"] = json!({
        "FeedbackValue": value,
        "Provider": provider,
        "FeedbackDate": ctx.now as f64 / 1000.0,
    });
    store.update_auth_event(&row).await.wire()?;
    Ok(())
}

pub async fn admin_update_auth_event_feedback(
    ctx: Ctx,
    req: AdminUpdateAuthEventFeedbackRequest,
) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    require_threat_protection(&pool)?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    set_feedback(
        &ctx,
        &pool,
        &user,
        &req.event_id,
        &req.feedback_value,
        "Admin",
    )
    .await
}

pub async fn update_auth_event_feedback(
    ctx: Ctx,
    req: UpdateAuthEventFeedbackRequest,
) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    require_threat_protection(&pool)?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    let expected = feedback_token(&ctx, &pool.id, &user.username_key, &req.event_id);
    if !constant_time_eq(expected.as_bytes(), req.feedback_token.as_bytes()) {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "The feedback token is not valid for this event.",
        ));
    }
    set_feedback(
        &ctx,
        &pool,
        &user,
        &req.event_id,
        &req.feedback_value,
        "User",
    )
    .await
}

/// The query of a risk notification's one-click link, and the form its page posts.
#[derive(serde::Deserialize, serde::Serialize)]
pub struct FeedbackLink {
    pool: String,
    username: String,
    event: String,
    value: String,
    token: String,
}

fn feedback_page(status: axum::http::StatusCode, body: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            (
                "content-security-policy",
                "default-src 'none'; form-action 'self'",
            ),
            ("x-frame-options", "DENY"),
        ],
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in feedback</title></head><body>{body}</body></html>"
        ),
    )
        .into_response()
}

/// `GET /_idpool/auth-event-feedback`: where the links of risk notification emails
/// ("this was me" / "this was not me") lead. The page asks the user to confirm with a
/// button instead of recording at once: mail scanners open every link of a message,
/// and a scanner that opened "not me" would make the user's own network high risk.
pub async fn feedback_link_page(
    axum::extract::Query(q): axum::extract::Query<FeedbackLink>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    let question = match q.value.as_str() {
        "Valid" => "Confirm that this sign-in was you.",
        "Invalid" => "Confirm that this sign-in was not you. Change your password afterwards.",
        _ => return feedback_page(StatusCode::BAD_REQUEST, "<p>This link is not valid.</p>"),
    };
    let fields = [
        ("pool", &q.pool),
        ("username", &q.username),
        ("event", &q.event),
        ("value", &q.value),
        ("token", &q.token),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            html_escape(value)
        )
    })
    .collect::<String>();
    feedback_page(
        StatusCode::OK,
        &format!(
            "<form method=\"post\"><p>{question}</p>{fields}<button type=\"submit\">Confirm</button></form>"
        ),
    )
}

/// `POST /_idpool/auth-event-feedback`: the confirmed answer, which rates the event as
/// UpdateAuthEventFeedback does with the same token. Rating a sign-in `Invalid` makes
/// later sign-ins from its network high risk; `Valid` makes its address familiar.
pub async fn feedback_link(
    axum::extract::State(state): axum::extract::State<crate::state::SharedState>,
    axum::extract::Form(q): axum::extract::Form<FeedbackLink>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    let req = UpdateAuthEventFeedbackRequest {
        user_pool_id: q.pool,
        username: q.username,
        event_id: q.event,
        feedback_token: q.token,
        feedback_value: q.value,
    };
    let page = |status: StatusCode, message: &str| {
        feedback_page(status, &format!("<p>{}</p>", html_escape(message)))
    };
    if !matches!(req.feedback_value.as_str(), "Valid" | "Invalid") {
        return page(StatusCode::BAD_REQUEST, "This link is not valid.");
    }
    match update_auth_event_feedback(Ctx::for_state(state), req).await {
        Ok(()) => page(
            StatusCode::OK,
            "Thank you: your answer about this sign-in was recorded.",
        ),
        Err(e) if e.code == idpool_wire::ErrorCode::Idp(E::InternalErrorException) => {
            tracing::error!(error = %e, "recording sign-in feedback failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Your answer could not be recorded. Try again later.",
            )
        }
        Err(_) => page(
            StatusCode::BAD_REQUEST,
            "This link is not valid or has expired.",
        ),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
