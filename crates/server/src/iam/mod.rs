//! The IAM subset that defines what temporary credentials may do: roles with their
//! trust policies, inline role policies, and customer managed policies attached to
//! roles. AWS Query protocol (`Version=2010-05-08`), served by `crate::query_api`.
//!
//! Where is operation X? `fn <snake_case_of_X>` in `roles.rs` (roles and their inline
//! policies), `policies.rs` (managed policies), `oidc_providers.rs` or
//! `saml_providers.rs`; `dispatch` below maps each action to it. Entities live in the
//! store as account-wide objects (`IAM_ACCOUNT_SCOPE`), keyed by lower-cased name: IAM
//! names are unique without regard to case, but keep the case they were created with.
//!
//! Policy documents are checked by the same engine that evaluates them, so a policy
//! IAM accepts is a policy idpool can enforce. Documents go back to clients URL-encoded,
//! as IAM sends them (botocore decodes them into dicts).

pub mod oidc_providers;
mod policies;
pub mod role_policy_cache;
mod roles;
pub mod saml_providers;

use policies::*;
use roles::*;

use crate::api::Ctx;
use crate::sts::session::Caller;
use idpool_core::ids;
use idpool_core::policy::Policy;
use idpool_store::{IAM_ACCOUNT_SCOPE, ObjectKind, PoolObjectRow, StoreError};
use idpool_wire::query::{QueryError, QueryErrorCode as Q, Xml, iso8601, member_pairs};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub type Params = BTreeMap<String, String>;
pub(crate) type QueryResult<T> = Result<T, QueryError>;

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub fn store_error(e: StoreError) -> QueryError {
    QueryError::new(Q::ServiceFailure, e.to_string())
}

/// A required parameter, with the message AWS's model validation gives when it is absent.
pub fn required<'a>(params: &'a Params, name: &str) -> QueryResult<&'a str> {
    params.get(name).map(String::as_str).ok_or_else(|| {
        let mut member = name.to_string();
        member[..1].make_ascii_lowercase();
        QueryError::new(
            Q::ValidationError,
            format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ),
        )
    })
}

fn check_name(kind: &str, name: &str, max: usize) -> QueryResult<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(QueryError::new(
            Q::ValidationError,
            format!(
                "1 validation error detected: Value '{name}' at '{kind}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and length 1-{max}"
            ),
        ))
    }
}

fn check_path(path: &str) -> QueryResult<()> {
    if path.starts_with('/') && path.ends_with('/') && path.len() <= 512 {
        Ok(())
    } else {
        Err(QueryError::new(
            Q::ValidationError,
            format!(
                "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters. ({path})"
            ),
        ))
    }
}

/// Parses a policy the way IAM checks it: a trust policy must name a principal, an
/// identity policy must not.
fn check_policy(doc: &str, trust: bool) -> QueryResult<()> {
    let malformed =
        |e: idpool_core::policy::PolicyError| QueryError::new(Q::MalformedPolicyDocument, e.0);
    let policy = Policy::parse(doc).map_err(malformed)?;
    if trust {
        policy.validate_trust().map_err(malformed)
    } else {
        policy.validate_identity().map_err(malformed)
    }
}

fn url_encoded(doc: &str) -> String {
    percent_encoding::utf8_percent_encode(doc, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn role_not_found(name: &str) -> QueryError {
    QueryError::new(
        Q::NoSuchEntity,
        format!("The role with name {name} cannot be found."),
    )
}

/// A role as stored: IAM's `Role` plus its inline and attached policies.
pub async fn load_role(ctx: &Ctx, name: &str) -> QueryResult<Option<PoolObjectRow>> {
    ctx.state
        .store
        .get_object(
            IAM_ACCOUNT_SCOPE,
            ObjectKind::IamRole,
            &name.to_ascii_lowercase(),
        )
        .await
        .map_err(store_error)
}

/// IAM checks a role name against its pattern on every call, not only at creation: a
/// name no role can have is a ValidationError, not NoSuchEntity.
async fn require_role(ctx: &Ctx, name: &str) -> QueryResult<PoolObjectRow> {
    check_name("roleName", name, 64)?;
    load_role(ctx, name)
        .await?
        .ok_or_else(|| role_not_found(name))
}

/// Stores a new account-wide IAM entity; a taken key is EntityAlreadyExists with the
/// message IAM gives for that kind of entity.
pub(crate) async fn create_entity(
    ctx: &Ctx,
    kind: ObjectKind,
    key: String,
    doc: Value,
    exists_message: String,
) -> QueryResult<PoolObjectRow> {
    let row = PoolObjectRow {
        pool_id: IAM_ACCOUNT_SCOPE.into(),
        kind,
        key,
        doc,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match ctx.state.store.create_object(&row).await {
        Err(StoreError::Conflict(_)) => {
            Err(QueryError::new(Q::EntityAlreadyExists, exists_message))
        }
        other => other.map(|()| row).map_err(store_error),
    }
}

async fn save(ctx: &Ctx, mut row: PoolObjectRow) -> QueryResult<()> {
    row.updated_at = ctx.now;
    ctx.state.store.put_object(&row).await.map_err(store_error)
}

/// The policy name of a customer managed policy ARN of this account
/// (`arn:aws:iam::{account}:policy{path}{name}`).
fn policy_key(ctx: &Ctx, arn: &str) -> Option<String> {
    let prefix = format!("arn:aws:iam::{}:policy/", ctx.state.config.account_id);
    let rest = arn.strip_prefix(&prefix)?;
    Some(rest.rsplit('/').next()?.to_ascii_lowercase())
}

async fn load_policy(ctx: &Ctx, arn: &str) -> QueryResult<Option<PoolObjectRow>> {
    let Some(key) = policy_key(ctx, arn) else {
        return Ok(None);
    };
    let row = ctx
        .state
        .store
        .get_object(IAM_ACCOUNT_SCOPE, ObjectKind::IamPolicy, &key)
        .await
        .map_err(store_error)?;
    Ok(row.filter(|r| r.doc["Arn"] == arn))
}

/// A role's ARN and parsed policies (None: no such role), through the node's cache.
pub async fn role_policies(
    ctx: &Ctx,
    role_name: &str,
) -> QueryResult<role_policy_cache::RolePolicies> {
    let cache = &ctx.state.role_policies;
    let key = role_name.to_ascii_lowercase();
    if let Some(hit) = cache.get(&key) {
        return Ok(hit);
    }
    let generation = cache.generation();
    let loaded = match load_role(ctx, role_name).await? {
        None => None,
        Some(role) => {
            let mut policies = Vec::new();
            for doc in role_policy_documents(ctx, &role).await? {
                policies.push(Policy::parse(&doc).map_err(|e| {
                    QueryError::new(Q::ServiceFailure, format!("stored policy: {e}"))
                })?);
            }
            let arn = role.doc["Arn"].as_str().unwrap_or_default().to_string();
            Some((arn, std::sync::Arc::new(policies)))
        }
    };
    cache.put(&key, generation, loaded.clone());
    Ok(loaded)
}

/// The documents of every policy that applies to a role: its inline policies, then
/// the default versions of its attached managed policies.
pub async fn role_policy_documents(ctx: &Ctx, role: &PoolObjectRow) -> QueryResult<Vec<String>> {
    let mut docs: Vec<String> = role.doc["InlinePolicies"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, d)| d.as_str().map(String::from))
        .collect();
    for arn in role.doc["AttachedPolicies"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(p) = load_policy(ctx, arn.as_str().unwrap_or_default()).await?
            && let Some(d) = p.doc["Document"].as_str()
        {
            docs.push(d.to_string());
        }
    }
    Ok(docs)
}

async fn all_roles(ctx: &Ctx) -> QueryResult<Vec<PoolObjectRow>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ctx
            .state
            .store
            .list_objects(
                IAM_ACCOUNT_SCOPE,
                ObjectKind::IamRole,
                after.as_deref(),
                500,
            )
            .await
            .map_err(store_error)?;
        let done = page.len() < 500;
        after = page.last().map(|r| r.key.clone());
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

pub(crate) fn tags_of(params: &Params) -> Vec<Value> {
    member_pairs(params, "Tags", "Key", "Value")
        .into_iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

pub(crate) fn write_tags(x: &mut Xml, tags: &Value) {
    let tags = tags.as_array().cloned().unwrap_or_default();
    if tags.is_empty() {
        return;
    }
    x.open("Tags");
    for t in &tags {
        x.open("member")
            .text("Key", t["Key"].as_str().unwrap_or_default())
            .text("Value", t["Value"].as_str().unwrap_or_default())
            .close("member");
    }
    x.close("Tags");
}

/// The actions this subset serves: anything else is InvalidAction, before any
/// permission check, as IAM answers it.
const ACTIONS: &[&str] = &[
    "CreateRole",
    "GetRole",
    "ListRoles",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "CreatePolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "DeletePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
    "CreateOpenIDConnectProvider",
    "GetOpenIDConnectProvider",
    "ListOpenIDConnectProviders",
    "DeleteOpenIDConnectProvider",
    "AddClientIDToOpenIDConnectProvider",
    "RemoveClientIDFromOpenIDConnectProvider",
    "UpdateOpenIDConnectProviderThumbprint",
    "CreateSAMLProvider",
    "GetSAMLProvider",
    "ListSAMLProviders",
    "UpdateSAMLProvider",
    "DeleteSAMLProvider",
];

/// The resource a session's IAM call is authorized on: the role's ARN (with its path,
/// as IAM names it), the policy's ARN, or `*` for listings and creations of policies.
async fn resource_of(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    if let Some(name) = p.get("RoleName") {
        return Ok(match load_role(ctx, name).await? {
            Some(role) => role.doc["Arn"].as_str().unwrap_or_default().to_string(),
            None => format!(
                "arn:aws:iam::{}:role{}{name}",
                ctx.state.config.account_id,
                p.get("Path").map(String::as_str).unwrap_or("/")
            ),
        });
    }
    Ok(p.get("PolicyArn")
        .or_else(|| p.get("OpenIDConnectProviderArn"))
        .or_else(|| p.get("SAMLProviderArn"))
        .cloned()
        .unwrap_or_else(|| "*".into()))
}

pub async fn handle(ctx: &Ctx, caller: &Caller, action: &str, p: &Params) -> QueryResult<String> {
    if !ACTIONS.contains(&action) {
        return Err(QueryError::new(
            Q::InvalidAction,
            format!("Could not find operation {action} for version 2010-05-08"),
        ));
    }
    // The admin needs nothing more than its signature; a session needs its role's
    // permission for the action.
    if let Caller::Session(_) = caller {
        let resource = resource_of(ctx, p).await?;
        crate::access::require(ctx, caller, &format!("iam:{action}"), &resource).await?;
    }
    let result = dispatch(ctx, action, p).await;
    // Any change may alter a role's policies (a managed policy's new version, a
    // detached policy, a deleted role): decisions on this node see it at once.
    if result.is_ok() && !action.starts_with("Get") && !action.starts_with("List") {
        ctx.state.role_policies.invalidate();
    }
    result
}

async fn dispatch(ctx: &Ctx, action: &str, p: &Params) -> QueryResult<String> {
    match action {
        "CreateRole" => create_role(ctx, p).await,
        "GetRole" => get_role(ctx, p).await,
        "ListRoles" => list_roles(ctx, p).await,
        "DeleteRole" => delete_role(ctx, p).await,
        "UpdateAssumeRolePolicy" => update_assume_role_policy(ctx, p).await,
        "TagRole" => tag_role(ctx, p).await,
        "UntagRole" => untag_role(ctx, p).await,
        "ListRoleTags" => list_role_tags(ctx, p).await,
        "PutRolePolicy" => put_role_policy(ctx, p).await,
        "GetRolePolicy" => get_role_policy(ctx, p).await,
        "DeleteRolePolicy" => delete_role_policy(ctx, p).await,
        "ListRolePolicies" => list_role_policies(ctx, p).await,
        "CreatePolicy" => create_policy(ctx, p).await,
        "GetPolicy" => get_policy(ctx, p).await,
        "GetPolicyVersion" => get_policy_version(ctx, p).await,
        "DeletePolicy" => delete_policy(ctx, p).await,
        "AttachRolePolicy" => attach_role_policy(ctx, p).await,
        "DetachRolePolicy" => detach_role_policy(ctx, p).await,
        "ListAttachedRolePolicies" => list_attached_role_policies(ctx, p).await,
        "CreateOpenIDConnectProvider" => {
            oidc_providers::create_open_id_connect_provider(ctx, p).await
        }
        "GetOpenIDConnectProvider" => oidc_providers::get_open_id_connect_provider(ctx, p).await,
        "ListOpenIDConnectProviders" => {
            oidc_providers::list_open_id_connect_providers(ctx, p).await
        }
        "DeleteOpenIDConnectProvider" => {
            oidc_providers::delete_open_id_connect_provider(ctx, p).await
        }
        "AddClientIDToOpenIDConnectProvider" => {
            oidc_providers::add_client_id_to_open_id_connect_provider(ctx, p).await
        }
        "RemoveClientIDFromOpenIDConnectProvider" => {
            oidc_providers::remove_client_id_from_open_id_connect_provider(ctx, p).await
        }
        "UpdateOpenIDConnectProviderThumbprint" => {
            oidc_providers::update_open_id_connect_provider_thumbprint(ctx, p).await
        }
        "CreateSAMLProvider" => saml_providers::create_saml_provider(ctx, p).await,
        "GetSAMLProvider" => saml_providers::get_saml_provider(ctx, p).await,
        "ListSAMLProviders" => saml_providers::list_saml_providers(ctx, p).await,
        "UpdateSAMLProvider" => saml_providers::update_saml_provider(ctx, p).await,
        "DeleteSAMLProvider" => saml_providers::delete_saml_provider(ctx, p).await,
        other => Err(QueryError::new(
            Q::InvalidAction,
            format!("Could not find operation {other} for version 2010-05-08"),
        )),
    }
}
