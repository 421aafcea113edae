//! Row types: what a backend stores and returns. Times are Unix milliseconds.
//! Documents whose shape is Cognito's own (pool and client configuration, user
//! attributes) are kept as JSON: the API returns them as they were given.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct PoolRow {
    pub id: String,
    pub name: String,
    /// The pool's configuration as Cognito's `UserPoolType` document.
    pub config: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientRow {
    pub client_id: String,
    pub pool_id: String,
    pub name: String,
    /// Encrypted with the master key; Cognito returns it in DescribeUserPoolClient.
    pub secret: Option<String>,
    pub config: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Attributes with their own index, the ones ListUsers filters on and aliases use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexedAttr {
    Username,
    Email,
    PhoneNumber,
    PreferredUsername,
    Name,
    GivenName,
    FamilyName,
    Sub,
    /// `cognito:user_status`: UNCONFIRMED, CONFIRMED, ...
    UserStatus,
    /// `status`: Enabled / Disabled.
    Enabled,
}

impl IndexedAttr {
    /// The column every backend uses for it.
    pub fn column(self) -> &'static str {
        match self {
            IndexedAttr::Username => "username_key",
            IndexedAttr::Email => "email",
            IndexedAttr::PhoneNumber => "phone_number",
            IndexedAttr::PreferredUsername => "preferred_username",
            IndexedAttr::Name => "name",
            IndexedAttr::GivenName => "given_name",
            IndexedAttr::FamilyName => "family_name",
            IndexedAttr::Sub => "sub",
            IndexedAttr::UserStatus => "status",
            IndexedAttr::Enabled => "enabled_text",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Equals,
    Prefix,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFilter {
    pub attr: IndexedAttr,
    pub op: FilterOp,
    pub value: String,
}

impl UserFilter {
    /// Prefix filters on an attribute other than the username list users in the order
    /// of that attribute (then username): the attribute's index then serves both the
    /// range and the order, however many users share the prefix.
    pub fn orders_by_value(&self) -> bool {
        self.op == FilterOp::Prefix && self.attr != IndexedAttr::Username
    }
}

/// Where a user listing resumes: after this position in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserCursor {
    /// The filtered attribute's value, for listings ordered by it (see
    /// `UserFilter::orders_by_value`); empty otherwise.
    pub value: String,
    pub username_key: String,
}

impl UserCursor {
    /// The cursor just after `user` in a listing under `filter`.
    pub fn after(user: &UserRow, filter: Option<&UserFilter>) -> UserCursor {
        let value = match filter {
            Some(f) if f.orders_by_value() => user.indexed_value(f.attr).unwrap_or_default(),
            _ => String::new(),
        };
        UserCursor {
            value,
            username_key: user.username_key.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub pool_id: String,
    /// The username as Cognito reports it.
    pub username: String,
    /// The lookup key: lower-cased in case-insensitive pools.
    pub username_key: String,
    pub sub: String,
    /// UNCONFIRMED, CONFIRMED, FORCE_CHANGE_PASSWORD, RESET_REQUIRED, ...
    pub status: String,
    pub enabled: bool,
    /// `{"name": "value"}` for every attribute but `sub`.
    pub attributes: serde_json::Map<String, Value>,
    /// The encrypted password verifier document; None for users without a password.
    pub password: Option<Value>,
    /// Anything else a flow keeps per user (MFA settings, temporary-password expiry...).
    pub extra: serde_json::Map<String, Value>,
    /// Tokens issued before this instant are rejected (GlobalSignOut).
    pub tokens_valid_after: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRow {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(|v| v.as_str())
    }
    /// The value each backend puts in the column of `attr`.
    pub fn indexed_value(&self, attr: IndexedAttr) -> Option<String> {
        match attr {
            IndexedAttr::Username => Some(self.username_key.clone()),
            IndexedAttr::Sub => Some(self.sub.clone()),
            IndexedAttr::UserStatus => Some(self.status.clone()),
            IndexedAttr::Enabled => {
                Some(if self.enabled { "Enabled" } else { "Disabled" }.to_string())
            }
            IndexedAttr::Email => self.attr("email").map(str::to_string),
            IndexedAttr::PhoneNumber => self.attr("phone_number").map(str::to_string),
            IndexedAttr::PreferredUsername => self.attr("preferred_username").map(str::to_string),
            IndexedAttr::Name => self.attr("name").map(str::to_string),
            IndexedAttr::GivenName => self.attr("given_name").map(str::to_string),
            IndexedAttr::FamilyName => self.attr("family_name").map(str::to_string),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub pool_id: String,
    pub username_key: String,
    /// "signup", "forgot_password", "verify:email", ...
    pub purpose: String,
    /// Codes are stored only as hashes.
    pub code_hash: String,
    pub expires_at: i64,
    pub failed_attempts: i32,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRow {
    pub id: String,
    pub pool_id: String,
    pub username: String,
    /// EMAIL or SMS.
    pub channel: String,
    pub destination: String,
    pub subject: Option<String>,
    pub message: String,
    pub code: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRow {
    pub token_hash: String,
    pub pool_id: String,
    pub client_id: String,
    pub username_key: String,
    /// The `origin_jti` of every token minted from this refresh token.
    pub origin_jti: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// When refresh-token rotation replaced this token (GetTokensFromRefreshToken on a
    /// rotating client). A rotated token works only for the client's grace period, and
    /// using it later is refresh-token reuse.
    pub rotated_at: Option<i64>,
    /// The OAuth scopes granted at the authorization (space-separated), which every
    /// access token refreshed from it keeps. None for the API sign-in flows.
    pub scopes: Option<String>,
    /// The tracked device the token was issued to (device tracking on): renewals must
    /// name it, and it must still be one of the user's devices.
    pub device_key: Option<String>,
    /// Where the token was issued (JSON: ip, device, city, country), kept only while
    /// the pool tracks sessions.
    pub context: Option<String>,
}

/// A user's token session: the refresh tokens that share an `origin_jti`, from the
/// sign-in that began it through every rotation since (ListUserSessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSessionRow {
    pub origin_jti: String,
    pub client_id: String,
    /// When the sign-in issued its first refresh token.
    pub created_at: i64,
    /// Its last activity: the sign-in, a rotation, or a renewal without rotation.
    pub last_active_at: i64,
    pub expires_at: i64,
    /// The `context` of that last activity.
    pub context: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub pool_id: String,
    pub kid: String,
    /// PKCS#8 DER, encrypted with the master key, base64.
    pub private_key: String,
    pub created_at: i64,
}

/// A device a user signed in from (Cognito's device tracking).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    pub pool_id: String,
    pub username_key: String,
    /// `region_uuid`, as Cognito's DeviceKey.
    pub device_key: String,
    /// The realm of the device's SRP verifier (DeviceGroupKey).
    pub group_key: String,
    /// From ConfirmDevice: the device's SRP verifier and salt (base64, as sent), the
    /// verifier encrypted with the master key. None until the device is confirmed.
    pub verifier: Option<String>,
    pub salt: Option<String>,
    /// `remembered` / `not_remembered`; None until UpdateDeviceStatus or ConfirmDevice.
    pub remembered_status: Option<String>,
    /// Cognito's DeviceAttributes (`device_name`, `last_ip_used`, ...).
    pub attributes: serde_json::Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_authenticated_at: i64,
}

/// The kinds of pool sub-resources that are stored as Cognito's own documents
/// (`GroupType`, `ResourceServerType`, `IdentityProviderType`, ...): the API returns
/// them as given, so new Cognito fields need no migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// Key: the group name.
    Group,
    /// Key: the resource server identifier.
    ResourceServer,
    /// Key: the provider name.
    IdentityProvider,
    /// Key: the domain (a prefix or a custom domain); unique across all pools.
    Domain,
    /// Key: the client id, or `ALL` for the pool-wide customization.
    UiCustomization,
    /// Key: the branding id.
    ManagedLoginBranding,
    /// Which branding style an app client has (Cognito allows one). Key: the client id;
    /// the document names the branding id. Lets the hosted pages find a client's style
    /// without reading every style (and its assets) of the pool.
    ManagedLoginBrandingOfClient,
    /// Key: the client id, or `ALL`.
    RiskConfiguration,
    /// Key: `ALL` (one per pool).
    LogDeliveryConfiguration,
    /// Key: the job id.
    ImportJob,
    /// Key: the terms id.
    Terms,
    /// An external identity linked to a pool user (AdminLinkProviderForUser). Key:
    /// `provider/attribute/value`; the document names the user.
    ProviderLink,
    /// An IAM role of idpool's IAM subset. Pool id: `IAM_ACCOUNT_SCOPE`; key: the role
    /// name lower-cased (IAM names are unique without regard to case).
    IamRole,
    /// A customer managed IAM policy. Pool id: `IAM_ACCOUNT_SCOPE`; key: the policy
    /// name lower-cased.
    IamPolicy,
    /// An OpenID Connect provider of idpool's IAM subset. Pool id: `IAM_ACCOUNT_SCOPE`;
    /// key: the provider's URL without its scheme (`accounts.example.com/path`), the
    /// name logins and ARNs use.
    IamOidcProvider,
    /// A SAML provider of idpool's IAM subset. Pool id: `IAM_ACCOUNT_SCOPE`; key: its
    /// name (the last part of its ARN).
    IamSamlProvider,
    /// An identity pool's roles and role mappings (SetIdentityPoolRoles). Pool id: the
    /// identity pool id; key: `ALL`.
    IdentityPoolRoles,
    /// An identity pool's principal tag map for one provider. Pool id: the identity
    /// pool id; key: the provider name.
    PrincipalTagMap,
    /// Cognito Sync's configuration of an identity pool (`PushSync`, `CognitoStreams`).
    /// Pool id: the identity pool id; key: `ALL`.
    SyncConfiguration,
    /// Cognito Sync's events (SetCognitoEvents). Pool id: the identity pool id; key:
    /// `ALL`.
    SyncEvents,
    /// The state of the pool's last bulk publish. Pool id: the identity pool id; key:
    /// `ALL`.
    SyncBulkPublish,
    /// A device registered for push sync. Pool id: the identity pool id; key: the
    /// device id.
    SyncDevice,
    /// A device's subscription to a dataset. Pool id: the identity pool id; key:
    /// `identity id/dataset/device id`.
    SyncSubscription,
    /// A point-in-time recovery of a user pool (InitiatePointInTimeRecovery). Key: the
    /// restore id.
    PointInTimeRecovery,
    /// The pool's recovery in progress, whose writes are paused. Key: `ALL`; the
    /// document names the restore id. Creating it is how one node wins the pool's one
    /// active recovery.
    ActiveRecovery,
    /// A Client ID Metadata Document policy (CreateCIMDPolicy). Key: the policy id.
    CimdPolicy,
    /// A client metadata document fetched for a CIMD policy. Key: the policy id, a
    /// space, and the document's URL.
    CimdDocument,
    /// A hosted-UI sign-in (SSO session) of a pool that tracks sessions. Key: the
    /// username key, a space (which no username contains), and the session id.
    SsoSession,
}

/// The `pool_id` under which account-wide IAM entities are kept: no user pool or
/// identity pool id can take this value (theirs contain `_` or `:`).
pub const IAM_ACCOUNT_SCOPE: &str = "iam";

impl ObjectKind {
    /// The name every backend stores in its `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Group => "group",
            ObjectKind::ResourceServer => "resource_server",
            ObjectKind::IdentityProvider => "identity_provider",
            ObjectKind::Domain => "domain",
            ObjectKind::UiCustomization => "ui_customization",
            ObjectKind::ManagedLoginBranding => "managed_login_branding",
            ObjectKind::ManagedLoginBrandingOfClient => "managed_login_branding_of_client",
            ObjectKind::RiskConfiguration => "risk_configuration",
            ObjectKind::LogDeliveryConfiguration => "log_delivery_configuration",
            ObjectKind::ImportJob => "import_job",
            ObjectKind::Terms => "terms",
            ObjectKind::ProviderLink => "provider_link",
            ObjectKind::IamRole => "iam_role",
            ObjectKind::IamPolicy => "iam_policy",
            ObjectKind::IamOidcProvider => "iam_oidc_provider",
            ObjectKind::IamSamlProvider => "iam_saml_provider",
            ObjectKind::IdentityPoolRoles => "identity_pool_roles",
            ObjectKind::PrincipalTagMap => "principal_tag_map",
            ObjectKind::SyncConfiguration => "sync_configuration",
            ObjectKind::SyncEvents => "sync_events",
            ObjectKind::SyncBulkPublish => "sync_bulk_publish",
            ObjectKind::SyncDevice => "sync_device",
            ObjectKind::SyncSubscription => "sync_subscription",
            ObjectKind::PointInTimeRecovery => "point_in_time_recovery",
            ObjectKind::ActiveRecovery => "active_recovery",
            ObjectKind::CimdPolicy => "cimd_policy",
            ObjectKind::CimdDocument => "cimd_document",
            ObjectKind::SsoSession => "sso_session",
        }
    }

    /// Kinds whose key is unique across pools, not only within one: Cognito serves a
    /// domain for exactly one pool.
    pub fn globally_unique(self) -> bool {
        matches!(self, ObjectKind::Domain)
    }
}

/// A pool's user data as it was at an instant, for what changed after it
/// (`UserDataHistoryStore::user_data_at`). Each list is sorted by its key.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UserDataAt {
    /// Each user changed since, by username key: the row then, None if there was none.
    pub users: Vec<(String, Option<UserRow>)>,
    /// Each group changed since, by name: the group then, None if there was none.
    pub groups: Vec<(String, Option<PoolObjectRow>)>,
    /// Each membership `(group name, username key)` changed since, and whether it
    /// existed then.
    pub memberships: Vec<((String, String), bool)>,
}

impl UserDataAt {
    /// For the backends reading their journals ordered by key, then sequence: keeps the
    /// first entry of each key, which recorded the row as it was before its first change.
    /// `then` reads it from the journal row, only when kept.
    pub fn keep_first<K: PartialEq, V>(
        list: &mut Vec<(K, V)>,
        key: K,
        then: impl FnOnce() -> crate::StoreResult<V>,
    ) -> crate::StoreResult<()> {
        if list.last().is_none_or(|(k, _)| *k != key) {
            list.push((key, then()?));
        }
        Ok(())
    }
}

/// One pool sub-resource. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolObjectRow {
    pub pool_id: String,
    pub kind: ObjectKind,
    pub key: String,
    /// The Cognito document (`GroupType` without its timestamps, ...).
    pub doc: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One sign-in or account event of a user (Cognito's `AuthEventType` as `doc`,
/// without its id and date), kept while the pool has threat protection on.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthEventRow {
    pub pool_id: String,
    pub username_key: String,
    pub event_id: String,
    pub created_at: i64,
    pub doc: Value,
}

/// An identity pool (cognito-identity): its settings as the IdentityPool document
/// without id and name.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityPoolRow {
    pub id: String,
    pub name: String,
    pub config: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The key that links a login to an identity: the provider and the user's subject
/// there (a developer user identifier for developer providers).
pub fn login_key(provider: &str, subject: &str) -> String {
    format!("{provider}\n{subject}")
}

/// The provider and subject of a login key.
pub fn split_login_key(key: &str) -> (&str, &str) {
    key.split_once('\n').unwrap_or((key, ""))
}

/// The distinct providers of some login keys, sorted: an identity's `logins`.
pub fn login_providers(keys: &[String]) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> = keys.iter().map(|k| split_login_key(k).0).collect();
    set.into_iter().map(String::from).collect()
}

/// An identity of an identity pool, with the names of the login providers linked to it.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityRow {
    pub identity_id: String,
    pub pool_id: String,
    pub logins: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A Cognito Sync dataset of one identity. A deleted dataset stays as a tombstone
/// (`deleted`), so its sync count keeps growing when it is created again and a device
/// that last synced before the deletion learns of it (ListRecords'
/// `DatasetDeletedAfterRequestedSyncCount`).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncDatasetRow {
    /// The identity pool.
    pub pool_id: String,
    pub identity_id: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The device (or identity) of the last change.
    pub last_modified_by: String,
    /// One more at every successful UpdateRecords and at a deletion.
    pub sync_count: i64,
    /// Live (not removed) records.
    pub num_records: i64,
    /// Bytes of the live records' keys and values.
    pub data_storage: i64,
    pub deleted: bool,
    /// The sync count of the last deletion, 0 if never deleted.
    pub deleted_sync_count: i64,
}

/// One record of a dataset. A removed record keeps its row without a value, so devices
/// syncing later learn of the removal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecordRow {
    pub key: String,
    pub value: Option<String>,
    /// The dataset's sync count when the record last changed.
    pub sync_count: i64,
    pub last_modified_at: i64,
    pub last_modified_by: String,
    pub device_last_modified_at: Option<i64>,
}

/// One change UpdateRecords asks for: `value` None removes the record. Applied only
/// if the record's sync count is still `expected_sync_count` (0 for a new record).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPatch {
    pub key: String,
    pub value: Option<String>,
    pub expected_sync_count: i64,
    pub device_last_modified_at: Option<i64>,
}

/// Cognito Sync's quotas, checked inside the write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncLimits {
    pub max_datasets_per_identity: i64,
    pub max_records_per_dataset: i64,
    pub max_bytes_per_dataset: i64,
}

/// An UpdateRecords: every patch applies, or none.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncUpdate {
    pub pool_id: String,
    pub identity_id: String,
    pub dataset: String,
    pub patches: Vec<SyncPatch>,
    pub modified_by: String,
    pub now: i64,
    pub limits: SyncLimits,
}

/// What became of an UpdateRecords.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncOutcome {
    /// Stored: the dataset after the change, the records as stored and the change
    /// log entry written with them (None when there was nothing to change).
    Applied {
        dataset: SyncDatasetRow,
        records: Vec<SyncRecordRow>,
        change: Option<Box<SyncChangeRow>>,
    },
    /// A patch's sync count is stale: nothing was stored.
    Conflict {
        key: String,
        current: i64,
        given: i64,
    },
    TooManyDatasets,
    TooManyRecords,
    TooLarge,
}

/// The change log: one entry per dataset change (an UpdateRecords, a deletion, a
/// bulk publish), in commit order (`seq` grows), which Cognito Streams publishes and
/// the server-sent-events endpoint replays. Entries older than a day are dropped, as
/// a Kinesis stream keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncChangeRow {
    /// Assigned by the store.
    pub seq: i64,
    pub pool_id: String,
    pub identity_id: String,
    pub dataset: String,
    /// Cognito Streams' `operation`: `replace` or `remove` (the dataset deleted).
    pub operation: String,
    pub sync_count: i64,
    pub records: Vec<SyncRecordRow>,
    pub created_at: i64,
}

/// How long the change log keeps an entry (a Kinesis stream's default retention).
pub const SYNC_CHANGE_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// Usage of an identity or a whole identity pool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncUsage {
    pub dataset_count: i64,
    pub data_storage: i64,
    /// Sync sessions that changed data: the sum of the datasets' sync counts (one per
    /// UpdateRecords that stored something, one per deletion).
    pub sync_sessions: i64,
    /// Latest change, None if there was none.
    pub last_modified: Option<i64>,
}

impl SyncRecordRow {
    /// What the record weighs against the dataset quota.
    pub fn size(&self) -> i64 {
        self.value
            .as_ref()
            .map(|v| (self.key.len() + v.len()) as i64)
            .unwrap_or(0)
    }
}

impl SyncDatasetRow {
    /// The dataset an update creates: not yet live, sync count 0.
    pub fn placeholder(u: &SyncUpdate) -> SyncDatasetRow {
        SyncDatasetRow {
            pool_id: u.pool_id.clone(),
            identity_id: u.identity_id.clone(),
            name: u.dataset.clone(),
            created_at: u.now,
            updated_at: u.now,
            last_modified_by: u.modified_by.clone(),
            sync_count: 0,
            num_records: 0,
            data_storage: 0,
            deleted: true,
            deleted_sync_count: 0,
        }
    }
}

impl SyncChangeRow {
    /// The log entry of records stored in `dataset` (already updated).
    pub fn replace(dataset: &SyncDatasetRow, records: &[SyncRecordRow]) -> SyncChangeRow {
        SyncChangeRow {
            seq: 0,
            pool_id: dataset.pool_id.clone(),
            identity_id: dataset.identity_id.clone(),
            dataset: dataset.name.clone(),
            operation: "replace".into(),
            sync_count: dataset.sync_count,
            records: records.to_vec(),
            created_at: dataset.updated_at,
        }
    }

    /// The log entry of `dataset`'s deletion at `sync_count`.
    pub fn remove(dataset: &SyncDatasetRow, sync_count: i64, now: i64) -> SyncChangeRow {
        SyncChangeRow {
            seq: 0,
            pool_id: dataset.pool_id.clone(),
            identity_id: dataset.identity_id.clone(),
            dataset: dataset.name.clone(),
            operation: "remove".into(),
            sync_count,
            records: Vec::new(),
            created_at: now,
        }
    }
}
