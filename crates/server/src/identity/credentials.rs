//! Roles and credentials of an identity pool: SetIdentityPoolRoles,
//! GetIdentityPoolRoles, Set/GetPrincipalTagAttributeMap, GetOpenIdToken and
//! GetCredentialsForIdentity (the enhanced flow).
//!
//! The enhanced flow is the basic flow done by the service: pick the role (role
//! mappings, else the pool's default role), then assume it with the identity's OpenID
//! token, so the role's trust policy is checked exactly as STS would check it. A pool
//! whose role does not trust `cognito-identity.amazonaws.com` for this pool gets
//! Cognito's InvalidIdentityPoolConfigurationException.

use super::identities::{VerifiedLogin, identity_with_logins};
use super::openid;
use super::pools::load_identity_pool;
use crate::api::Ctx;
use crate::api::error::{ApiResult, OrWire};
use crate::iam::load_role;
use crate::sts::session::{self, SessionGrant, role_parts};
use crate::sts::trusts_web_identity;
use idpool_store::{ObjectKind, PoolObjectRow};
use idpool_wire::shapes::cognito_identity::*;
use idpool_wire::{IdentityException as E, WireError};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Cognito's default: OpenID tokens live 10 minutes; credentials one hour.
const OPEN_ID_TOKEN_LIFETIME_S: i64 = 600;
const CREDENTIALS_LIFETIME_S: i64 = 3600;

fn invalid(message: impl Into<String>) -> WireError {
    WireError::identity(E::InvalidParameterException, message)
}

fn bad_configuration() -> WireError {
    WireError::identity(
        E::InvalidIdentityPoolConfigurationException,
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
    )
}

fn is_role_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws:iam::") && arn.contains(":role/")
}

async fn roles_of(ctx: &Ctx, pool_id: &str) -> ApiResult<Value> {
    Ok(ctx
        .state
        .store
        .get_object(pool_id, ObjectKind::IdentityPoolRoles, "ALL")
        .await
        .wire()?
        .map(|r| r.doc)
        .unwrap_or_else(|| json!({"Roles": {}})))
}

pub async fn set_identity_pool_roles(ctx: Ctx, req: SetIdentityPoolRolesInput) -> ApiResult<Value> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    for (kind, arn) in &req.roles {
        if kind != "authenticated" && kind != "unauthenticated" {
            return Err(invalid(format!(
                "Invalid role type {kind}: the roles are 'authenticated' and 'unauthenticated'."
            )));
        }
        if !is_role_arn(arn) {
            return Err(invalid(format!("Invalid role ARN {arn}.")));
        }
    }
    for (provider, mapping) in req.role_mappings.iter().flatten() {
        match mapping.r#type.as_str() {
            "Token" => {}
            "Rules" => {
                let rules = mapping.rules_configuration.as_ref().map(|r| &r.rules);
                if rules.is_none_or(|r| r.is_empty()) {
                    return Err(invalid(format!(
                        "RulesConfiguration is required for the Rules role mapping of {provider}."
                    )));
                }
                for rule in rules.into_iter().flatten() {
                    if !is_role_arn(&rule.role_arn) {
                        return Err(invalid(format!("Invalid role ARN {}.", rule.role_arn)));
                    }
                }
            }
            other => {
                return Err(invalid(format!(
                    "Invalid role mapping type {other}: use Token or Rules."
                )));
            }
        }
        if mapping.ambiguous_role_resolution.is_none() {
            return Err(invalid(format!(
                "AmbiguousRoleResolution is required for the role mapping of {provider}."
            )));
        }
    }
    let row = PoolObjectRow {
        pool_id: pool.id,
        kind: ObjectKind::IdentityPoolRoles,
        key: "ALL".into(),
        doc: json!({"Roles": req.roles, "RoleMappings": req.role_mappings}),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    ctx.state.store.put_object(&row).await.wire()?;
    Ok(json!({}))
}

pub async fn get_identity_pool_roles(
    ctx: Ctx,
    req: GetIdentityPoolRolesInput,
) -> ApiResult<GetIdentityPoolRolesResponse> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let doc = roles_of(&ctx, &pool.id).await?;
    Ok(GetIdentityPoolRolesResponse {
        identity_pool_id: Some(pool.id),
        roles: serde_json::from_value(doc["Roles"].clone()).ok(),
        role_mappings: serde_json::from_value(doc["RoleMappings"].clone())
            .ok()
            .flatten(),
    })
}

/// Cognito's default principal tags for user-pool logins: `username` ← `sub`,
/// `client` ← `aud`.
fn default_tag_map() -> BTreeMap<String, String> {
    [("username", "sub"), ("client", "aud")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn tag_map(ctx: &Ctx, pool_id: &str, provider: &str) -> ApiResult<Option<Value>> {
    Ok(ctx
        .state
        .store
        .get_object(pool_id, ObjectKind::PrincipalTagMap, provider)
        .await
        .wire()?
        .map(|r| r.doc))
}

pub async fn set_principal_tag_attribute_map(
    ctx: Ctx,
    req: SetPrincipalTagAttributeMapInput,
) -> ApiResult<SetPrincipalTagAttributeMapResponse> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let use_defaults = req.use_defaults.unwrap_or(false);
    let tags = req.principal_tags.unwrap_or_default();
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::PrincipalTagMap,
        key: req.identity_provider_name.clone(),
        doc: json!({"UseDefaults": use_defaults, "PrincipalTags": tags}),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    ctx.state.store.put_object(&row).await.wire()?;
    Ok(SetPrincipalTagAttributeMapResponse {
        identity_pool_id: Some(pool.id),
        identity_provider_name: Some(req.identity_provider_name),
        use_defaults: Some(use_defaults),
        principal_tags: Some(tags),
    })
}

pub async fn get_principal_tag_attribute_map(
    ctx: Ctx,
    req: GetPrincipalTagAttributeMapInput,
) -> ApiResult<GetPrincipalTagAttributeMapResponse> {
    let pool = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let doc = tag_map(&ctx, &pool.id, &req.identity_provider_name).await?;
    let (use_defaults, tags) = match doc {
        Some(d) => (
            d["UseDefaults"].as_bool().unwrap_or(false),
            serde_json::from_value(d["PrincipalTags"].clone()).unwrap_or_default(),
        ),
        None => (true, BTreeMap::new()),
    };
    Ok(GetPrincipalTagAttributeMapResponse {
        identity_pool_id: Some(pool.id),
        identity_provider_name: Some(req.identity_provider_name),
        use_defaults: Some(use_defaults),
        principal_tags: Some(tags),
    })
}

fn amr(verified: &[VerifiedLogin]) -> Vec<String> {
    if verified.is_empty() {
        return vec!["unauthenticated".into()];
    }
    let mut amr = vec!["authenticated".to_string()];
    for login in verified {
        for a in &login.amr {
            if !amr.contains(a) {
                amr.push(a.clone());
            }
        }
    }
    amr
}

pub async fn get_open_id_token(
    ctx: Ctx,
    req: GetOpenIdTokenInput,
) -> ApiResult<GetOpenIdTokenResponse> {
    // The basic flow hands this token to STS; a pool that turned it off refuses it,
    // before any login is linked. (Only an explicit false: Cognito lets pools created
    // without the setting use it.)
    if let Some(identity) = ctx
        .state
        .store
        .get_identity(&req.identity_id)
        .await
        .wire()?
        && load_identity_pool(&ctx, &identity.pool_id).await?.config["AllowClassicFlow"] == false
    {
        return Err(invalid(
            "Basic (classic) flow is not enabled, please use enhanced flow.",
        ));
    }
    let (pool, identity, verified) =
        identity_with_logins(&ctx, &req.identity_id, req.logins.as_ref()).await?;
    let token = openid::issue(
        &ctx,
        &pool.id,
        &identity.identity_id,
        &amr(&verified),
        OPEN_ID_TOKEN_LIFETIME_S,
        &token_tags(&verified),
    )
    .await
    .map_err(|e| WireError::identity(E::InternalErrorException, e))?;
    Ok(GetOpenIdTokenResponse {
        identity_id: Some(identity.identity_id),
        token: Some(token),
    })
}

/// A claim value as the strings rules compare (arrays such as `cognito:groups` give
/// each member).
fn claim_values(claims: &Value, claim: &str) -> Vec<String> {
    match &claims[claim] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect(),
        Value::Null => vec![],
        other => vec![other.to_string()],
    }
}

fn rule_matches(rule: &MappingRule, claims: &Value) -> bool {
    let values = claim_values(claims, &rule.claim);
    match rule.match_type.as_str() {
        "Equals" => values.contains(&rule.value),
        "Contains" => values.iter().any(|v| v.contains(&rule.value)),
        "StartsWith" => values.iter().any(|v| v.starts_with(&rule.value)),
        "NotEqual" => !values.is_empty() && values.iter().all(|v| *v != rule.value),
        _ => false,
    }
}

/// The role mapping of a login: keyed by `provider:clientId` for user pools (as the
/// console writes it), or by the provider name.
fn mapping_for<'a>(mappings: &'a Value, login: &VerifiedLogin) -> Option<&'a Value> {
    let aud = login.claims["aud"].as_str().unwrap_or_default();
    let with_client = format!("{}:{aud}", login.provider);
    mappings
        .get(&with_client)
        .or_else(|| mappings.get(&login.provider))
        .filter(|m| m.is_object())
}

/// Which role the request gets: the mapping's choice, else the default role.
fn resolve_role(
    roles: &Value,
    verified: &[VerifiedLogin],
    custom_role_arn: Option<&str>,
) -> ApiResult<String> {
    let default = |kind: &str| roles["Roles"][kind].as_str().map(String::from);
    if verified.is_empty() {
        return default("unauthenticated").ok_or_else(bad_configuration);
    }
    for login in verified {
        let Some(mapping) = mapping_for(&roles["RoleMappings"], login) else {
            continue;
        };
        let Ok(mapping) = serde_json::from_value::<RoleMapping>(mapping.clone()) else {
            continue;
        };
        let chosen = match mapping.r#type.as_str() {
            "Token" => {
                let allowed = claim_values(&login.claims, "cognito:roles");
                match custom_role_arn {
                    Some(custom) if allowed.iter().any(|r| r == custom) => Some(custom.to_string()),
                    Some(_) => None,
                    None => login.claims["cognito:preferred_role"]
                        .as_str()
                        .map(String::from)
                        .or_else(|| (allowed.len() == 1).then(|| allowed[0].clone())),
                }
            }
            _ => mapping
                .rules_configuration
                .iter()
                .flat_map(|r| &r.rules)
                .find(|rule| rule_matches(rule, &login.claims))
                .map(|rule| rule.role_arn.clone()),
        };
        if let Some(role) = chosen {
            return Ok(role);
        }
        if mapping.ambiguous_role_resolution.as_deref() == Some("Deny") {
            return Err(WireError::identity(
                E::NotAuthorizedException,
                "The ambiguous role mapping rules denied this request.",
            ));
        }
    }
    // A SAML login without a mapping: the roles its assertion offers, as in AWS's SAML
    // federation.
    for login in verified {
        let offered = super::saml::assertion_roles(login);
        if offered.is_empty() {
            continue;
        }
        return match custom_role_arn {
            Some(custom) if offered.iter().any(|r| r == custom) => Ok(custom.to_string()),
            Some(custom) => Err(invalid(format!(
                "CustomRoleArn {custom} is not one of the roles the SAML assertion offers."
            ))),
            None if offered.len() == 1 => Ok(offered[0].clone()),
            None => Err(invalid(
                "The SAML assertion offers several roles; choose one with CustomRoleArn.",
            )),
        };
    }
    if let Some(custom) = custom_role_arn {
        return Ok(custom.to_string());
    }
    default("authenticated").ok_or_else(bad_configuration)
}

/// The principal tags an OpenID token of the pool carries (developer-authenticated
/// identities get them from GetOpenIdTokenForDeveloperIdentity's `PrincipalTags`).
fn token_tags(verified: &[VerifiedLogin]) -> BTreeMap<String, String> {
    verified
        .iter()
        .filter(|l| l.token_identity.is_some())
        .flat_map(|l| openid::principal_tags(&l.claims))
        .collect()
}

/// `aws:PrincipalTag/*` of the session: the provider's tag map applied to its claims.
async fn principal_tags(
    ctx: &Ctx,
    pool_id: &str,
    verified: &[VerifiedLogin],
) -> ApiResult<BTreeMap<String, String>> {
    let mut tags = token_tags(verified);
    for login in verified {
        if login.token_identity.is_some() {
            continue;
        }
        let map = match tag_map(ctx, pool_id, &login.provider).await? {
            Some(doc) if doc["UseDefaults"] != true => {
                serde_json::from_value(doc["PrincipalTags"].clone()).unwrap_or_default()
            }
            Some(_) => default_tag_map(),
            // Without a map, Cognito tags nothing.
            None => continue,
        };
        for (tag, claim) in map {
            if let Some(v) = claim_values(&login.claims, &claim).first() {
                tags.insert(tag, v.clone());
            }
        }
    }
    Ok(tags)
}

pub async fn get_credentials_for_identity(
    ctx: Ctx,
    req: GetCredentialsForIdentityInput,
) -> ApiResult<GetCredentialsForIdentityResponse> {
    let (pool, identity, verified) =
        identity_with_logins(&ctx, &req.identity_id, req.logins.as_ref()).await?;
    let roles = roles_of(&ctx, &pool.id).await?;
    let role_arn = resolve_role(&roles, &verified, req.custom_role_arn.as_deref())?;
    let claims = json!({
        "aud": pool.id,
        "sub": identity.identity_id,
        "amr": amr(&verified),
    });
    let keys = openid::condition_keys(&claims);
    let (_, role_name) = role_parts(&role_arn);
    let role = load_role(&ctx, role_name)
        .await
        .map_err(|e| WireError::identity(E::InternalErrorException, e.message))?
        .filter(|r| r.doc["Arn"] == role_arn.as_str());
    let role_id = match &role {
        Some(role) => {
            let trust = role.doc["AssumeRolePolicyDocument"]
                .as_str()
                .unwrap_or_default();
            if !trusts_web_identity(trust, &keys) {
                return Err(bad_configuration());
            }
            role.doc["RoleId"].as_str().unwrap_or_default().to_string()
        }
        // A role idpool's IAM does not define: production refuses it, as Cognito
        // refuses a role STS cannot assume; dev mode issues credentials that grant
        // nothing, so SDK flows written against other accounts' ARNs still run.
        None if ctx.state.config.dev => String::from("AROAUNKNOWNROLE"),
        None => return Err(bad_configuration()),
    };
    let grant = SessionGrant {
        access_key_id: String::new(),
        role_arn: role_arn.clone(),
        role_id,
        role_session_name: "CognitoIdentityCredentials".into(),
        keys,
        principal_tags: principal_tags(&ctx, &pool.id, &verified).await?,
        session_policy: None,
        expires_at: ctx.now_s() + CREDENTIALS_LIFETIME_S,
    };
    let creds = session::issue(&ctx.state, grant);
    Ok(GetCredentialsForIdentityResponse {
        identity_id: Some(identity.identity_id),
        credentials: Some(Credentials {
            access_key_id: Some(creds.access_key_id),
            secret_key: Some(creds.secret_access_key),
            session_token: Some(creds.session_token),
            expiration: Some(creds.expiration as f64),
        }),
    })
}
