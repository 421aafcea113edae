//! Operations endpoints: /health, and in dev mode the outbox and reset.

use crate::state::SharedState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

pub async fn health(State(state): State<SharedState>) -> Response {
    match state.store.get_setting("master_key_check").await {
        Ok(_) => {
            Json(json!({"status": "ok", "storage": state.store.backend_name()})).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: storage unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// Wipes every pool, user and message (dev mode only), for test suites.
pub async fn reset(State(state): State<SharedState>) -> Response {
    match state.store.reset().await {
        Ok(()) => {
            state.signing_keys.write().expect("lock").clear();
            // A reset starts from nothing, so a provider served again on a reused
            // port (tests) is asked for its keys afresh.
            state.external_oidc.clear();
            state.role_policies.invalidate();
            Json(json!({"status": "ok"})).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "reset failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"status": "failed"})),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct OutboxQuery {
    #[serde(rename = "userPoolId")]
    user_pool_id: Option<String>,
    username: Option<String>,
}

/// Dev mode's inbox: codes and temporary passwords, newest last.
pub async fn outbox(State(state): State<SharedState>, Query(q): Query<OutboxQuery>) -> Response {
    match state
        .store
        .list_messages(q.user_pool_id.as_deref(), q.username.as_deref())
        .await
    {
        Ok(rows) => Json(rows.iter().map(outbox_json).collect::<Vec<_>>()).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "outbox read failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"status": "failed"})),
            )
                .into_response()
        }
    }
}

pub fn outbox_json(m: &idpool_store::OutboxRow) -> serde_json::Value {
    json!({
        "userPoolId": m.pool_id,
        "username": m.username,
        "channel": m.channel,
        "destination": m.destination,
        "subject": m.subject,
        "message": m.message,
        "code": m.code,
        "createdAt": m.created_at as f64 / 1000.0,
    })
}
