//! What every request handler shares: the store, the master key, resolved config and
//! caches of things that never change once stored (decrypted signing keys, verified
//! token signatures).

use crate::config::Config;
use crate::delivery::Senders;
use crate::invoke::Invoker;
use crate::verified_tokens::VerifiedTokens;
use idpool_core::crypto::MasterKey;
use idpool_core::tokens::keys::SigningKey;
use idpool_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    pub config: Config,
    /// The base of token issuers, `{public_url}`, fixed once the listener is bound.
    pub public_url: String,
    /// (access key id, secret) allowed to call IAM-authorized operations.
    pub admin_key: (String, String),
    pub senders: Senders,
    /// Places of addresses, with `--geoip-database`.
    pub geoip: Option<crate::geo::GeoIp>,
    /// Runs the pools' trigger functions.
    pub invoker: Invoker,
    /// The hosted UI's templates: the built-in ones, overridden from
    /// `--ui-templates-dir`.
    pub ui_templates: Arc<minijinja::Environment<'static>>,
    /// Decrypted signing keys by pool. A cache only: keys are immutable rows, so any
    /// node can rebuild it from the database.
    pub signing_keys: RwLock<HashMap<String, Arc<Vec<Arc<SigningKey>>>>>,
    /// Access tokens whose signature this node already checked (bounded).
    pub verified_tokens: VerifiedTokens,
    /// External OpenID providers' discovery documents and keys (user pool federation,
    /// identity pools' OIDC logins). A cache only.
    pub external_oidc: crate::external_oidc::ExternalOidc,
    /// Roles' parsed policies for access decisions. A cache only.
    pub role_policies: crate::iam::role_policy_cache::RolePolicyCache,
    /// Pools' log delivery configurations. A cache only (five seconds).
    pub log_configs: crate::api::log_delivery::LogConfigCache,
}

pub type SharedState = Arc<AppState>;
