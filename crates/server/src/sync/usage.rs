//! Usage: DescribeIdentityPoolUsage, DescribeIdentityUsage, ListIdentityPoolUsage.
//! Computed from the datasets themselves, so every node answers the same.

use super::{OrSync, SyncCtx, secs};
use crate::api::error::ApiResult;
use idpool_wire::SyncException as E;
use idpool_wire::shapes::cognito_sync::*;

async fn pool_usage(s: &SyncCtx, pool_id: &str) -> ApiResult<IdentityPoolUsage> {
    let usage = s
        .ctx
        .state
        .store
        .sync_usage(pool_id, None)
        .await
        .sync_wire()?;
    Ok(IdentityPoolUsage {
        identity_pool_id: Some(pool_id.to_string()),
        sync_sessions_count: Some(usage.sync_sessions),
        data_storage: Some(usage.data_storage),
        last_modified_date: usage.last_modified.map(secs),
    })
}

pub async fn describe_identity_pool_usage(
    s: SyncCtx,
    req: DescribeIdentityPoolUsageRequest,
) -> ApiResult<DescribeIdentityPoolUsageResponse> {
    s.developer_only()?;
    s.pool(&req.identity_pool_id, E::ResourceNotFoundException)
        .await?;
    Ok(DescribeIdentityPoolUsageResponse {
        identity_pool_usage: Some(pool_usage(&s, &req.identity_pool_id).await?),
    })
}

pub async fn describe_identity_usage(
    s: SyncCtx,
    req: DescribeIdentityUsageRequest,
) -> ApiResult<DescribeIdentityUsageResponse> {
    s.identity(
        &req.identity_pool_id,
        &req.identity_id,
        E::ResourceNotFoundException,
    )
    .await?;
    let usage = s
        .ctx
        .state
        .store
        .sync_usage(&req.identity_pool_id, Some(&req.identity_id))
        .await
        .sync_wire()?;
    Ok(DescribeIdentityUsageResponse {
        identity_usage: Some(IdentityUsage {
            identity_id: Some(req.identity_id),
            identity_pool_id: Some(req.identity_pool_id),
            last_modified_date: usage.last_modified.map(secs),
            dataset_count: Some(usage.dataset_count),
            data_storage: Some(usage.data_storage),
        }),
    })
}

pub async fn list_identity_pool_usage(
    s: SyncCtx,
    req: ListIdentityPoolUsageRequest,
) -> ApiResult<ListIdentityPoolUsageResponse> {
    s.developer_only()?;
    let limit = req.max_results.unwrap_or(20).clamp(1, 60);
    let mut pools = s
        .ctx
        .state
        .store
        .list_identity_pools(req.next_token.as_deref(), limit as u32 + 1)
        .await
        .sync_wire()?;
    let next_token = if pools.len() > limit as usize {
        pools.truncate(limit as usize);
        pools.last().map(|p| p.id.clone())
    } else {
        None
    };
    let mut usages = Vec::with_capacity(pools.len());
    for p in &pools {
        usages.push(pool_usage(&s, &p.id).await?);
    }
    Ok(ListIdentityPoolUsageResponse {
        count: Some(usages.len() as i64),
        identity_pool_usages: Some(usages),
        max_results: Some(limit),
        next_token,
    })
}
