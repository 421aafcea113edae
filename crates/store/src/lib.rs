//! Storage for idpool: one trait per aggregate, implemented by every backend
//! (`idpool-store-sqlite`, `idpool-store-postgres`), and one conformance suite
//! (`conformance`) that every backend must pass. Each backend owns its SQL and
//! migrations; nothing outside the backend crates knows which database is in use.
//!
//! Everything a node needs lives here, never in process memory, so any number of
//! stateless nodes can share one PostgreSQL database (DESIGN.md section 3).

pub mod conformance;
mod rows;

pub use rows::*;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (pool id, client id, username in a pool).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed; the message is for logs, never for clients.
    #[error("storage backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait PoolStore: Send + Sync {
    async fn create_pool(&self, pool: &PoolRow) -> StoreResult<()>;
    async fn get_pool(&self, id: &str) -> StoreResult<Option<PoolRow>>;
    async fn update_pool(&self, pool: &PoolRow) -> StoreResult<()>;
    /// Deletes the pool and everything in it. Returns false if there was no such pool.
    async fn delete_pool(&self, id: &str) -> StoreResult<bool>;
    /// Pools ordered by id, starting after `after`.
    async fn list_pools(&self, after: Option<&str>, limit: u32) -> StoreResult<Vec<PoolRow>>;
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn create_identity_pool(&self, pool: &IdentityPoolRow) -> StoreResult<()>;
    async fn get_identity_pool(&self, id: &str) -> StoreResult<Option<IdentityPoolRow>>;
    async fn update_identity_pool(&self, pool: &IdentityPoolRow) -> StoreResult<()>;
    /// Deletes the pool with its identities. False if there was no such pool.
    async fn delete_identity_pool(&self, id: &str) -> StoreResult<bool>;
    /// Identity pools ordered by id, starting after `after`.
    async fn list_identity_pools(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<IdentityPoolRow>>;
    /// The identity of `pool_id` that the login `login_key` (`provider\nsubject`, see
    /// `login_key`) is linked to. Never creates one.
    async fn find_identity_by_login(
        &self,
        pool_id: &str,
        login_key: &str,
    ) -> StoreResult<Option<IdentityRow>>;
    /// The login keys linked to an identity, in key order.
    async fn identity_login_keys(&self, identity_id: &str) -> StoreResult<Vec<String>>;
    /// Stores `new` with these logins linked to it (none: a guest identity); its
    /// `logins` are the providers of the keys (`login_providers`). `Conflict`, and
    /// nothing stored, when a login is linked already (another request may have
    /// linked it at the same moment: looking it up again finds theirs).
    async fn create_identity(
        &self,
        new: &IdentityRow,
        login_keys: &[String],
    ) -> StoreResult<IdentityRow>;
    /// Links logins to an existing identity (keys it holds already are kept) and
    /// recomputes its `logins`. `Conflict`, and nothing changed, when one is linked to
    /// another identity. None when there is no such identity.
    async fn link_logins(
        &self,
        identity_id: &str,
        login_keys: &[String],
        now: i64,
    ) -> StoreResult<Option<IdentityRow>>;
    /// Unlinks those of the logins that are linked to this identity. None when there
    /// is no such identity.
    async fn unlink_logins(
        &self,
        identity_id: &str,
        login_keys: &[String],
        now: i64,
    ) -> StoreResult<Option<IdentityRow>>;
    /// Moves every login of `source_id` to `destination_id` and deletes the source
    /// identity, in one transaction. None when either identity is missing.
    async fn merge_identities(
        &self,
        source_id: &str,
        destination_id: &str,
        now: i64,
    ) -> StoreResult<Option<IdentityRow>>;
    async fn get_identity(&self, identity_id: &str) -> StoreResult<Option<IdentityRow>>;
    /// A pool's identities ordered by id, starting after `after`.
    async fn list_identities(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<IdentityRow>>;
    /// Deletes an identity and unlinks its logins. False if there was none.
    async fn delete_identity(&self, identity_id: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn create_client(&self, client: &ClientRow) -> StoreResult<()>;
    /// Client ids are unique across pools, so a client is found by its id alone.
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<ClientRow>>;
    async fn update_client(&self, client: &ClientRow) -> StoreResult<()>;
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool>;
    async fn list_clients(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ClientRow>>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `Conflict` if `(pool_id, username_key)` exists.
    async fn create_user(&self, user: &UserRow) -> StoreResult<()>;
    async fn get_user(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<UserRow>>;
    /// The user an access token names, and whether the token's session (`origin_jti`)
    /// was revoked, in one round trip: this is on every GetUser's path.
    async fn get_user_for_session(
        &self,
        pool_id: &str,
        username_key: &str,
        origin_jti: &str,
    ) -> StoreResult<Option<(UserRow, bool)>>;
    /// Users whose indexed attribute `attr` equals `value` (alias look-ups, uniqueness).
    async fn find_users_by(
        &self,
        pool_id: &str,
        attr: IndexedAttr,
        value: &str,
    ) -> StoreResult<Vec<UserRow>>;
    /// Replaces the stored row, matched on `(pool_id, username_key)`.
    async fn update_user(&self, user: &UserRow) -> StoreResult<()>;
    async fn delete_user(&self, pool_id: &str, username_key: &str) -> StoreResult<bool>;
    /// Users after `after`, optionally filtered, ordered by `username_key` (or, for
    /// `filter.orders_by_value()`, by the attribute and then `username_key`). Every
    /// filter is served by an index in this order, so a page costs the same in a pool
    /// of millions.
    async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&UserFilter>,
        after: Option<&UserCursor>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>>;
    /// Inserts many users in one transaction (user import); fails with `Conflict`,
    /// inserting none, if any username is taken.
    async fn create_users(&self, users: &[UserRow]) -> StoreResult<()>;
    async fn count_users(&self, pool_id: &str) -> StoreResult<i64>;
}

#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores the one live code of `purpose` for a user, replacing an older one.
    async fn put_code(&self, code: &CodeRow) -> StoreResult<()>;
    async fn get_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
    ) -> StoreResult<Option<CodeRow>>;
    /// Counts a failed attempt; returns the new count.
    async fn record_code_failure(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
    ) -> StoreResult<i32>;
    /// Consumes the code. Returns false if it was already gone (a concurrent use won),
    /// which is what makes codes single-use across nodes.
    async fn delete_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn push_message(&self, message: &OutboxRow) -> StoreResult<()>;
    /// Oldest first.
    async fn list_messages(
        &self,
        pool_id: Option<&str>,
        username: Option<&str>,
    ) -> StoreResult<Vec<OutboxRow>>;
}

#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    async fn insert_refresh_token(&self, token: &RefreshTokenRow) -> StoreResult<()>;
    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshTokenRow>>;
    /// Revokes a token together with every refresh token of its session (the ones
    /// rotation issued before and after it, which share its `origin_jti`), and so every
    /// access/ID token minted from them (see `UserStore::get_user_for_session`). Returns
    /// false if there was no such token.
    async fn revoke_refresh_token(&self, token_hash: &str, now: i64) -> StoreResult<bool>;
    /// Refresh-token rotation, in one transaction: marks `old_hash` rotated (keeping the
    /// time of its first rotation) and stores `new`. Returns false and stores nothing
    /// when the old token can no longer be used: missing, revoked, expired, or rotated
    /// `grace_ms` or longer ago. With no grace period a token rotates once, even under
    /// concurrent requests. The old row keeps its `expires_at`, the session's end, which
    /// replacements inherit.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        now: i64,
        grace_ms: i64,
        new: &RefreshTokenRow,
    ) -> StoreResult<bool>;
    async fn revoke_user_refresh_tokens(
        &self,
        pool_id: &str,
        username_key: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// The user's live token sessions (none of their tokens revoked, not yet expired),
    /// oldest first.
    async fn list_token_sessions(
        &self,
        pool_id: &str,
        username_key: &str,
        now: i64,
    ) -> StoreResult<Vec<TokenSessionRow>>;
    /// Records a renewal by a refresh token that was not replaced (no rotation): when,
    /// and where from (`context`), for ListUserSessions' last activity.
    async fn note_refresh_token_use(
        &self,
        token_hash: &str,
        now: i64,
        context: &str,
    ) -> StoreResult<()>;
    /// Revokes every refresh token of one of the user's sessions, and so the tokens
    /// minted from them. Returns false if the user has no such session.
    async fn revoke_token_session(
        &self,
        pool_id: &str,
        username_key: &str,
        origin_jti: &str,
        now: i64,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Newest first.
    async fn list_signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKeyRow>>;
    /// Fails with `Conflict` if the kid exists.
    async fn insert_signing_key(&self, key: &SigningKeyRow) -> StoreResult<()>;
}

#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Sets `name` if it is unset and returns the value now stored, so concurrent nodes
    /// starting together agree on one value (generated admin keys, for example).
    async fn put_setting_if_absent(&self, name: &str, value: &str) -> StoreResult<String>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Marks a single-use value (a challenge session, an SRP secret block) as spent and
    /// says whether this call was the first to do so: two nodes racing on one session
    /// cannot both win. `expires_at` is when the value stops being presentable anyway;
    /// rows past it may be purged.
    async fn consume_once(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool>;
    /// Whether `consume_once` already spent `key` (a cheap early refusal; only
    /// `consume_once` decides races).
    async fn is_consumed(&self, key: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Inserts or replaces the device (keyed by pool, user and device key).
    async fn put_device(&self, device: &DeviceRow) -> StoreResult<()>;
    async fn get_device(
        &self,
        pool_id: &str,
        username_key: &str,
        device_key: &str,
    ) -> StoreResult<Option<DeviceRow>>;
    /// Ordered by device key, after `after`.
    async fn list_devices(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<DeviceRow>>;
    async fn delete_device(
        &self,
        pool_id: &str,
        username_key: &str,
        device_key: &str,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait PoolObjectStore: Send + Sync {
    /// Fails with `Conflict` if `(pool_id, kind, key)` exists, or, for a globally
    /// unique kind, if any pool holds `key`.
    async fn create_object(&self, object: &PoolObjectRow) -> StoreResult<()>;
    /// Inserts or replaces (a global key held by another pool is still a `Conflict`).
    async fn put_object(&self, object: &PoolObjectRow) -> StoreResult<()>;
    async fn get_object(
        &self,
        pool_id: &str,
        kind: ObjectKind,
        key: &str,
    ) -> StoreResult<Option<PoolObjectRow>>;
    /// The object of a globally unique kind with this key, in whichever pool holds it.
    async fn find_global_object(
        &self,
        kind: ObjectKind,
        key: &str,
    ) -> StoreResult<Option<PoolObjectRow>>;
    /// Deletes the object (a group with its memberships). False if there was none.
    async fn delete_object(&self, pool_id: &str, kind: ObjectKind, key: &str) -> StoreResult<bool>;
    /// Ordered by key, after `after`.
    async fn list_objects(
        &self,
        pool_id: &str,
        kind: ObjectKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<PoolObjectRow>>;
    /// How many objects of `kind` the pool holds (Cognito's per-pool quotas).
    async fn count_objects(&self, pool_id: &str, kind: ObjectKind) -> StoreResult<i64>;
}

/// Who is in which group. Memberships go with the group (`delete_object`) and with the
/// user (`UserStore::delete_user`).
#[async_trait]
pub trait GroupMemberStore: Send + Sync {
    /// Adding a member twice is a no-op, as in Cognito.
    async fn add_member(&self, pool_id: &str, group: &str, username_key: &str) -> StoreResult<()>;
    /// False if the user was not in the group.
    async fn remove_member(
        &self,
        pool_id: &str,
        group: &str,
        username_key: &str,
    ) -> StoreResult<bool>;
    /// The group's users, ordered by `username_key`, after `after`.
    async fn list_members(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>>;
    /// The groups a user is in, ordered by name, after `after`.
    async fn list_groups_of_user(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<PoolObjectRow>>;
}

/// A user's event history (AdminListUserAuthEvents), newest first.
#[async_trait]
pub trait AuthEventStore: Send + Sync {
    /// Stores the event and drops the user's events older than `keep_after`.
    async fn insert_auth_event(&self, event: &AuthEventRow, keep_after: i64) -> StoreResult<()>;
    async fn get_auth_event(
        &self,
        pool_id: &str,
        username_key: &str,
        event_id: &str,
    ) -> StoreResult<Option<AuthEventRow>>;
    /// Replaces the event's document (feedback). False if there is no such event.
    async fn update_auth_event(&self, event: &AuthEventRow) -> StoreResult<bool>;
    /// Newest first, strictly older than `before` (`(created_at, event_id)` of the last
    /// event of the previous page).
    async fn list_auth_events(
        &self,
        pool_id: &str,
        username_key: &str,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<AuthEventRow>>;
}

/// Cognito Sync: datasets of an identity, their records with sync counts, and the
/// change log. Everything else of Sync (configuration, events, devices, subscriptions)
/// is pool objects of the identity pool.
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// The dataset, tombstone included.
    async fn get_dataset(
        &self,
        pool_id: &str,
        identity_id: &str,
        name: &str,
    ) -> StoreResult<Option<SyncDatasetRow>>;
    /// An identity's live datasets by name, after `after`.
    async fn list_datasets(
        &self,
        pool_id: &str,
        identity_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SyncDatasetRow>>;
    /// A pool's live datasets by (identity, name), after `after` (bulk publish).
    async fn list_pool_datasets(
        &self,
        pool_id: &str,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<SyncDatasetRow>>;
    /// Records changed after sync count `after_sync_count`, removed ones included, by
    /// key, after `after_key`.
    async fn list_records(
        &self,
        pool_id: &str,
        identity_id: &str,
        dataset: &str,
        after_sync_count: i64,
        after_key: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SyncRecordRow>>;
    /// Applies every patch or none, creating the dataset (or reviving a deleted one),
    /// and logs the change, in one transaction: two devices racing on one record can
    /// never both win, on any node.
    async fn update_records(&self, update: &SyncUpdate) -> StoreResult<SyncOutcome>;
    /// Deletes a live dataset's records, leaves its tombstone and logs a `remove`.
    /// Returns the dataset as it was and the log entry, None if there was no live
    /// dataset.
    async fn delete_dataset(
        &self,
        pool_id: &str,
        identity_id: &str,
        name: &str,
        now: i64,
    ) -> StoreResult<Option<(SyncDatasetRow, SyncChangeRow)>>;
    /// Usage of one identity, or of the whole pool when `identity_id` is None.
    async fn sync_usage(&self, pool_id: &str, identity_id: Option<&str>) -> StoreResult<SyncUsage>;
    /// Appends entries (bulk publish); their `seq` is assigned here and returned.
    async fn append_changes(&self, changes: &[SyncChangeRow]) -> StoreResult<Vec<SyncChangeRow>>;
    /// A pool's log entries after `after_seq`, oldest first; with `identity_id`, only
    /// that identity's.
    async fn list_changes(
        &self,
        pool_id: &str,
        identity_id: Option<&str>,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<SyncChangeRow>>;
}

/// The journal of a pool's user data (users, group memberships, groups) behind
/// point-in-time recovery. The backends' triggers write it on every change, so no
/// write path can bypass it; this trait only reads and prunes it.
#[async_trait]
pub trait UserDataHistoryStore: Send + Sync {
    /// Everything of the pool's user data that changed after `since` (Unix
    /// milliseconds), each as it was at `since`.
    async fn user_data_at(&self, pool_id: &str, since: i64) -> StoreResult<UserDataAt>;
    /// Forgets the journal of every pool before `before`; returns how many entries.
    async fn prune_user_data_history(&self, before: i64) -> StoreResult<u64>;
}

/// Everything idpool stores. `reset` wipes all of it (dev mode's `POST /_idpool/reset`).
#[async_trait]
pub trait Store:
    PoolStore
    + ClientStore
    + UserStore
    + CodeStore
    + OutboxStore
    + RefreshTokenStore
    + SigningKeyStore
    + SettingsStore
    + SessionStore
    + DeviceStore
    + PoolObjectStore
    + GroupMemberStore
    + AuthEventStore
    + IdentityStore
    + SyncStore
    + UserDataHistoryStore
{
    async fn reset(&self) -> StoreResult<()>;
    /// "sqlite" or "postgres", for logs and /health.
    fn backend_name(&self) -> &'static str;
}
