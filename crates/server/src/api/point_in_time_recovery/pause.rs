//! The pause of a pool's user-data writes while a recovery of it is in progress.

use super::*;
use crate::api::Ctx;
use crate::api::error::{ApiResult, OrWire};
use idpool_core::tokens::jwt;
use idpool_wire::{IdpException as E, IdpOperation, WireError};
use serde_json::Value;

/// Refuses a write to the pool's user data while a recovery of it is in progress.
pub async fn refuse_write_during_recovery(ctx: &Ctx, pool_id: &str) -> ApiResult<()> {
    match active_recovery(ctx, pool_id).await? {
        None => Ok(()),
        Some(recovery) => Err(WireError::idp(
            E::OperationNotEnabledException,
            format!(
                "Write operations in user pool {pool_id} are paused during point-in-time \
                 recovery {} ({}).",
                recovery.restore_id, recovery.status
            ),
        )),
    }
}

/// The challenges Cognito documents as failing during a recovery: answering them writes
/// the user (a new password, an MFA set-up, a TOTP step).
const CHALLENGES_PAUSED: &[&str] = &["NEW_PASSWORD_REQUIRED", "MFA_SETUP", "SOFTWARE_TOKEN_MFA"];

/// Refuses an answer to a challenge that writes the user while their pool is under
/// recovery (the hosted UI's sign-in pages; the JSON API checks it up front).
pub async fn refuse_paused_challenge(ctx: &Ctx, pool_id: &str, challenge: &str) -> ApiResult<()> {
    if CHALLENGES_PAUSED.contains(&challenge) {
        refuse_write_during_recovery(ctx, pool_id).await
    } else {
        Ok(())
    }
}

/// For the JSON API: refuses `op` if it writes user data of a pool under recovery. The
/// pool comes from the request: its `UserPoolId`, its app client's pool, or its access
/// token's issuer. Requests that name no existing pool pass, for their handler to
/// refuse as it always does.
pub async fn refuse_paused_operation(ctx: &Ctx, op: IdpOperation, input: &Value) -> ApiResult<()> {
    use IdpOperation as Op;
    let field = |name: &str| input[name].as_str().unwrap_or_default();
    let by_pool_id = matches!(
        op,
        Op::AdminCreateUser
            | Op::AdminDeleteUser
            | Op::AdminDeleteUserAttributes
            | Op::AdminUpdateUserAttributes
            | Op::AdminConfirmSignUp
            | Op::AdminDisableUser
            | Op::AdminEnableUser
            | Op::AdminSetUserPassword
            | Op::AdminResetUserPassword
            | Op::AdminSetUserMFAPreference
            | Op::AdminSetUserSettings
            | Op::AdminAddUserToGroup
            | Op::AdminRemoveUserFromGroup
            | Op::AdminLinkProviderForUser
            | Op::AdminDisableProviderForUser
            | Op::AdminDeleteSoftwareToken
            | Op::CreateGroup
            | Op::UpdateGroup
            | Op::DeleteGroup
            | Op::CreateUserImportJob
            | Op::StartUserImportJob
            | Op::DeleteUserPool
    ) || (op == Op::AdminRespondToAuthChallenge
        && CHALLENGES_PAUSED.contains(&field("ChallengeName")));
    let by_client = matches!(
        op,
        Op::SignUp | Op::ConfirmSignUp | Op::ConfirmForgotPassword
    ) || (op == Op::RespondToAuthChallenge
        && CHALLENGES_PAUSED.contains(&field("ChallengeName")));
    let by_access_token = matches!(
        op,
        Op::ChangePassword
            | Op::UpdateUserAttributes
            | Op::DeleteUserAttributes
            | Op::DeleteUser
            | Op::VerifyUserAttribute
            | Op::SetUserMFAPreference
            | Op::SetUserSettings
            | Op::AssociateSoftwareToken
            | Op::VerifySoftwareToken
            | Op::StartWebAuthnRegistration
            | Op::CompleteWebAuthnRegistration
            | Op::DeleteWebAuthnCredential
    );
    if by_pool_id {
        return refuse_write_during_recovery(ctx, field("UserPoolId")).await;
    }
    if by_client {
        let client = ctx.state.store.get_client(field("ClientId")).await.wire()?;
        return match client {
            Some(client) => refuse_write_during_recovery(ctx, &client.pool_id).await,
            None => Ok(()),
        };
    }
    if by_access_token {
        // AssociateSoftwareToken may carry a sign-in Session instead: its MFA_SETUP
        // answer is what the pause refuses.
        let Some(unverified) = jwt::decode(field("AccessToken")) else {
            return Ok(());
        };
        let iss = unverified.claims["iss"].as_str().unwrap_or_default();
        let pool_id = iss.rsplit('/').next().unwrap_or_default();
        if pool_id.is_empty() || active_recovery(ctx, pool_id).await?.is_none() {
            return Ok(());
        }
        // Only a caller with a valid token learns that the pool is being recovered.
        crate::api::tokens::session_from_access_token(ctx, field("AccessToken")).await?;
        return refuse_write_during_recovery(ctx, pool_id).await;
    }
    Ok(())
}
