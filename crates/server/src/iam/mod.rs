//! The IAM subset that defines what temporary credentials may do: roles with their
//! trust policies, inline role policies, and customer managed policies attached to
//! roles. AWS Query protocol (`Version=2010-05-08`), served by `crate::query_api`.
//!
//! Where is operation X? `fn <snake_case_of_X>` below. Entities live in the store as
//! account-wide objects (`IAM_ACCOUNT_SCOPE`), keyed by lower-cased name: IAM names are
//! unique without regard to case, but keep the case they were created with.
//!
//! Policy documents are checked by the same engine that evaluates them, so a policy
//! IAM accepts is a policy idpool can enforce. Documents go back to clients URL-encoded,
//! as IAM sends them (botocore decodes them into dicts).

pub mod oidc_providers;
pub mod role_policy_cache;
pub mod saml_providers;

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

async fn require_role(ctx: &Ctx, name: &str) -> QueryResult<PoolObjectRow> {
    load_role(ctx, name)
        .await?
        .ok_or_else(|| role_not_found(name))
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

fn write_role(x: &mut Xml, role: &PoolObjectRow, element: &str) {
    let d = &role.doc;
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    x.open(element)
        .text("Path", &s("Path"))
        .text("RoleName", &s("RoleName"))
        .text("RoleId", &s("RoleId"))
        .text("Arn", &s("Arn"))
        .text("CreateDate", &iso8601(role.created_at / 1000))
        .text(
            "AssumeRolePolicyDocument",
            &url_encoded(&s("AssumeRolePolicyDocument")),
        )
        .opt("Description", d["Description"].as_str())
        .text(
            "MaxSessionDuration",
            &d["MaxSessionDuration"].as_i64().unwrap_or(3600).to_string(),
        );
    write_tags(x, &d["Tags"]);
    x.close(element);
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

pub async fn create_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let name = required(p, "RoleName")?;
    check_name("roleName", name, 64)?;
    let trust = required(p, "AssumeRolePolicyDocument")?;
    check_policy(trust, true)?;
    let path = p.get("Path").map(String::as_str).unwrap_or("/");
    check_path(path)?;
    let max_session = match p.get("MaxSessionDuration") {
        None => 3600,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (3600..=43200).contains(&n) => n,
            _ => {
                return Err(QueryError::new(
                    Q::ValidationError,
                    format!(
                        "1 validation error detected: Value '{v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"
                    ),
                ));
            }
        },
    };
    let arn = format!(
        "arn:aws:iam::{}:role{path}{name}",
        ctx.state.config.account_id
    );
    let row = PoolObjectRow {
        pool_id: IAM_ACCOUNT_SCOPE.into(),
        kind: ObjectKind::IamRole,
        key: name.to_ascii_lowercase(),
        doc: json!({
            "RoleName": name,
            "RoleId": format!("AROA{}", ids::random_string(ID_ALPHABET, 17)),
            "Arn": arn,
            "Path": path,
            "AssumeRolePolicyDocument": trust,
            "Description": p.get("Description"),
            "MaxSessionDuration": max_session,
            "Tags": tags_of(p),
            "InlinePolicies": {},
            "AttachedPolicies": [],
        }),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match ctx.state.store.create_object(&row).await {
        Err(StoreError::Conflict(_)) => {
            return Err(QueryError::new(
                Q::EntityAlreadyExists,
                format!("Role with name {name} already exists."),
            ));
        }
        other => other.map_err(store_error)?,
    }
    let mut x = Xml::new();
    write_role(&mut x, &row, "Role");
    Ok(x.finish())
}

pub async fn get_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut x = Xml::new();
    write_role(&mut x, &role, "Role");
    Ok(x.finish())
}

/// Marker-paginated listing: the marker is the last key returned.
fn page_of(p: &Params) -> QueryResult<(Option<String>, usize)> {
    let max = match p.get("MaxItems") {
        None => 100,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                QueryError::new(
                    Q::ValidationError,
                    format!(
                        "1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"
                    ),
                )
            })?,
    };
    Ok((p.get("Marker").cloned(), max))
}

fn truncation(x: &mut Xml, next: Option<String>) {
    match next {
        Some(marker) => x.text("IsTruncated", "true").text("Marker", &marker),
        None => x.text("IsTruncated", "false"),
    };
}

pub async fn list_roles(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let (marker, max) = page_of(p)?;
    let prefix = p.get("PathPrefix").map(String::as_str).unwrap_or("/");
    let roles: Vec<PoolObjectRow> = all_roles(ctx)
        .await?
        .into_iter()
        .filter(|r| r.doc["Path"].as_str().unwrap_or("/").starts_with(prefix))
        .filter(|r| marker.as_deref().is_none_or(|m| r.key.as_str() > m))
        .collect();
    let mut x = Xml::new();
    x.open("Roles");
    for r in roles.iter().take(max) {
        write_role(&mut x, r, "member");
    }
    x.close("Roles");
    let next = (roles.len() > max).then(|| roles[max - 1].key.clone());
    truncation(&mut x, next);
    Ok(x.finish())
}

pub async fn delete_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let name = required(p, "RoleName")?;
    let role = require_role(ctx, name).await?;
    if role.doc["InlinePolicies"]
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        return Err(QueryError::new(
            Q::DeleteConflict,
            "Cannot delete entity, must delete policies first.",
        ));
    }
    if role.doc["AttachedPolicies"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        return Err(QueryError::new(
            Q::DeleteConflict,
            "Cannot delete entity, must detach all policies first.",
        ));
    }
    ctx.state
        .store
        .delete_object(IAM_ACCOUNT_SCOPE, ObjectKind::IamRole, &role.key)
        .await
        .map_err(store_error)?;
    Ok(String::new())
}

pub async fn update_assume_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let doc = required(p, "PolicyDocument")?;
    check_policy(doc, true)?;
    role.doc["AssumeRolePolicyDocument"] = json!(doc);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn tag_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut tags: Vec<Value> = role.doc["Tags"].as_array().cloned().unwrap_or_default();
    for new in tags_of(p) {
        tags.retain(|t| t["Key"] != new["Key"]);
        tags.push(new);
    }
    if tags.len() > 50 {
        return Err(QueryError::new(
            Q::LimitExceeded,
            "The number of tags has reached the maximum limit.",
        ));
    }
    role.doc["Tags"] = Value::Array(tags);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn untag_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let remove = idpool_wire::query::members(p, "TagKeys");
    let mut tags: Vec<Value> = role.doc["Tags"].as_array().cloned().unwrap_or_default();
    tags.retain(|t| !remove.iter().any(|k| t["Key"] == k.as_str()));
    role.doc["Tags"] = Value::Array(tags);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn list_role_tags(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut x = Xml::new();
    x.open("Tags");
    for t in role.doc["Tags"].as_array().into_iter().flatten() {
        x.open("member")
            .text("Key", t["Key"].as_str().unwrap_or_default())
            .text("Value", t["Value"].as_str().unwrap_or_default())
            .close("member");
    }
    x.close("Tags").text("IsTruncated", "false");
    Ok(x.finish())
}

pub async fn put_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let name = required(p, "PolicyName")?;
    check_name("policyName", name, 128)?;
    let doc = required(p, "PolicyDocument")?;
    check_policy(doc, false)?;
    if !role.doc["InlinePolicies"].is_object() {
        role.doc["InlinePolicies"] = json!({});
    }
    role.doc["InlinePolicies"][name] = json!(doc);
    save(ctx, role).await?;
    Ok(String::new())
}

fn inline_policy<'a>(role: &'a PoolObjectRow, name: &str) -> QueryResult<&'a str> {
    role.doc["InlinePolicies"][name].as_str().ok_or_else(|| {
        QueryError::new(
            Q::NoSuchEntity,
            format!("The role policy with name {name} cannot be found.",),
        )
    })
}

pub async fn get_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let name = required(p, "PolicyName")?;
    let doc = inline_policy(&role, name)?;
    let mut x = Xml::new();
    x.text(
        "RoleName",
        role.doc["RoleName"].as_str().unwrap_or_default(),
    )
    .text("PolicyName", name)
    .text("PolicyDocument", &url_encoded(doc));
    Ok(x.finish())
}

pub async fn delete_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let name = required(p, "PolicyName")?;
    inline_policy(&role, name)?;
    if let Some(m) = role.doc["InlinePolicies"].as_object_mut() {
        m.remove(name);
    }
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn list_role_policies(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut x = Xml::new();
    x.open("PolicyNames");
    for name in role.doc["InlinePolicies"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        x.text("member", name);
    }
    x.close("PolicyNames").text("IsTruncated", "false");
    Ok(x.finish())
}

fn attachment_count(roles: &[PoolObjectRow], arn: &str) -> usize {
    roles
        .iter()
        .filter(|r| {
            r.doc["AttachedPolicies"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == arn))
        })
        .count()
}

fn write_policy(x: &mut Xml, policy: &PoolObjectRow, attachments: usize) {
    let d = &policy.doc;
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    x.open("Policy")
        .text("PolicyName", &s("PolicyName"))
        .text("PolicyId", &s("PolicyId"))
        .text("Arn", &s("Arn"))
        .text("Path", &s("Path"))
        .text("DefaultVersionId", "v1")
        .text("AttachmentCount", &attachments.to_string())
        .text("PermissionsBoundaryUsageCount", "0")
        .text("IsAttachable", "true")
        .opt("Description", d["Description"].as_str())
        .text("CreateDate", &iso8601(policy.created_at / 1000))
        .text("UpdateDate", &iso8601(policy.updated_at / 1000));
    write_tags(x, &d["Tags"]);
    x.close("Policy");
}

pub async fn create_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let name = required(p, "PolicyName")?;
    check_name("policyName", name, 128)?;
    let doc = required(p, "PolicyDocument")?;
    check_policy(doc, false)?;
    let path = p.get("Path").map(String::as_str).unwrap_or("/");
    check_path(path)?;
    let arn = format!(
        "arn:aws:iam::{}:policy{path}{name}",
        ctx.state.config.account_id
    );
    let row = PoolObjectRow {
        pool_id: IAM_ACCOUNT_SCOPE.into(),
        kind: ObjectKind::IamPolicy,
        key: name.to_ascii_lowercase(),
        doc: json!({
            "PolicyName": name,
            "PolicyId": format!("ANPA{}", ids::random_string(ID_ALPHABET, 17)),
            "Arn": arn,
            "Path": path,
            "Document": doc,
            "Description": p.get("Description"),
            "Tags": tags_of(p),
        }),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match ctx.state.store.create_object(&row).await {
        Err(StoreError::Conflict(_)) => {
            return Err(QueryError::new(
                Q::EntityAlreadyExists,
                format!("A policy called {name} already exists. Duplicate names are not allowed."),
            ));
        }
        other => other.map_err(store_error)?,
    }
    let mut x = Xml::new();
    write_policy(&mut x, &row, 0);
    Ok(x.finish())
}

fn policy_not_found(arn: &str) -> QueryError {
    QueryError::new(
        Q::NoSuchEntity,
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

async fn require_policy(ctx: &Ctx, arn: &str) -> QueryResult<PoolObjectRow> {
    load_policy(ctx, arn)
        .await?
        .ok_or_else(|| policy_not_found(arn))
}

pub async fn get_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let arn = required(p, "PolicyArn")?;
    let policy = require_policy(ctx, arn).await?;
    let count = attachment_count(&all_roles(ctx).await?, arn);
    let mut x = Xml::new();
    write_policy(&mut x, &policy, count);
    Ok(x.finish())
}

pub async fn get_policy_version(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let arn = required(p, "PolicyArn")?;
    let version = required(p, "VersionId")?;
    let policy = require_policy(ctx, arn).await?;
    if version != "v1" {
        return Err(QueryError::new(
            Q::NoSuchEntity,
            format!("Policy {arn} version {version} does not exist or is not attachable."),
        ));
    }
    let mut x = Xml::new();
    x.open("PolicyVersion")
        .text(
            "Document",
            &url_encoded(policy.doc["Document"].as_str().unwrap_or_default()),
        )
        .text("VersionId", "v1")
        .text("IsDefaultVersion", "true")
        .text("CreateDate", &iso8601(policy.created_at / 1000))
        .close("PolicyVersion");
    Ok(x.finish())
}

pub async fn delete_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let arn = required(p, "PolicyArn")?;
    let policy = require_policy(ctx, arn).await?;
    if attachment_count(&all_roles(ctx).await?, arn) > 0 {
        return Err(QueryError::new(
            Q::DeleteConflict,
            "Cannot delete a policy attached to entities.",
        ));
    }
    ctx.state
        .store
        .delete_object(IAM_ACCOUNT_SCOPE, ObjectKind::IamPolicy, &policy.key)
        .await
        .map_err(store_error)?;
    Ok(String::new())
}

pub async fn attach_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let arn = required(p, "PolicyArn")?;
    require_policy(ctx, arn).await?;
    let mut attached: Vec<Value> = role.doc["AttachedPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !attached.iter().any(|a| a == arn) {
        if attached.len() >= 10 {
            return Err(QueryError::new(
                Q::LimitExceeded,
                "Cannot exceed quota for PoliciesPerRole: 10",
            ));
        }
        attached.push(json!(arn));
    }
    role.doc["AttachedPolicies"] = Value::Array(attached);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn detach_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let arn = required(p, "PolicyArn")?;
    let mut attached: Vec<Value> = role.doc["AttachedPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let before = attached.len();
    attached.retain(|a| a != arn);
    if attached.len() == before {
        return Err(QueryError::new(
            Q::NoSuchEntity,
            format!("Policy {arn} was not found."),
        ));
    }
    role.doc["AttachedPolicies"] = Value::Array(attached);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn list_attached_role_policies(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut x = Xml::new();
    x.open("AttachedPolicies");
    for arn in role.doc["AttachedPolicies"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let arn = arn.as_str().unwrap_or_default();
        let name = arn.rsplit('/').next().unwrap_or_default();
        x.open("member")
            .text("PolicyName", name)
            .text("PolicyArn", arn)
            .close("member");
    }
    x.close("AttachedPolicies").text("IsTruncated", "false");
    Ok(x.finish())
}
