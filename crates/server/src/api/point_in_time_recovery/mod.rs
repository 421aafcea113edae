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
use idpool_store::{ObjectKind, PoolObjectRow, StoreError};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde::{Deserialize, Serialize};
use serde_json::json;

mod pause;
mod restore;
mod rules;

pub use pause::{refuse_paused_challenge, refuse_paused_operation, refuse_write_during_recovery};
use restore::{apply, preview_of};
pub use rules::record_tier_change;
use rules::{check_account_quotas, check_quotas, check_recovery_period};

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
