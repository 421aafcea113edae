//! App clients: CreateUserPoolClient, DescribeUserPoolClient, UpdateUserPoolClient,
//! DeleteUserPoolClient, ListUserPoolClients.

use super::Ctx;
use super::client_secrets::{new_client_secret_column, primary_secret};
use super::error::{ApiResult, OrWire};
use super::pools::decode_token;
use super::support::{load_pool, load_pool_client};
use idpool_core::ids;
use idpool_store::{ClientRow, StoreError};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};

/// How CreateUserPoolClient's clients are made (`ClientType`), as against dynamic
/// client registration's `DCR`.
const REGULAR: &str = "REGULAR";

const FLOWS: &[&str] = &[
    "ADMIN_NO_SRP_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY",
    "USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_AUTH",
    "ALLOW_TOKEN_EXCHANGE_DELEGATION",
    "ALLOW_TOKEN_EXCHANGE_IMPERSONATION",
];

fn check_config(cfg: &serde_json::Map<String, Value>) -> ApiResult<()> {
    if let Some(flows) = cfg.get("ExplicitAuthFlows").and_then(|v| v.as_array()) {
        let legacy = flows
            .iter()
            .any(|f| !f.as_str().unwrap_or_default().starts_with("ALLOW_"));
        let modern = flows
            .iter()
            .any(|f| f.as_str().unwrap_or_default().starts_with("ALLOW_"));
        if legacy && modern {
            return Err(WireError::invalid_parameter(
                "ExplicitAuthFlows cannot mix legacy values with ALLOW_ values.",
            ));
        }
        if let Some(bad) = flows
            .iter()
            .find(|f| !FLOWS.contains(&f.as_str().unwrap_or_default()))
        {
            return Err(WireError::invalid_parameter(format!(
                "Invalid ExplicitAuthFlows value {bad}"
            )));
        }
    }
    let units = &cfg.get("TokenValidityUnits").cloned().unwrap_or(json!({}));
    let unit_secs = |name: &str, default: &str| match units[name].as_str().unwrap_or(default) {
        "seconds" => 1,
        "minutes" => 60,
        "hours" => 3600,
        _ => 86_400,
    };
    let check = |field: &str,
                 unit: &str,
                 default_unit: &str,
                 min: i64,
                 max: i64,
                 what: &str|
     -> ApiResult<()> {
        if let Some(v) = cfg.get(field).and_then(|v| v.as_i64()) {
            let secs = v * unit_secs(unit, default_unit);
            if secs < min || secs > max {
                return Err(WireError::invalid_parameter(format!(
                    "{what} must be between {min} seconds and {max} seconds."
                )));
            }
        }
        Ok(())
    };
    check(
        "AccessTokenValidity",
        "AccessToken",
        "hours",
        300,
        86_400,
        "Access token validity",
    )?;
    check(
        "IdTokenValidity",
        "IdToken",
        "hours",
        300,
        86_400,
        "ID token validity",
    )?;
    check(
        "RefreshTokenValidity",
        "RefreshToken",
        "days",
        3600,
        315_360_000,
        "Refresh token validity",
    )?;
    Ok(())
}

fn describe(ctx: &Ctx, c: &ClientRow) -> ApiResult<UserPoolClientType> {
    let mut doc = c.config.clone();
    doc["ClientId"] = json!(c.client_id);
    doc["UserPoolId"] = json!(c.pool_id);
    doc["ClientName"] = json!(c.name);
    doc["CreationDate"] = json!(c.created_at as f64 / 1000.0);
    doc["LastModifiedDate"] = json!(c.updated_at as f64 / 1000.0);
    // idpool has no dynamic client registration: every client is made by
    // CreateUserPoolClient.
    doc["ClientType"] = json!(REGULAR);
    if let Some(secret) = primary_secret(ctx, c)? {
        doc["ClientSecret"] = json!(secret);
    }
    serde_json::from_value(doc)
        .map_err(|e| WireError::idp(E::InternalErrorException, format!("stored client: {e}")))
}

fn defaults(cfg: &mut serde_json::Map<String, Value>) {
    cfg.entry("RefreshTokenValidity").or_insert(json!(30));
    cfg.entry("TokenValidityUnits").or_insert(json!({}));
    cfg.entry("AllowedOAuthFlowsUserPoolClient")
        .or_insert(json!(false));
    cfg.entry("EnableTokenRevocation").or_insert(json!(true));
    cfg.entry("EnablePropagateAdditionalUserContextData")
        .or_insert(json!(false));
    cfg.entry("AuthSessionValidity").or_insert(json!(3));
}

fn config_of<T: serde::Serialize>(req: &T, drop: &[&str]) -> serde_json::Map<String, Value> {
    let Value::Object(mut cfg) = serde_json::to_value(req).expect("request serializes") else {
        unreachable!("a struct serializes to an object")
    };
    for k in drop {
        cfg.remove(*k);
    }
    cfg
}

pub async fn create_user_pool_client(
    ctx: Ctx,
    req: CreateUserPoolClientRequest,
) -> ApiResult<CreateUserPoolClientResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut cfg = config_of(&req, &["UserPoolId", "ClientName", "GenerateSecret"]);
    defaults(&mut cfg);
    check_config(&cfg)?;
    loop {
        let client_id = ids::client_id();
        let secret = (req.generate_secret == Some(true))
            .then(|| new_client_secret_column(&ctx, &client_id, ctx.now));
        let row = ClientRow {
            client_id,
            pool_id: pool.id.clone(),
            name: req.client_name.clone(),
            secret,
            config: Value::Object(cfg.clone()),
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        match ctx.state.store.create_client(&row).await {
            Ok(()) => {
                return Ok(CreateUserPoolClientResponse {
                    user_pool_client: Some(describe(&ctx, &row)?),
                });
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e).wire(),
        }
    }
}

pub async fn describe_user_pool_client(
    ctx: Ctx,
    req: DescribeUserPoolClientRequest,
) -> ApiResult<DescribeUserPoolClientResponse> {
    let (client, _) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    Ok(DescribeUserPoolClientResponse {
        user_pool_client: Some(describe(&ctx, &client)?),
    })
}

/// Like UpdateUserPool, settings left out of the request return to their defaults.
pub async fn update_user_pool_client(
    ctx: Ctx,
    req: UpdateUserPoolClientRequest,
) -> ApiResult<UpdateUserPoolClientResponse> {
    let (mut client, _) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let mut cfg = config_of(&req, &["UserPoolId", "ClientId", "ClientName"]);
    defaults(&mut cfg);
    check_config(&cfg)?;
    super::user_sessions::keep_configuration(&client.config, &mut cfg);
    if let Some(name) = &req.client_name {
        client.name = name.clone();
    }
    client.config = Value::Object(cfg);
    client.updated_at = ctx.now;
    ctx.state.store.update_client(&client).await.wire()?;
    Ok(UpdateUserPoolClientResponse {
        user_pool_client: Some(describe(&ctx, &client)?),
    })
}

pub async fn delete_user_pool_client(ctx: Ctx, req: DeleteUserPoolClientRequest) -> ApiResult<()> {
    let (client, _) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    ctx.state
        .store
        .delete_client(&client.client_id)
        .await
        .wire()?;
    Ok(())
}

pub async fn list_user_pool_clients(
    ctx: Ctx,
    req: ListUserPoolClientsRequest,
) -> ApiResult<ListUserPoolClientsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    if req.client_type.as_deref().is_some_and(|t| t != REGULAR) {
        return Ok(ListUserPoolClientsResponse {
            user_pool_clients: Some(Vec::new()),
            next_token: None,
        });
    }
    let limit = req.max_results.unwrap_or(60) as u32;
    let after = req.next_token.as_deref().map(decode_token).transpose()?;
    let rows = ctx
        .state
        .store
        .list_clients(&pool.id, after.as_deref(), limit + 1)
        .await
        .wire()?;
    let (rows, next) = super::support::paginate(rows, limit, |r| &r.client_id);
    Ok(ListUserPoolClientsResponse {
        user_pool_clients: Some(
            rows.iter()
                .map(|c| UserPoolClientDescription {
                    client_id: Some(c.client_id.clone()),
                    user_pool_id: Some(c.pool_id.clone()),
                    client_name: Some(c.name.clone()),
                })
                .collect(),
        ),
        next_token: next,
    })
}
