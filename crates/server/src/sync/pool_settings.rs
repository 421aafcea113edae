//! An identity pool's Sync settings: SetIdentityPoolConfiguration,
//! GetIdentityPoolConfiguration (PushSync, CognitoStreams), SetCognitoEvents,
//! GetCognitoEvents, BulkPublish, GetBulkPublishDetails. Each is one document (pool
//! object) of the identity pool.

use super::{OrSync, SyncCtx, err, secs, streams};
use crate::api::error::ApiResult;
use crate::state::SharedState;
use idpool_store::{ObjectKind, PoolObjectRow, SyncChangeRow};
use idpool_wire::SyncException as E;
use idpool_wire::shapes::cognito_sync::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const ALL: &str = "ALL";
/// Cognito allows one successful bulk publish per identity pool every 24 hours.
const BULK_PUBLISH_EVERY_MS: i64 = 24 * 3600 * 1000;

async fn get_doc(state: &SharedState, pool_id: &str, kind: ObjectKind) -> ApiResult<Option<Value>> {
    Ok(state
        .store
        .get_object(pool_id, kind, ALL)
        .await
        .sync_wire()?
        .map(|o| o.doc))
}

async fn put_doc(s: &SyncCtx, pool_id: &str, kind: ObjectKind, doc: Value) -> ApiResult<()> {
    s.ctx
        .state
        .store
        .put_object(&PoolObjectRow {
            pool_id: pool_id.to_string(),
            kind,
            key: ALL.into(),
            doc,
            created_at: s.ctx.now,
            updated_at: s.ctx.now,
        })
        .await
        .sync_wire()
}

/// The pool's PushSync and CognitoStreams as stored.
pub async fn configuration(
    state: &SharedState,
    pool_id: &str,
) -> ApiResult<(Option<PushSync>, Option<CognitoStreams>)> {
    let doc = get_doc(state, pool_id, ObjectKind::SyncConfiguration)
        .await?
        .unwrap_or(Value::Null);
    let push = serde_json::from_value(doc["PushSync"].clone()).ok();
    let streams = serde_json::from_value(doc["CognitoStreams"].clone()).ok();
    Ok((push, streams))
}

/// The pool's Cognito Events (event type to function ARN).
pub async fn events(s: &SyncCtx, pool_id: &str) -> ApiResult<BTreeMap<String, String>> {
    let doc = get_doc(&s.ctx.state, pool_id, ObjectKind::SyncEvents).await?;
    Ok(doc
        .and_then(|d| serde_json::from_value(d).ok())
        .unwrap_or_default())
}

pub async fn set_identity_pool_configuration(
    s: SyncCtx,
    req: SetIdentityPoolConfigurationRequest,
) -> ApiResult<SetIdentityPoolConfigurationResponse> {
    s.developer_only()?;
    s.pool(&req.identity_pool_id, E::ResourceNotFoundException)
        .await?;
    let (mut push, mut cognito_streams) =
        configuration(&s.ctx.state, &req.identity_pool_id).await?;
    if let Some(p) = req.push_sync {
        push = Some(p);
    }
    if let Some(mut c) = req.cognito_streams {
        // Cognito: a stream named without a status is streamed to.
        if c.stream_name.is_some() && c.streaming_status.is_none() {
            c.streaming_status = Some("ENABLED".into());
        }
        if c.streaming_status.as_deref() == Some("ENABLED") && c.stream_name.is_none() {
            return Err(err(
                E::InvalidParameterException,
                "StreamName is required when StreamingStatus is ENABLED.",
            ));
        }
        if let Some(name) = &c.stream_name
            && !s.ctx.state.config.streams.contains_key(name)
        {
            tracing::warn!(
                stream = %name,
                "CognitoStreams names a stream with no [streams] entry in the config file: only the SSE endpoint will see its records"
            );
        }
        cognito_streams = Some(c);
    }
    put_doc(
        &s,
        &req.identity_pool_id,
        ObjectKind::SyncConfiguration,
        json!({"PushSync": push, "CognitoStreams": cognito_streams}),
    )
    .await?;
    Ok(SetIdentityPoolConfigurationResponse {
        identity_pool_id: Some(req.identity_pool_id),
        push_sync: push,
        cognito_streams,
    })
}

pub async fn get_identity_pool_configuration(
    s: SyncCtx,
    req: GetIdentityPoolConfigurationRequest,
) -> ApiResult<GetIdentityPoolConfigurationResponse> {
    s.developer_only()?;
    s.pool(&req.identity_pool_id, E::ResourceNotFoundException)
        .await?;
    let (push_sync, cognito_streams) = configuration(&s.ctx.state, &req.identity_pool_id).await?;
    Ok(GetIdentityPoolConfigurationResponse {
        identity_pool_id: Some(req.identity_pool_id),
        push_sync,
        cognito_streams,
    })
}

pub async fn set_cognito_events(s: SyncCtx, req: SetCognitoEventsRequest) -> ApiResult<()> {
    s.developer_only()?;
    s.pool(&req.identity_pool_id, E::ResourceNotFoundException)
        .await?;
    if let Some(kind) = req.events.keys().find(|k| *k != "SyncTrigger") {
        return Err(err(
            E::InvalidParameterException,
            format!("Invalid event type: {kind}. The only Cognito event is SyncTrigger."),
        ));
    }
    put_doc(
        &s,
        &req.identity_pool_id,
        ObjectKind::SyncEvents,
        serde_json::to_value(&req.events).expect("a map serializes"),
    )
    .await
}

pub async fn get_cognito_events(
    s: SyncCtx,
    req: GetCognitoEventsRequest,
) -> ApiResult<GetCognitoEventsResponse> {
    s.developer_only()?;
    s.pool(&req.identity_pool_id, E::ResourceNotFoundException)
        .await?;
    Ok(GetCognitoEventsResponse {
        events: Some(events(&s, &req.identity_pool_id).await?),
    })
}

pub async fn get_bulk_publish_details(
    s: SyncCtx,
    req: GetBulkPublishDetailsRequest,
) -> ApiResult<GetBulkPublishDetailsResponse> {
    s.developer_only()?;
    s.pool(&req.identity_pool_id, E::ResourceNotFoundException)
        .await?;
    let doc = get_doc(
        &s.ctx.state,
        &req.identity_pool_id,
        ObjectKind::SyncBulkPublish,
    )
    .await?
    .unwrap_or(Value::Null);
    let time = |k: &str| doc[k].as_i64().map(secs);
    Ok(GetBulkPublishDetailsResponse {
        identity_pool_id: Some(req.identity_pool_id),
        bulk_publish_start_time: time("StartedAt"),
        bulk_publish_complete_time: time("CompletedAt"),
        bulk_publish_status: Some(doc["Status"].as_str().unwrap_or("NOT_STARTED").to_string()),
        failure_message: doc["FailureMessage"].as_str().map(String::from),
    })
}

/// Publishes every existing dataset of the pool to its stream, in the background;
/// GetBulkPublishDetails tells when it is done. A node that dies midway leaves the
/// status IN_PROGRESS.
pub async fn bulk_publish(s: SyncCtx, req: BulkPublishRequest) -> ApiResult<BulkPublishResponse> {
    s.developer_only()?;
    s.pool(&req.identity_pool_id, E::ResourceNotFoundException)
        .await?;
    let (_, cognito_streams) = configuration(&s.ctx.state, &req.identity_pool_id).await?;
    if cognito_streams
        .as_ref()
        .and_then(|c| c.streaming_status.as_deref())
        != Some("ENABLED")
    {
        return Err(err(
            E::InvalidParameterException,
            "Cognito Streams is not enabled for this identity pool: bulk publish needs a stream with StreamingStatus ENABLED.",
        ));
    }
    let doc = get_doc(
        &s.ctx.state,
        &req.identity_pool_id,
        ObjectKind::SyncBulkPublish,
    )
    .await?
    .unwrap_or(Value::Null);
    match doc["Status"].as_str() {
        Some("IN_PROGRESS") => {
            return Err(err(
                E::DuplicateRequestException,
                "A bulk publish of this identity pool is already in progress.",
            ));
        }
        Some("SUCCEEDED")
            if doc["CompletedAt"]
                .as_i64()
                .is_some_and(|t| s.ctx.now - t < BULK_PUBLISH_EVERY_MS) =>
        {
            return Err(err(
                E::AlreadyStreamedException,
                "This identity pool was already bulk published in the last 24 hours.",
            ));
        }
        _ => {}
    }
    put_doc(
        &s,
        &req.identity_pool_id,
        ObjectKind::SyncBulkPublish,
        json!({"Status": "IN_PROGRESS", "StartedAt": s.ctx.now}),
    )
    .await?;
    let state = s.ctx.state.clone();
    let pool_id = req.identity_pool_id.clone();
    let started = s.ctx.now;
    tokio::spawn(async move {
        let result = publish_all(&state, &pool_id).await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let doc = match result {
            Ok(()) => json!({"Status": "SUCCEEDED", "StartedAt": started, "CompletedAt": now}),
            Err(m) => {
                tracing::error!(pool = %pool_id, error = %m, "bulk publish failed");
                json!({"Status": "FAILED", "StartedAt": started, "CompletedAt": now,
                       "FailureMessage": "An internal error occurred."})
            }
        };
        let row = PoolObjectRow {
            pool_id: pool_id.clone(),
            kind: ObjectKind::SyncBulkPublish,
            key: ALL.into(),
            doc,
            created_at: now,
            updated_at: now,
        };
        if let Err(e) = state.store.put_object(&row).await {
            tracing::error!(pool = %pool_id, error = %e, "recording the bulk publish");
        }
    });
    Ok(BulkPublishResponse {
        identity_pool_id: Some(req.identity_pool_id),
    })
}

/// One `replace` entry per live dataset, with all its records, appended to the change
/// log (so SSE subscribers see them too) and delivered to the stream.
async fn publish_all(state: &SharedState, pool_id: &str) -> Result<(), String> {
    let store = &state.store;
    let mut after: Option<(String, String)> = None;
    loop {
        let page = store
            .list_pool_datasets(
                pool_id,
                after.as_ref().map(|(i, n)| (i.as_str(), n.as_str())),
                100,
            )
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some((last.identity_id.clone(), last.name.clone()));
        let mut changes = Vec::with_capacity(page.len());
        for d in &page {
            let mut records = Vec::new();
            let mut key: Option<String> = None;
            loop {
                let batch = store
                    .list_records(pool_id, &d.identity_id, &d.name, 0, key.as_deref(), 1000)
                    .await
                    .map_err(|e| e.to_string())?;
                let Some(last) = batch.last() else { break };
                key = Some(last.key.clone());
                records.extend(batch.into_iter().filter(|r| r.value.is_some()));
            }
            changes.push(SyncChangeRow::replace(d, &records));
        }
        let logged = store
            .append_changes(&changes)
            .await
            .map_err(|e| e.to_string())?;
        streams::deliver(state, &logged).await;
    }
}
