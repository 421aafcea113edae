//! Challenge sessions: the `Session` string of InitiateAuth / RespondToAuthChallenge,
//! sealed with the master key and spent in the store once its step completes.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use idpool_core::ids;
use idpool_store::{ClientRow, UserRow};
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};

/// A challenge session: encrypted, expiring, self-contained, so any node can continue
/// the flow and a client can neither read nor forge it. Its `id` is spent in the store
/// when the step it opens completes, so it cannot be replayed (DESIGN.md section 3).
/// It lives for the client's `AuthSessionValidity` minutes (3 by default, as Cognito).
pub fn new_session(
    ctx: &Ctx,
    client: &ClientRow,
    user: &UserRow,
    challenge: &str,
    data: Value,
) -> String {
    let minutes = client.config["AuthSessionValidity"]
        .as_i64()
        .unwrap_or(3)
        .clamp(3, 15);
    let body = json!({
        "id": ids::uuid(),
        "p": user.pool_id,
        "c": client.client_id,
        "u": user.username_key,
        "ch": challenge,
        "d": data,
        "exp": ctx.now + minutes * 60 * 1000,
    });
    ctx.state
        .master
        .encrypt(body.to_string().as_bytes(), b"challenge-session")
}

pub struct Session {
    pub id: String,
    pub pool_id: String,
    pub client_id: String,
    /// The user's `username_key`.
    pub username_key: String,
    pub challenge: String,
    pub expires_at: i64,
    /// What the step needs to carry to the next (device key, MFA state...).
    pub data: Value,
}

impl Session {
    fn store_key(&self) -> String {
        format!("session:{}", self.id)
    }

    /// Spends the session; false if another request already did.
    pub async fn spend(&self, ctx: &Ctx) -> ApiResult<bool> {
        ctx.state
            .store
            .consume_once(&self.store_key(), self.expires_at, ctx.now)
            .await
            .wire()
    }

    pub async fn is_spent(&self, ctx: &Ctx) -> ApiResult<bool> {
        ctx.state.store.is_consumed(&self.store_key()).await.wire()
    }
}

pub fn session_expired() -> WireError {
    WireError::idp(
        E::NotAuthorizedException,
        "Invalid session for the user, session is expired.",
    )
}

pub fn open_session(ctx: &Ctx, session: &str) -> ApiResult<Session> {
    let plain = ctx
        .state
        .master
        .decrypt(session, b"challenge-session")
        .map_err(|_| session_expired())?;
    let v: Value = serde_json::from_slice(&plain).map_err(|_| session_expired())?;
    let expires_at = v["exp"].as_i64().unwrap_or(0);
    if expires_at < ctx.now {
        return Err(session_expired());
    }
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    Ok(Session {
        id: s("id"),
        pool_id: s("p"),
        client_id: s("c"),
        username_key: s("u"),
        challenge: s("ch"),
        expires_at,
        data: v["d"].clone(),
    })
}
