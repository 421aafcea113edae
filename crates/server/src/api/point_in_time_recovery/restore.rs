//! What a recovery changes: its preview, and applying it.

use super::*;
use crate::api::Ctx;
use crate::api::error::{ApiResult, OrWire};
use idpool_store::{ObjectKind, StoreError, UserDataAt, UserRow};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

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
pub(super) async fn preview_of(
    ctx: &Ctx,
    pool_id: &str,
    then: &UserDataAt,
) -> ApiResult<Vec<PreviewCount>> {
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
pub(super) async fn apply(ctx: &Ctx, pool_id: &str, restore_at: i64) -> ApiResult<()> {
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
                Err(e) => return Err(crate::api::error::from_store(e)),
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
