//! Point-in-time recovery of a user pool's user data: InitiatePointInTimeRecovery,
//! DescribePointInTimeRecovery, ListPointInTimeRecoveries, StartPointInTimeRecovery and
//! CancelPointInTimeRecovery.
//!
//! What a recovery restores is what Cognito documents: users (profiles, attributes,
//! status), their group memberships, their MFA settings and passkeys, and groups. Not
//! pool configuration (clients, schema, domains...), devices or sessions. The state at
//! the restore point comes from the journal the storage triggers keep of every change
//! to users, memberships and groups (`UserDataHistoryStore`), pruned after the longest
//! recovery period.
//!
//! The life of a recovery: Initiate computes the preview at once (PREVIEW_GENERATED)
//! and pauses the pool's user-data writes; Start applies it in the background
//! (RESTORING, then RESTORE_COMPLETED) and resumes writes; Cancel discards it
//! (PREVIEW_CANCELLED); a preview neither started nor cancelled within 24 hours expires
//! (PREVIEW_EXPIRED), noticed whenever the recovery is next read. The pool's one active
//! recovery is an `ActiveRecovery` object: creating it is atomic on every backend, so
//! two nodes cannot both start one.
//!
//! Three choices where Cognito's documentation is silent or unsafe to follow blindly:
//! - A paused write answers `OperationNotEnabledException`, which every write operation
//!   of the model declares for operations "not available for the current user pool
//!   configuration".
//! - A restored user keeps their current password (as documented), and then also keeps
//!   a status that changing it produced, and never gets an earlier `tokens_valid_after`
//!   or TOTP step back: restoring those would revive tokens signed out, or codes used,
//!   after the restore point.
//! - Cognito's per-account quotas count every pool of the server, which is one account;
//!   there are no AWS Organizations, so the organization-wide ones have nothing to count.
//! - A failed restore stays RESTORING-blocked as TEMPORARY_INTERNAL_ERROR_SEE_SUPPORT_CASE;
//!   the operator (idpool's "support") can Start it again, which is safe because
//!   applying a recovery is idempotent.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::*;
use idpool_core::tokens::jwt;
use idpool_store::{ObjectKind, PoolObjectRow, PoolRow, StoreError, UserDataAt, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, IdpOperation, WireError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const HOUR_MS: i64 = 3600 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// A preview neither started nor cancelled within this expires.
const PREVIEW_LIFETIME_MS: i64 = DAY_MS;
/// How far back each feature plan recovers.
const ESSENTIALS_PERIOD_MS: i64 = DAY_MS;
const PLUS_PERIOD_MS: i64 = 14 * DAY_MS;
/// The journal is kept a day past the longest recovery period, so a recovery to its
/// very start still finds the entries it needs.
pub const JOURNAL_RETENTION_MS: i64 = PLUS_PERIOD_MS + DAY_MS;
/// Cognito's quotas per user pool.
const PREVIEWS_PER_DAY: usize = 3;
const PREVIEWS_PER_30_DAYS: usize = 10;
const COMPLETED_PER_DAY: usize = 1;
/// And per account: idpool is one account, so these count every pool of the server.
const ACTIVE_PER_ACCOUNT: usize = 5;
const PREVIEWS_PER_ACCOUNT_PER_DAY: usize = 10;

const PREVIEW_GENERATED: &str = "PREVIEW_GENERATED";
const PREVIEW_CANCELLED: &str = "PREVIEW_CANCELLED";
const PREVIEW_EXPIRED: &str = "PREVIEW_EXPIRED";
const RESTORING: &str = "RESTORING";
const RESTORE_COMPLETED: &str = "RESTORE_COMPLETED";
const RESTORE_FAILED: &str = "TEMPORARY_INTERNAL_ERROR_SEE_SUPPORT_CASE";

/// Where the pool's feature plans over time are kept in its settings document (not a
/// member of UserPoolType): `[{"Tier": ..., "Since": ms}]`, oldest first. Pools without
/// it have had their plan since they were created.
pub const TIER_HISTORY_KEY: &str = "idpoolTierHistory";

/// A recovery as stored (the document of its `PointInTimeRecovery` object). Times are
/// Unix milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recovery {
    restore_id: String,
    status: String,
    restore_timestamp: i64,
    trigger_timestamp: i64,
    preview: Vec<PreviewCount>,
    #[serde(default)]
    completed_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct PreviewCount {
    entity: String,
    create: i64,
    update: i64,
    delete: i64,
}

impl Recovery {
    /// Whether the pool's writes are paused for it.
    fn is_active(&self) -> bool {
        matches!(
            self.status.as_str(),
            PREVIEW_GENERATED | RESTORING | RESTORE_FAILED
        )
    }

    fn restoration(&self) -> RestorationType {
        RestorationType {
            restore_id: Some(self.restore_id.clone()),
            restore_status: Some(self.status.clone()),
            restore_timestamp: Some(self.restore_timestamp as f64 / 1000.0),
            trigger_timestamp: Some(self.trigger_timestamp as f64 / 1000.0),
            // Cognito shows the preview until the recovery is applied or discarded.
            restore_preview: matches!(self.status.as_str(), PREVIEW_GENERATED | RESTORING).then(
                || {
                    self.preview
                        .iter()
                        .map(|p| RestorePreviewType {
                            entity: Some(p.entity.clone()),
                            create_count: Some(p.create),
                            update_count: Some(p.update),
                            delete_count: Some(p.delete),
                        })
                        .collect()
                },
            ),
        }
    }

    fn row(&self, pool_id: &str, created_at: i64, now: i64) -> PoolObjectRow {
        PoolObjectRow {
            pool_id: pool_id.to_string(),
            kind: ObjectKind::PointInTimeRecovery,
            key: self.restore_id.clone(),
            doc: serde_json::to_value(self).expect("a recovery serializes"),
            created_at,
            updated_at: now,
        }
    }
}

fn recovery_of(row: &PoolObjectRow) -> ApiResult<Recovery> {
    serde_json::from_value(row.doc.clone()).map_err(|e| {
        tracing::error!(pool = %row.pool_id, key = %row.key, "unreadable recovery: {e}");
        WireError::idp(
            E::InternalErrorException,
            "The recovery's record is unreadable.",
        )
    })
}

fn no_such_recovery(pool_id: &str, restore_id: &str) -> WireError {
    not_found(format!(
        "No point-in-time recovery {restore_id} exists in user pool {pool_id}."
    ))
}

/// The recovery and its stored row, its expiry noticed (and recorded) on the way.
async fn load_recovery(
    ctx: &Ctx,
    pool_id: &str,
    restore_id: &str,
) -> ApiResult<(Recovery, PoolObjectRow)> {
    let row = ctx
        .state
        .store
        .get_object(pool_id, ObjectKind::PointInTimeRecovery, restore_id)
        .await
        .wire()?
        .ok_or_else(|| no_such_recovery(pool_id, restore_id))?;
    let recovery = settle(ctx, &row, recovery_of(&row)?).await?;
    Ok((recovery, row))
}

/// Expires a preview past its lifetime, resuming the pool's writes.
async fn settle(ctx: &Ctx, row: &PoolObjectRow, mut recovery: Recovery) -> ApiResult<Recovery> {
    if recovery.status == PREVIEW_GENERATED && ctx.now > row.created_at + PREVIEW_LIFETIME_MS {
        recovery.status = PREVIEW_EXPIRED.into();
        save(ctx, &recovery, row).await?;
        release_pool(ctx, &row.pool_id, &recovery.restore_id).await?;
    }
    Ok(recovery)
}

async fn save(ctx: &Ctx, recovery: &Recovery, row: &PoolObjectRow) -> ApiResult<()> {
    ctx.state
        .store
        .put_object(&recovery.row(&row.pool_id, row.created_at, ctx.now))
        .await
        .wire()
}

/// Ends the pause of the pool's writes, if `restore_id` is what paused them.
async fn release_pool(ctx: &Ctx, pool_id: &str, restore_id: &str) -> ApiResult<()> {
    let store = &ctx.state.store;
    if let Some(active) = store
        .get_object(pool_id, ObjectKind::ActiveRecovery, "ALL")
        .await
        .wire()?
        && active.doc["RestoreId"] == restore_id
    {
        store
            .delete_object(pool_id, ObjectKind::ActiveRecovery, "ALL")
            .await
            .wire()?;
    }
    Ok(())
}

/// The pool's active recovery, if its writes are paused.
async fn active_recovery(ctx: &Ctx, pool_id: &str) -> ApiResult<Option<Recovery>> {
    let Some(active) = ctx
        .state
        .store
        .get_object(pool_id, ObjectKind::ActiveRecovery, "ALL")
        .await
        .wire()?
    else {
        return Ok(None);
    };
    let restore_id = active.doc["RestoreId"].as_str().unwrap_or_default();
    let recovery = match load_recovery(ctx, pool_id, restore_id).await {
        Ok((recovery, _)) => recovery,
        // The pointer outlived its recovery (a crash between the two writes).
        Err(e) if e.code == idpool_wire::ErrorCode::Idp(E::ResourceNotFoundException) => {
            release_pool(ctx, pool_id, restore_id).await?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if recovery.is_active() {
        Ok(Some(recovery))
    } else {
        release_pool(ctx, pool_id, restore_id).await?;
        Ok(None)
    }
}

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
        super::tokens::session_from_access_token(ctx, field("AccessToken")).await?;
        return refuse_write_during_recovery(ctx, pool_id).await;
    }
    Ok(())
}

/// Records a change of the pool's feature plan, which decides how far back it may be
/// recovered. `new` is the settings document about to be stored.
pub fn record_tier_change(pool: &PoolRow, new: &mut serde_json::Map<String, Value>, now: i64) {
    let mut history = tier_history(pool);
    let tier = new
        .get("UserPoolTier")
        .and_then(Value::as_str)
        .unwrap_or("ESSENTIALS")
        .to_string();
    if history.last().map(|(t, _)| t.as_str()) != Some(tier.as_str()) {
        history.push((tier, now));
    }
    new.insert(
        TIER_HISTORY_KEY.into(),
        history
            .iter()
            .map(|(tier, since)| json!({"Tier": tier, "Since": since}))
            .collect(),
    );
}

/// The pool's feature plans, oldest first, with when each began.
fn tier_history(pool: &PoolRow) -> Vec<(String, i64)> {
    let recorded: Vec<(String, i64)> = pool.config[TIER_HISTORY_KEY]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e["Tier"].as_str()?.to_string(), e["Since"].as_i64()?)))
                .collect()
        })
        .unwrap_or_default();
    if recorded.is_empty() {
        let tier = pool.config["UserPoolTier"].as_str().unwrap_or("ESSENTIALS");
        return vec![(tier.to_string(), pool.created_at)];
    }
    recorded
}

/// Checks the restore point against the pool's feature plans: on LITE there is no
/// recovery; ESSENTIALS reaches a day back and PLUS fourteen, and the pool must have
/// been on such a plan all the time since the restore point.
fn check_recovery_period(ctx: &Ctx, pool: &PoolRow, restore_at: i64) -> ApiResult<()> {
    let history = tier_history(pool);
    let current = history
        .last()
        .map(|(t, _)| t.as_str())
        .unwrap_or("ESSENTIALS");
    if current == "LITE" {
        return Err(WireError::idp(
            E::FeatureUnavailableInTierException,
            "Point-in-time recovery requires the Essentials or Plus feature plan.",
        ));
    }
    let min_age = ctx.state.config.recovery_min_age_ms;
    if restore_at > ctx.now - min_age {
        let (n, unit) = if min_age % 60_000 == 0 {
            (min_age / 60_000, "minute")
        } else {
            (min_age / 1000, "second")
        };
        let least = format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
        return Err(WireError::invalid_parameter(format!(
            "The recovery point must be at least {least} in the past."
        )));
    }
    if restore_at < pool.created_at {
        return Err(WireError::invalid_parameter(
            "The recovery point can't be earlier than the creation time of the user pool.",
        ));
    }
    let back = ctx.now - restore_at;
    if back > PLUS_PERIOD_MS {
        return Err(WireError::invalid_parameter(
            "The recovery point must be within the last 14 days.",
        ));
    }
    let allowed: &[&str] = if back > ESSENTIALS_PERIOD_MS {
        &["PLUS"]
    } else {
        &["ESSENTIALS", "PLUS"]
    };
    // Every plan in force at some time since the restore point: the one that began
    // last at or before it, and all that began after.
    let start = history
        .iter()
        .rposition(|(_, since)| *since <= restore_at)
        .unwrap_or(0);
    if let Some((tier, _)) = history[start..]
        .iter()
        .find(|(tier, _)| !allowed.contains(&tier.as_str()))
    {
        return Err(WireError::idp(
            E::FeatureUnavailableInTierException,
            if back > ESSENTIALS_PERIOD_MS {
                format!(
                    "Recovering more than 1 day back requires the user pool to have been on \
                     the Plus feature plan since the recovery point; it was on {tier}."
                )
            } else {
                format!(
                    "The user pool was on the {tier} feature plan at or after the recovery \
                     point, which has no point-in-time recovery."
                )
            },
        ));
    }
    Ok(())
}

/// Cognito's per-pool quotas, from the pool's recoveries so far.
fn check_quotas(ctx: &Ctx, history: &[(Recovery, PoolObjectRow)]) -> ApiResult<()> {
    let since = |ms: i64| {
        history
            .iter()
            .filter(move |(_, row)| row.created_at > ctx.now - ms)
    };
    if since(DAY_MS).count() >= PREVIEWS_PER_DAY {
        return Err(WireError::idp(
            E::LimitExceededException,
            "A user pool can have at most 3 recovery previews in a 24-hour period.",
        ));
    }
    if since(30 * DAY_MS).count() >= PREVIEWS_PER_30_DAYS {
        return Err(WireError::idp(
            E::LimitExceededException,
            "A user pool can have at most 10 recovery previews in a 30-day period.",
        ));
    }
    let completed_today = history
        .iter()
        .filter(|(r, _)| r.completed_at.is_some_and(|t| t > ctx.now - DAY_MS))
        .count();
    if completed_today >= COMPLETED_PER_DAY {
        return Err(WireError::idp(
            E::LimitExceededException,
            "A user pool can complete one point-in-time recovery in a 24-hour period.",
        ));
    }
    Ok(())
}

/// Cognito's quotas per account, which for idpool is the whole server (one account
/// id): active recoveries and previews across every pool. Initiate is rare, so reading
/// every pool's recoveries is affordable.
async fn check_account_quotas(ctx: &Ctx) -> ApiResult<()> {
    let store = &ctx.state.store;
    let (mut active, mut previews) = (0, 0);
    let mut after: Option<String> = None;
    loop {
        let pools = store.list_pools(after.as_deref(), 100).await.wire()?;
        for pool in &pools {
            if active_recovery(ctx, &pool.id).await?.is_some() {
                active += 1;
            }
            previews += objects_with_prefix(ctx, &pool.id, ObjectKind::PointInTimeRecovery, "")
                .await?
                .iter()
                .filter(|r| r.created_at > ctx.now - DAY_MS)
                .count();
        }
        if pools.len() < 100 {
            break;
        }
        after = pools.last().map(|p| p.id.clone());
    }
    if active >= ACTIVE_PER_ACCOUNT {
        return Err(WireError::idp(
            E::LimitExceededException,
            "An account can have at most 5 active point-in-time recoveries.",
        ));
    }
    if previews >= PREVIEWS_PER_ACCOUNT_PER_DAY {
        return Err(WireError::idp(
            E::LimitExceededException,
            "An account can have at most 10 recovery previews in a 24-hour period.",
        ));
    }
    Ok(())
}

/// Every recovery of the pool, newest first.
async fn all_recoveries(ctx: &Ctx, pool_id: &str) -> ApiResult<Vec<(Recovery, PoolObjectRow)>> {
    let mut all = Vec::new();
    for row in objects_with_prefix(ctx, pool_id, ObjectKind::PointInTimeRecovery, "").await? {
        let recovery = settle(ctx, &row, recovery_of(&row)?).await?;
        all.push((recovery, row));
    }
    all.sort_by(|(a, ra), (b, rb)| {
        (rb.created_at, &b.restore_id).cmp(&(ra.created_at, &a.restore_id))
    });
    Ok(all)
}

pub async fn initiate_point_in_time_recovery(
    ctx: Ctx,
    req: InitiatePointInTimeRecoveryRequest,
) -> ApiResult<InitiatePointInTimeRecoveryResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let restore_at = (req.restore_timestamp * 1000.0).floor() as i64;
    check_recovery_period(&ctx, &pool, restore_at)?;
    // Also clears a pause left behind by a recovery that ended (a crash between writes).
    let paused = active_recovery(&ctx, &pool.id).await?;
    let history = all_recoveries(&ctx, &pool.id).await?;
    if let Some(active) = paused
        .as_ref()
        .or(history.iter().map(|(r, _)| r).find(|r| r.is_active()))
    {
        return Err(WireError::idp(
            E::LimitExceededException,
            format!(
                "User pool {} already has an active point-in-time recovery, {}.",
                pool.id, active.restore_id
            ),
        ));
    }
    check_quotas(&ctx, &history)?;
    check_account_quotas(&ctx).await?;
    let import_running = objects_with_prefix(&ctx, &pool.id, ObjectKind::ImportJob, "")
        .await?
        .iter()
        .any(|job| {
            matches!(
                job.doc["Status"].as_str(),
                Some("Pending" | "InProgress" | "Stopping")
            )
        });
    if import_running {
        return Err(WireError::idp(
            E::ConcurrentModificationException,
            "A user import job is in progress in the user pool: wait for it to complete, or \
             stop it, before you initiate a recovery.",
        ));
    }

    let restore_id = uuid::Uuid::new_v4().to_string();
    // Pausing first: a write that lands between the preview and the pause would be
    // missing from the preview.
    let pointer = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::ActiveRecovery,
        key: "ALL".into(),
        doc: json!({"RestoreId": restore_id}),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match ctx.state.store.create_object(&pointer).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(WireError::idp(
                E::LimitExceededException,
                format!(
                    "User pool {} already has an active point-in-time recovery.",
                    pool.id
                ),
            ));
        }
        Err(e) => return Err(super::error::from_store(e)),
    }
    let preview = match ctx.state.store.user_data_at(&pool.id, restore_at).await {
        Ok(then) => preview_of(&ctx, &pool.id, &then).await,
        Err(e) => Err(super::error::from_store(e)),
    };
    let preview = match preview {
        Ok(preview) => preview,
        Err(e) => {
            // PREVIEW_GENERATION_FAILED would resume writes too; nothing is recorded.
            release_pool(&ctx, &pool.id, &restore_id).await?;
            return Err(e);
        }
    };
    let recovery = Recovery {
        restore_id,
        status: PREVIEW_GENERATED.into(),
        restore_timestamp: restore_at,
        trigger_timestamp: ctx.now,
        preview,
        completed_at: None,
    };
    ctx.state
        .store
        .create_object(&recovery.row(&pool.id, ctx.now, ctx.now))
        .await
        .wire()?;
    Ok(InitiatePointInTimeRecoveryResponse {
        restoration: Some(recovery.restoration()),
    })
}

pub async fn describe_point_in_time_recovery(
    ctx: Ctx,
    req: DescribePointInTimeRecoveryRequest,
) -> ApiResult<DescribePointInTimeRecoveryResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let (recovery, _) = load_recovery(&ctx, &pool.id, &req.restore_id).await?;
    Ok(DescribePointInTimeRecoveryResponse {
        restoration: Some(recovery.restoration()),
    })
}

pub async fn list_point_in_time_recoveries(
    ctx: Ctx,
    req: ListPointInTimeRecoveriesRequest,
) -> ApiResult<ListPointInTimeRecoveriesResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let limit = req.max_results.unwrap_or(60).clamp(1, 60) as usize;
    let all = all_recoveries(&ctx, &pool.id).await?;
    let start = match &req.next_token {
        None => 0,
        Some(token) => {
            let last = super::pools::decode_token(token)?;
            all.iter()
                .position(|(r, _)| r.restore_id == last)
                .map(|i| i + 1)
                .ok_or_else(|| WireError::invalid_parameter("The pagination token is invalid."))?
        }
    };
    let page: Vec<&Recovery> = all[start..].iter().take(limit).map(|(r, _)| r).collect();
    let next_token = (start + page.len() < all.len())
        .then(|| {
            page.last()
                .map(|r| super::pools::encode_token(&r.restore_id))
        })
        .flatten();
    Ok(ListPointInTimeRecoveriesResponse {
        restorations: Some(
            page.iter()
                .map(|r| RestorationDescriptionType {
                    restore_id: Some(r.restore_id.clone()),
                    restore_status: Some(r.status.clone()),
                    restore_timestamp: Some(r.restore_timestamp as f64 / 1000.0),
                })
                .collect(),
        ),
        next_token,
    })
}

pub async fn cancel_point_in_time_recovery(
    ctx: Ctx,
    req: CancelPointInTimeRecoveryRequest,
) -> ApiResult<CancelPointInTimeRecoveryResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let (mut recovery, row) = load_recovery(&ctx, &pool.id, &req.restore_id).await?;
    if recovery.status != PREVIEW_GENERATED {
        return Err(WireError::invalid_parameter(format!(
            "Recovery {} is {}: only a recovery whose preview is generating or generated can \
             be cancelled.",
            recovery.restore_id, recovery.status
        )));
    }
    recovery.status = PREVIEW_CANCELLED.into();
    save(&ctx, &recovery, &row).await?;
    release_pool(&ctx, &pool.id, &recovery.restore_id).await?;
    Ok(CancelPointInTimeRecoveryResponse {
        restoration: Some(recovery.restoration()),
    })
}

pub async fn start_point_in_time_recovery(
    ctx: Ctx,
    req: StartPointInTimeRecoveryRequest,
) -> ApiResult<StartPointInTimeRecoveryResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let (mut recovery, row) = load_recovery(&ctx, &pool.id, &req.restore_id).await?;
    if !matches!(recovery.status.as_str(), PREVIEW_GENERATED | RESTORE_FAILED) {
        return Err(WireError::invalid_parameter(format!(
            "Recovery {} is {}: only a recovery whose preview is generated can be started.",
            recovery.restore_id, recovery.status
        )));
    }
    recovery.status = RESTORING.into();
    save(&ctx, &recovery, &row).await?;
    let answer = recovery.restoration();
    // Applied in the background, as Cognito does: the caller watches the status.
    let background = Ctx::for_state(ctx.state.clone());
    tokio::spawn(async move {
        let outcome = apply(&background, &row.pool_id, recovery.restore_timestamp).await;
        let mut done = recovery;
        let ctx = Ctx::for_state(background.state.clone());
        match outcome {
            Ok(()) => {
                done.status = RESTORE_COMPLETED.into();
                done.completed_at = Some(ctx.now);
            }
            Err(e) => {
                tracing::error!(pool = %row.pool_id, restore = %done.restore_id,
                    "point-in-time recovery failed: {}", e.message);
                done.status = RESTORE_FAILED.into();
            }
        }
        let recorded = save(&ctx, &done, &row).await;
        if recorded.is_ok() && done.status == RESTORE_COMPLETED {
            let _ = release_pool(&ctx, &row.pool_id, &done.restore_id).await;
        }
    });
    Ok(StartPointInTimeRecoveryResponse {
        restoration: Some(answer),
    })
}

/// A user as the recovery leaves them: as they were at the restore point, but with
/// what must never go back in time kept from now (module documentation).
fn restored_user(then: &UserRow, now: &UserRow, at: i64) -> UserRow {
    let mut user = then.clone();
    if now.password != then.password {
        user.password = now.password.clone();
        if matches!(
            then.status.as_str(),
            "FORCE_CHANGE_PASSWORD" | "RESET_REQUIRED"
        ) && now.status == "CONFIRMED"
        {
            user.status = now.status.clone();
        }
    }
    user.tokens_valid_after = then.tokens_valid_after.max(now.tokens_valid_after);
    let last_step = |u: &UserRow| {
        u.extra
            .get("mfa")
            .and_then(|m| m["totp_last_step"].as_i64())
    };
    if let Some(step) = last_step(now).max(last_step(then))
        && let Some(Value::Object(mfa)) = user.extra.get_mut("mfa")
    {
        mfa.insert("totp_last_step".into(), json!(step));
    }
    user.updated_at = at;
    user
}

/// Whether two states of a user differ in what a recovery restores and reports as
/// the user's profile (not MFA or passkeys, which are their own entities).
fn profile_differs(a: &UserRow, b: &UserRow) -> bool {
    let without = |u: &UserRow| {
        let mut extra = u.extra.clone();
        extra.remove("mfa");
        extra.remove("passkeys");
        extra
    };
    a.status != b.status
        || a.enabled != b.enabled
        || a.attributes != b.attributes
        || without(a) != without(b)
}

/// The settings of a user's MFA that a recovery reports: not the last TOTP step,
/// which every sign-in moves.
fn mfa_settings(user: Option<&UserRow>) -> Option<Value> {
    let mut mfa = user?.extra.get("mfa")?.clone();
    if let Value::Object(m) = &mut mfa {
        m.remove("totp_last_step");
        m.remove("totp_pending");
    }
    let empty = mfa["enabled"].as_array().is_none_or(Vec::is_empty)
        && mfa["preferred"].is_null()
        && mfa["totp_secret"].is_null();
    (!empty).then_some(mfa)
}

fn passkeys_of(user: Option<&UserRow>) -> BTreeMap<String, Value> {
    user.and_then(|u| u.extra.get("passkeys"))
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| Some((k["id"].as_str()?.to_string(), k.clone())))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default)]
struct Tally {
    create: i64,
    update: i64,
    delete: i64,
}

impl Tally {
    fn count<T: PartialEq>(&mut self, then: Option<T>, now: Option<T>) {
        match (then, now) {
            (Some(_), None) => self.create += 1,
            (None, Some(_)) => self.delete += 1,
            (Some(a), Some(b)) if a != b => self.update += 1,
            _ => {}
        }
    }

    fn named(self, entity: &str) -> PreviewCount {
        PreviewCount {
            entity: entity.into(),
            create: self.create,
            update: self.update,
            delete: self.delete,
        }
    }
}

/// What applying the recovery would create, update and delete, per entity.
async fn preview_of(ctx: &Ctx, pool_id: &str, then: &UserDataAt) -> ApiResult<Vec<PreviewCount>> {
    let store = &ctx.state.store;
    let (mut users, mut mfas, mut passkeys, mut groups) = (
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    );
    // Users whose memberships the recovery changes count as updated users.
    let mut membership_changed: BTreeSet<&str> = BTreeSet::new();
    let mut groups_of_user: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((group, username_key), existed) in &then.memberships {
        if !groups_of_user.contains_key(username_key.as_str()) {
            let current = store
                .list_groups_of_user(pool_id, username_key, None, u32::MAX)
                .await
                .wire()?
                .into_iter()
                .map(|g| g.key)
                .collect();
            groups_of_user.insert(username_key, current);
        }
        if groups_of_user[username_key.as_str()].contains(group) != *existed {
            membership_changed.insert(username_key);
        }
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (username_key, then_user) in &then.users {
        seen.insert(username_key);
        let now_user = store.get_user(pool_id, username_key).await.wire()?;
        match (then_user, &now_user) {
            (Some(t), Some(n)) => {
                let restored = restored_user(t, n, n.updated_at);
                if profile_differs(&restored, n)
                    || membership_changed.contains(username_key.as_str())
                {
                    users.update += 1;
                }
            }
            (t, n) => users.count(t.as_ref().map(|_| ()), n.as_ref().map(|_| ())),
        }
        mfas.count(
            mfa_settings(then_user.as_ref()),
            mfa_settings(now_user.as_ref()),
        );
        let (a, b) = (
            passkeys_of(then_user.as_ref()),
            passkeys_of(now_user.as_ref()),
        );
        for id in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
            passkeys.count(a.get(id), b.get(id));
        }
    }
    users.update += membership_changed
        .iter()
        .filter(|u| !seen.contains(*u))
        .count() as i64;
    for (name, then_group) in &then.groups {
        let now_group = store
            .get_object(pool_id, ObjectKind::Group, name)
            .await
            .wire()?;
        groups.count(
            then_group.as_ref().map(|g| &g.doc),
            now_group.as_ref().map(|g| &g.doc),
        );
    }
    Ok(vec![
        users.named("Users"),
        groups.named("Groups"),
        mfas.named("User MFAs"),
        passkeys.named("Passkeys"),
    ])
}

/// Restores the pool's users, groups and memberships to their state at `restore_at`.
/// Idempotent: applied twice, the second pass finds everything in place.
async fn apply(ctx: &Ctx, pool_id: &str, restore_at: i64) -> ApiResult<()> {
    let store = &ctx.state.store;
    let then = store.user_data_at(pool_id, restore_at).await.wire()?;
    for (name, then_group) in &then.groups {
        let now_group = store
            .get_object(pool_id, ObjectKind::Group, name)
            .await
            .wire()?;
        match (then_group, now_group) {
            (None, Some(_)) => {
                store
                    .delete_object(pool_id, ObjectKind::Group, name)
                    .await
                    .wire()?;
            }
            (Some(group), now) if now.as_ref().map(|g| &g.doc) != Some(&group.doc) => {
                store.put_object(group).await.wire()?;
            }
            _ => {}
        }
    }
    for (username_key, then_user) in &then.users {
        let now_user = store.get_user(pool_id, username_key).await.wire()?;
        match (then_user, now_user) {
            (None, Some(_)) => {
                store.delete_user(pool_id, username_key).await.wire()?;
            }
            (Some(user), None) => match store.create_user(user).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(super::error::from_store(e)),
            },
            (Some(user), Some(now)) => {
                let restored = restored_user(user, &now, ctx.now);
                let unchanged = UserRow {
                    updated_at: now.updated_at,
                    ..restored.clone()
                } == now;
                if !unchanged {
                    store.update_user(&restored).await.wire()?;
                }
            }
            (None, None) => {}
        }
    }
    for ((group, username_key), existed) in &then.memberships {
        if *existed {
            // Only between a group and a user that are there after the restore.
            let group_there = store
                .get_object(pool_id, ObjectKind::Group, group)
                .await
                .wire()?
                .is_some();
            let user_there = store
                .get_user(pool_id, username_key)
                .await
                .wire()?
                .is_some();
            if group_there && user_there {
                store
                    .add_member(pool_id, group, username_key)
                    .await
                    .wire()?;
            }
        } else {
            store
                .remove_member(pool_id, group, username_key)
                .await
                .wire()?;
        }
    }
    Ok(())
}

/// Forgets the journal past the longest recovery period, hourly, for as long as the
/// server runs. Every node may run it: deleting what another node already deleted is
/// harmless.
pub fn spawn_journal_pruning(state: crate::state::SharedState) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            let ctx = Ctx::for_state(state.clone());
            match state
                .store
                .prune_user_data_history(ctx.now - JOURNAL_RETENTION_MS)
                .await
            {
                Ok(n) if n > 0 => tracing::info!("pruned {n} user-data journal entries"),
                Ok(_) => {}
                Err(e) => tracing::warn!("pruning the user-data journal failed: {e}"),
            }
        }
    });
}
