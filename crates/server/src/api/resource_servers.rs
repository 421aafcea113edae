//! Resource servers: CreateResourceServer, DescribeResourceServer,
//! UpdateResourceServer, DeleteResourceServer, ListResourceServers. Stored as
//! Cognito's `ResourceServerType` (name and scopes) under `ObjectKind::ResourceServer`;
//! their scopes (`identifier/scope`) are what app clients may allow for OAuth.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::{list_objects_page, load_pool, not_found};
use idpool_store::{ObjectKind, PoolObjectRow, PoolRow, StoreError};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::json;

/// Cognito's quota of resource servers per user pool.
const MAX_RESOURCE_SERVERS: i64 = 25;

fn resource_server_type(row: &PoolObjectRow) -> ApiResult<ResourceServerType> {
    let mut doc = row.doc.clone();
    doc["UserPoolId"] = json!(row.pool_id);
    doc["Identifier"] = json!(row.key);
    serde_json::from_value(doc).map_err(|e| {
        WireError::idp(
            E::InternalErrorException,
            format!("stored resource server: {e}"),
        )
    })
}

/// Scope names are unique within a server: `identifier/name` is what tokens carry.
fn check_scopes(scopes: &[ResourceServerScopeType]) -> ApiResult<()> {
    let mut seen = std::collections::HashSet::new();
    for s in scopes {
        if !seen.insert(s.scope_name.as_str()) {
            return Err(WireError::invalid_parameter(format!(
                "Duplicate scope name {} in resource server.",
                s.scope_name
            )));
        }
    }
    Ok(())
}

async fn load_server(ctx: &Ctx, pool: &PoolRow, identifier: &str) -> ApiResult<PoolObjectRow> {
    ctx.state
        .store
        .get_object(&pool.id, ObjectKind::ResourceServer, identifier)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("Resource server {identifier} does not exist.")))
}

/// A server created without scopes is described without a `Scopes` member.
fn server_doc(name: &str, scopes: Option<&[ResourceServerScopeType]>) -> serde_json::Value {
    match scopes {
        Some(scopes) => json!({"Name": name, "Scopes": scopes}),
        None => json!({"Name": name}),
    }
}

pub async fn create_resource_server(
    ctx: Ctx,
    req: CreateResourceServerRequest,
) -> ApiResult<CreateResourceServerResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    check_scopes(req.scopes.as_deref().unwrap_or_default())?;
    let store = &ctx.state.store;
    if store
        .count_objects(&pool.id, ObjectKind::ResourceServer)
        .await
        .wire()?
        >= MAX_RESOURCE_SERVERS
    {
        return Err(WireError::idp(
            E::LimitExceededException,
            format!("A user pool can have at most {MAX_RESOURCE_SERVERS} resource servers."),
        ));
    }
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::ResourceServer,
        key: req.identifier.clone(),
        doc: server_doc(&req.name, req.scopes.as_deref()),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match store.create_object(&row).await {
        Ok(()) => Ok(CreateResourceServerResponse {
            resource_server: resource_server_type(&row)?,
        }),
        Err(StoreError::Conflict(_)) => Err(WireError::invalid_parameter(format!(
            "{} already exists in user pool {}.",
            req.identifier, pool.id
        ))),
        Err(e) => Err(e).wire(),
    }
}

pub async fn describe_resource_server(
    ctx: Ctx,
    req: DescribeResourceServerRequest,
) -> ApiResult<DescribeResourceServerResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_server(&ctx, &pool, &req.identifier).await?;
    Ok(DescribeResourceServerResponse {
        resource_server: resource_server_type(&row)?,
    })
}

/// Replaces name and scopes: scopes the request leaves out are removed, as in Cognito.
pub async fn update_resource_server(
    ctx: Ctx,
    req: UpdateResourceServerRequest,
) -> ApiResult<UpdateResourceServerResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut row = load_server(&ctx, &pool, &req.identifier).await?;
    check_scopes(req.scopes.as_deref().unwrap_or_default())?;
    row.doc = server_doc(&req.name, req.scopes.as_deref());
    row.updated_at = ctx.now;
    ctx.state.store.put_object(&row).await.wire()?;
    Ok(UpdateResourceServerResponse {
        resource_server: resource_server_type(&row)?,
    })
}

pub async fn delete_resource_server(ctx: Ctx, req: DeleteResourceServerRequest) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    if !ctx
        .state
        .store
        .delete_object(&pool.id, ObjectKind::ResourceServer, &req.identifier)
        .await
        .wire()?
    {
        return Err(not_found(format!(
            "Resource server {} does not exist.",
            req.identifier
        )));
    }
    Ok(())
}

pub async fn list_resource_servers(
    ctx: Ctx,
    req: ListResourceServersRequest,
) -> ApiResult<ListResourceServersResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let (rows, next_token) = list_objects_page(
        &ctx,
        &pool.id,
        ObjectKind::ResourceServer,
        req.next_token.as_deref(),
        req.max_results.unwrap_or(50) as u32,
    )
    .await?;
    Ok(ListResourceServersResponse {
        resource_servers: rows
            .iter()
            .map(resource_server_type)
            .collect::<ApiResult<_>>()?,
        next_token,
    })
}
