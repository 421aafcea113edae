//! User pools: CreateUserPool, DescribeUserPool, UpdateUserPool, DeleteUserPool,
//! ListUserPools, AddCustomAttributes. A pool's settings are stored as Cognito's `UserPoolType` document.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::{forget_pool_keys, load_pool, pool_arn, pool_keys};
use idpool_core::attributes;
use idpool_core::ids;
use idpool_core::password_policy::PasswordPolicy;
use idpool_store::{PoolRow, StoreError};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};

/// Settings that can be set only at creation (UpdateUserPool keeps them).
const IMMUTABLE: &[&str] = &[
    "UsernameAttributes",
    "AliasAttributes",
    "UsernameConfiguration",
    "SchemaAttributes",
];

/// Fills the defaults Cognito reports for settings a request left out.
fn with_defaults(mut cfg: serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    let policies = cfg.entry("Policies").or_insert_with(|| json!({}));
    if !policies["PasswordPolicy"].is_object() {
        policies["PasswordPolicy"] = PasswordPolicy::default_document();
    }
    let pp = &mut policies["PasswordPolicy"];
    if pp["TemporaryPasswordValidityDays"].is_null() {
        pp["TemporaryPasswordValidityDays"] = json!(7);
    }
    cfg.entry("MfaConfiguration")
        .or_insert_with(|| json!("OFF"));
    cfg.entry("DeletionProtection")
        .or_insert_with(|| json!("INACTIVE"));
    cfg.entry("LambdaConfig").or_insert_with(|| json!({}));
    cfg.entry("AdminCreateUserConfig").or_insert_with(
        || json!({"AllowAdminCreateUserOnly": false, "UnusedAccountValidityDays": 7}),
    );
    cfg.entry("EmailConfiguration")
        .or_insert_with(|| json!({"EmailSendingAccount": "COGNITO_DEFAULT"}));
    cfg.entry("VerificationMessageTemplate")
        .or_insert_with(|| json!({"DefaultEmailOption": "CONFIRM_WITH_CODE"}));
    // Cognito keeps the legacy message fields and VerificationMessageTemplate in step:
    // whichever a request sets shows in the other.
    for (legacy, in_template) in [
        ("EmailVerificationMessage", "EmailMessage"),
        ("EmailVerificationSubject", "EmailSubject"),
        ("SmsVerificationMessage", "SmsMessage"),
    ] {
        let from_template = cfg["VerificationMessageTemplate"][in_template].clone();
        match cfg.get(legacy).cloned() {
            Some(v) if from_template.is_null() => {
                cfg["VerificationMessageTemplate"][in_template] = v;
            }
            None if !from_template.is_null() => {
                cfg.insert(legacy.into(), from_template);
            }
            _ => {}
        }
    }
    cfg.entry("UserPoolTier")
        .or_insert_with(|| json!("ESSENTIALS"));
    cfg
}

fn validate_settings(cfg: &serde_json::Map<String, Value>) -> ApiResult<()> {
    let pp = &cfg["Policies"]["PasswordPolicy"];
    if let Some(n) = pp["MinimumLength"].as_i64()
        && !(6..=99).contains(&n)
    {
        return Err(WireError::invalid_parameter(
            "Password policy minimum length must be between 6 and 99.",
        ));
    }
    if cfg.contains_key("UsernameAttributes") && cfg.contains_key("AliasAttributes") {
        return Err(WireError::invalid_parameter(
            "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool.",
        ));
    }
    if let Some(ar) = cfg.get("AutoVerifiedAttributes").and_then(|v| v.as_array())
        && ar.iter().any(|a| a != "email" && a != "phone_number")
    {
        return Err(WireError::invalid_parameter(
            "AutoVerifiedAttributes may contain only email and phone_number.",
        ));
    }
    Ok(())
}

async fn describe(ctx: &Ctx, pool: &PoolRow) -> ApiResult<UserPoolType> {
    let mut doc = pool.config.clone();
    doc["Id"] = json!(pool.id);
    doc["Name"] = json!(pool.name);
    doc["Arn"] = json!(pool_arn(ctx, &pool.id));
    doc["CreationDate"] = json!(pool.created_at as f64 / 1000.0);
    doc["LastModifiedDate"] = json!(pool.updated_at as f64 / 1000.0);
    doc["EstimatedNumberOfUsers"] = json!(ctx.state.store.count_users(&pool.id).await.wire()?);
    let (prefix, custom) = super::domains::pool_domains(ctx, &pool.id).await?;
    if let Some(d) = prefix {
        doc["Domain"] = json!(d);
    }
    if let Some(d) = custom {
        doc["CustomDomain"] = json!(d);
    }
    serde_json::from_value(doc)
        .map_err(|e| WireError::idp(E::InternalErrorException, format!("stored pool: {e}")))
}

pub async fn create_user_pool(
    ctx: Ctx,
    req: CreateUserPoolRequest,
) -> ApiResult<CreateUserPoolResponse> {
    let Value::Object(mut cfg) = serde_json::to_value(&req).expect("request serializes") else {
        unreachable!("a struct serializes to an object")
    };
    cfg.remove("PoolName");
    let schema = attributes::build_schema(
        req.schema
            .as_deref()
            .map(|s| {
                s.iter()
                    .map(|a| serde_json::to_value(a).expect("serializes"))
                    .collect::<Vec<_>>()
            })
            .as_deref()
            .unwrap_or(&[]),
    )
    .wire()?;
    cfg.remove("Schema");
    cfg.insert("SchemaAttributes".into(), Value::Array(schema));
    let cfg = with_defaults(cfg);
    validate_settings(&cfg)?;
    loop {
        let row = PoolRow {
            id: ids::user_pool_id(&ctx.region),
            name: req.pool_name.clone(),
            config: Value::Object(cfg.clone()),
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        match ctx.state.store.create_pool(&row).await {
            Ok(()) => {
                return Ok(CreateUserPoolResponse {
                    user_pool: Some(describe(&ctx, &row).await?),
                });
            }
            // A random id collided: draw again.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e).wire(),
        }
    }
}

pub async fn describe_user_pool(
    ctx: Ctx,
    req: DescribeUserPoolRequest,
) -> ApiResult<DescribeUserPoolResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    Ok(DescribeUserPoolResponse {
        user_pool: Some(describe(&ctx, &pool).await?),
    })
}

/// Cognito's UpdateUserPool replaces the settings: what the request leaves out goes
/// back to its default, except settings fixed at creation.
pub async fn update_user_pool(
    ctx: Ctx,
    req: UpdateUserPoolRequest,
) -> ApiResult<UpdateUserPoolResponse> {
    let mut pool = load_pool(&ctx, &req.user_pool_id).await?;
    let Value::Object(mut cfg) = serde_json::to_value(&req).expect("request serializes") else {
        unreachable!("a struct serializes to an object")
    };
    cfg.remove("UserPoolId");
    if let Some(name) = cfg.remove("PoolName") {
        pool.name = name.as_str().unwrap_or(&pool.name).to_string();
    }
    for key in IMMUTABLE {
        if let Some(v) = pool.config.get(*key) {
            cfg.insert(key.to_string(), v.clone());
        }
    }
    for keep in ["UserPoolTags"] {
        if !cfg.contains_key(keep)
            && let Some(v) = pool.config.get(keep)
        {
            cfg.insert(keep.to_string(), v.clone());
        }
    }
    super::user_sessions::keep_configuration(&pool.config, &mut cfg);
    let mut cfg = with_defaults(cfg);
    validate_settings(&cfg)?;
    super::point_in_time_recovery::record_tier_change(&pool, &mut cfg, ctx.now);
    pool.config = Value::Object(cfg);
    pool.updated_at = ctx.now;
    ctx.state.store.update_pool(&pool).await.wire()?;
    Ok(UpdateUserPoolResponse {})
}

pub async fn add_custom_attributes(ctx: Ctx, req: AddCustomAttributesRequest) -> ApiResult<()> {
    let mut pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut schema: Vec<Value> = pool.config["SchemaAttributes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let new: Vec<Value> = req
        .custom_attributes
        .iter()
        .map(|a| serde_json::to_value(a).expect("serializes"))
        .collect();
    attributes::add_custom_attributes(&mut schema, &new).wire()?;
    pool.config["SchemaAttributes"] = Value::Array(schema);
    pool.updated_at = ctx.now;
    ctx.state.store.update_pool(&pool).await.wire()?;
    Ok(())
}

pub async fn delete_user_pool(ctx: Ctx, req: DeleteUserPoolRequest) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    if pool.config["DeletionProtection"] == "ACTIVE" {
        return Err(WireError::invalid_parameter(format!(
            "The user pool {} has deletion protection turned on.",
            pool.id
        )));
    }
    ctx.state.store.delete_pool(&pool.id).await.wire()?;
    forget_pool_keys(&ctx, &pool.id);
    Ok(())
}

/// The self-signed certificate of the pool's current signing key, base64 DER, for SAML
/// identity providers (see core::tokens::certificate).
pub async fn get_signing_certificate(
    ctx: Ctx,
    req: GetSigningCertificateRequest,
) -> ApiResult<GetSigningCertificateResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let keys = pool_keys(&ctx, &pool.id).await?;
    let key = keys
        .first()
        .ok_or_else(|| WireError::idp(E::InternalErrorException, "no signing key"))?;
    let created_ms = ctx
        .state
        .store
        .list_signing_keys(&pool.id)
        .await
        .wire()?
        .into_iter()
        .find(|row| row.kid == key.kid)
        .map(|row| row.created_at)
        .unwrap_or(pool.created_at);
    let der = idpool_core::tokens::certificate::signing_certificate_der(
        key,
        &pool.id,
        created_ms.div_euclid(1000),
    )
    .wire()?;
    Ok(GetSigningCertificateResponse {
        certificate: Some(idpool_core::crypto::b64(&der)),
    })
}

pub async fn list_user_pools(
    ctx: Ctx,
    req: ListUserPoolsRequest,
) -> ApiResult<ListUserPoolsResponse> {
    let limit = req.max_results as u32;
    let after = req.next_token.as_deref().map(decode_token).transpose()?;
    let rows = ctx
        .state
        .store
        .list_pools(after.as_deref(), limit + 1)
        .await
        .wire()?;
    let (rows, next) = super::support::paginate(rows, limit, |r| &r.id);
    let pools = rows
        .iter()
        .map(|p| UserPoolDescriptionType {
            id: Some(p.id.clone()),
            name: Some(p.name.clone()),
            lambda_config: serde_json::from_value(p.config["LambdaConfig"].clone()).ok(),
            status: None,
            last_modified_date: Some(p.updated_at as f64 / 1000.0),
            creation_date: Some(p.created_at as f64 / 1000.0),
            // idpool keeps no replicas in other regions.
            replica_regions: None,
        })
        .collect();
    Ok(ListUserPoolsResponse {
        user_pools: Some(pools),
        next_token: next,
    })
}

/// Pagination tokens are opaque to clients; they carry the last key seen.
pub fn encode_token(key: &str) -> String {
    idpool_core::crypto::b64url(key.as_bytes())
}

pub fn decode_token(token: &str) -> ApiResult<String> {
    idpool_core::crypto::b64url_decode(token)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| WireError::invalid_parameter("Invalid pagination token."))
}
