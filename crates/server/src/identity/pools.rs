//! Identity pools: CreateIdentityPool, DescribeIdentityPool, UpdateIdentityPool,
//! DeleteIdentityPool, ListIdentityPools.

use super::not_found;
use crate::api::Ctx;
use crate::api::error::{ApiResult, OrWire};
use idpool_core::ids;
use idpool_store::{IdentityPoolRow, ObjectKind};
use idpool_wire::shapes::cognito_identity::*;
use idpool_wire::{IdentityException as E, WireError};
use serde_json::Value;

/// The stored settings: the IdentityPool document without its id and name.
fn settings_of(pool: &IdentityPool) -> Value {
    let mut doc = serde_json::to_value(pool).expect("shapes serialize");
    if let Value::Object(map) = &mut doc {
        map.remove("IdentityPoolId");
        map.remove("IdentityPoolName");
    }
    doc
}

fn describe(row: &IdentityPoolRow) -> ApiResult<IdentityPool> {
    let mut doc = row.config.clone();
    doc["IdentityPoolId"] = Value::String(row.id.clone());
    doc["IdentityPoolName"] = Value::String(row.name.clone());
    serde_json::from_value(doc).map_err(|e| {
        WireError::identity(
            E::InternalErrorException,
            format!("stored identity pool: {e}"),
        )
    })
}

pub async fn load_identity_pool(ctx: &Ctx, id: &str) -> ApiResult<IdentityPoolRow> {
    ctx.state
        .store
        .get_identity_pool(id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("IdentityPool '{id}' not found.")))
}

/// Cognito's checks beyond the model: user pool providers name a pool and a client.
fn check(pool: &IdentityPool) -> ApiResult<()> {
    for p in pool.cognito_identity_providers.iter().flatten() {
        let (Some(name), Some(client)) = (&p.provider_name, &p.client_id) else {
            return Err(WireError::identity(
                E::InvalidParameterException,
                "A Cognito identity provider needs a ProviderName and a ClientId.",
            ));
        };
        if name.is_empty() || client.is_empty() {
            return Err(WireError::identity(
                E::InvalidParameterException,
                "A Cognito identity provider needs a ProviderName and a ClientId.",
            ));
        }
    }
    Ok(())
}

pub async fn create_identity_pool(
    ctx: Ctx,
    req: CreateIdentityPoolInput,
) -> ApiResult<IdentityPool> {
    let pool = IdentityPool {
        identity_pool_id: format!("{}:{}", ctx.region, ids::uuid()),
        identity_pool_name: req.identity_pool_name,
        allow_unauthenticated_identities: req.allow_unauthenticated_identities,
        allow_classic_flow: req.allow_classic_flow,
        supported_login_providers: req.supported_login_providers,
        developer_provider_name: req.developer_provider_name,
        open_id_connect_provider_ar_ns: req.open_id_connect_provider_ar_ns,
        cognito_identity_providers: req.cognito_identity_providers,
        saml_provider_ar_ns: req.saml_provider_ar_ns,
        identity_pool_tags: req.identity_pool_tags,
    };
    check(&pool)?;
    let row = IdentityPoolRow {
        id: pool.identity_pool_id.clone(),
        name: pool.identity_pool_name.clone(),
        config: settings_of(&pool),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    ctx.state.store.create_identity_pool(&row).await.wire()?;
    describe(&row)
}

pub async fn describe_identity_pool(
    ctx: Ctx,
    req: DescribeIdentityPoolInput,
) -> ApiResult<IdentityPool> {
    describe(&load_identity_pool(&ctx, &req.identity_pool_id).await?)
}

/// Like Cognito's, an update replaces every setting: what the request leaves out is
/// cleared (tags excepted, which have their own operations).
pub async fn update_identity_pool(ctx: Ctx, req: IdentityPool) -> ApiResult<IdentityPool> {
    let mut row = load_identity_pool(&ctx, &req.identity_pool_id).await?;
    let current = describe(&row)?;
    // Cognito: "Once you have set a developer provider name, you cannot change it."
    if let Some(existing) = &current.developer_provider_name
        && req.developer_provider_name.as_ref() != Some(existing)
    {
        return Err(WireError::identity(
            E::InvalidParameterException,
            "The DeveloperProviderName of an identity pool cannot be changed once set.",
        ));
    }
    let mut pool = req;
    if pool.identity_pool_tags.is_none() {
        pool.identity_pool_tags = current.identity_pool_tags;
    }
    check(&pool)?;
    row.name = pool.identity_pool_name.clone();
    row.config = settings_of(&pool);
    row.updated_at = ctx.now;
    ctx.state.store.update_identity_pool(&row).await.wire()?;
    describe(&row)
}

pub async fn delete_identity_pool(ctx: Ctx, req: DeleteIdentityPoolInput) -> ApiResult<()> {
    if !ctx
        .state
        .store
        .delete_identity_pool(&req.identity_pool_id)
        .await
        .wire()?
    {
        return Err(not_found(format!(
            "IdentityPool '{}' not found.",
            req.identity_pool_id
        )));
    }
    // The pool's roles and tag maps go with it: a pool created later never inherits them.
    let store = &ctx.state.store;
    store
        .delete_object(&req.identity_pool_id, ObjectKind::IdentityPoolRoles, "ALL")
        .await
        .wire()?;
    for map in store
        .list_objects(
            &req.identity_pool_id,
            ObjectKind::PrincipalTagMap,
            None,
            1000,
        )
        .await
        .wire()?
    {
        store
            .delete_object(&map.pool_id, map.kind, &map.key)
            .await
            .wire()?;
    }
    crate::sync::forget_pool(store.as_ref(), &req.identity_pool_id)
        .await
        .wire()?;
    Ok(())
}

pub async fn list_identity_pools(
    ctx: Ctx,
    req: ListIdentityPoolsInput,
) -> ApiResult<ListIdentityPoolsResponse> {
    let limit = req.max_results.clamp(1, 60) as u32;
    let mut rows = ctx
        .state
        .store
        .list_identity_pools(req.next_token.as_deref(), limit + 1)
        .await
        .wire()?;
    let next_token = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(ListIdentityPoolsResponse {
        identity_pools: Some(
            rows.iter()
                .map(|r| IdentityPoolShortDescription {
                    identity_pool_id: Some(r.id.clone()),
                    identity_pool_name: Some(r.name.clone()),
                })
                .collect(),
        ),
        next_token,
    })
}

/// Cognito's limit on an identity pool's tags.
const MAX_TAGS: usize = 50;

/// The identity pool an ARN `arn:aws:cognito-identity:{region}:{account}:identitypool/{id}`
/// names.
async fn pool_of_arn(ctx: &Ctx, arn: &str) -> ApiResult<IdentityPoolRow> {
    let id = arn
        .strip_prefix("arn:aws:cognito-identity:")
        .and_then(|rest| rest.split_once(":identitypool/"))
        .filter(|(scope, _)| {
            scope
                .split_once(':')
                .is_some_and(|(_, account)| account == ctx.state.config.account_id)
        })
        .map(|(_, id)| id)
        .ok_or_else(|| {
            WireError::identity(
                E::InvalidParameterException,
                format!("Invalid ARN {arn}: not an identity pool of this account."),
            )
        })?;
    load_identity_pool(ctx, id).await
}

fn tags_of(row: &IdentityPoolRow) -> std::collections::BTreeMap<String, String> {
    serde_json::from_value(row.config["IdentityPoolTags"].clone()).unwrap_or_default()
}

async fn save_tags(
    ctx: &Ctx,
    mut row: IdentityPoolRow,
    tags: std::collections::BTreeMap<String, String>,
) -> ApiResult<()> {
    row.config["IdentityPoolTags"] = serde_json::to_value(tags).expect("tags serialize");
    row.updated_at = ctx.now;
    ctx.state.store.update_identity_pool(&row).await.wire()
}

pub async fn tag_resource(ctx: Ctx, req: TagResourceInput) -> ApiResult<TagResourceResponse> {
    let row = pool_of_arn(&ctx, &req.resource_arn).await?;
    let mut tags = tags_of(&row);
    tags.extend(req.tags);
    if tags.len() > MAX_TAGS {
        return Err(WireError::identity(
            E::InvalidParameterException,
            format!("An identity pool can have at most {MAX_TAGS} tags."),
        ));
    }
    save_tags(&ctx, row, tags).await?;
    Ok(TagResourceResponse {})
}

pub async fn untag_resource(ctx: Ctx, req: UntagResourceInput) -> ApiResult<UntagResourceResponse> {
    let row = pool_of_arn(&ctx, &req.resource_arn).await?;
    let mut tags = tags_of(&row);
    for key in &req.tag_keys {
        tags.remove(key);
    }
    save_tags(&ctx, row, tags).await?;
    Ok(UntagResourceResponse {})
}

pub async fn list_tags_for_resource(
    ctx: Ctx,
    req: ListTagsForResourceInput,
) -> ApiResult<ListTagsForResourceResponse> {
    let row = pool_of_arn(&ctx, &req.resource_arn).await?;
    Ok(ListTagsForResourceResponse {
        tags: Some(tags_of(&row)),
    })
}
