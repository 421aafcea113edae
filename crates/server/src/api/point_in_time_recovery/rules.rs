//! What may be recovered: the feature plans' recovery periods and Cognito's quotas.

use super::*;
use crate::api::Ctx;
use crate::api::error::{ApiResult, OrWire};
use idpool_store::{ObjectKind, PoolObjectRow, PoolRow};
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};

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
pub(super) fn check_recovery_period(ctx: &Ctx, pool: &PoolRow, restore_at: i64) -> ApiResult<()> {
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
pub(super) fn check_quotas(ctx: &Ctx, history: &[(Recovery, PoolObjectRow)]) -> ApiResult<()> {
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
pub(super) async fn check_account_quotas(ctx: &Ctx) -> ApiResult<()> {
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
