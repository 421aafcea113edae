//! Sign-in accounting: who may try (disabled, locked-out and reset-required users may
//! not), counting failed proofs into an escalating lockout, and recording each failure
//! in the user's event history.

use super::super::Ctx;
use super::super::error::{ApiResult, OrWire};
use idpool_store::{PoolRow, UserRow};
use idpool_wire::{IdpException as E, WireError};
use serde_json::json;

/// After this many failed proofs in a row (password, SRP or one-time code) the account
/// locks, doubling from one second up to 15 minutes: online guessing must not be cheap.
/// The counter lives on the user row, so it holds across nodes.
const LOCKOUT_AFTER: i64 = 5;

const LOCKOUT_MAX_SECONDS: i64 = 900;

fn failures(user: &UserRow) -> i64 {
    user.extra
        .get("failedSignIns")
        .and_then(|v| v.as_i64())
        .unwrap_or(0)
}

pub(super) fn ensure_can_sign_in(ctx: &Ctx, user: &UserRow) -> ApiResult<()> {
    if !user.enabled {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "User is disabled.",
        ));
    }
    let locked_until = user
        .extra
        .get("lockedUntil")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    if locked_until > ctx.now {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "Password attempts exceeded",
        ));
    }
    Ok(())
}

/// Counts a failed proof and stores it (with the lockout it may trigger).
/// `step` is what failed, as the event history names it: `Password` for a first
/// factor, `Mfa` for a code.
pub(super) async fn record_failure(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &mut UserRow,
    step: &'static str,
) -> ApiResult<()> {
    let n = failures(user) + 1;
    user.extra.insert("failedSignIns".into(), json!(n));
    if n >= LOCKOUT_AFTER {
        let secs = (1i64 << (n - LOCKOUT_AFTER).min(10)).min(LOCKOUT_MAX_SECONDS);
        user.extra
            .insert("lockedUntil".into(), json!(ctx.now + secs * 1000));
    }
    ctx.state.store.update_user(user).await.wire()?;
    super::super::auth_events::record_event(
        ctx,
        pool,
        user,
        "SignIn",
        false,
        &[super::super::auth_events::StepResult {
            challenge: step,
            success: false,
        }],
    )
    .await
}

/// Resets the counter after a successful proof; true if the row changed.
pub(super) fn clear_failures(user: &mut UserRow) -> bool {
    let had = user.extra.remove("failedSignIns").is_some();
    user.extra.remove("lockedUntil").is_some() || had
}

/// Imported users (RESET_REQUIRED, no password yet) are told to reset it before any
/// password proof, as Cognito tells them, rather than failing as a wrong password.
pub(super) fn refuse_reset_required(user: &UserRow) -> ApiResult<()> {
    if user.status == "RESET_REQUIRED" && user.password.is_none() {
        return Err(WireError::idp(
            E::PasswordResetRequiredException,
            "Password reset required for the user",
        ));
    }
    Ok(())
}
