//! Datasets and records: ListDatasets, DescribeDataset, ListRecords, UpdateRecords,
//! DeleteDataset.
//!
//! A sync is Cognito's two steps: ListRecords (changes since the device's last sync
//! count, and a SyncSessionToken), then UpdateRecords with that token and each changed
//! record's last known SyncCount. A record changed elsewhere meanwhile makes the whole
//! update a ResourceConflictException ("Current SyncCount for: k is: 2 not: 1", the
//! message the mobile SDKs parse); the device pulls again, resolves, and retries.

use super::{OrSync, SyncCtx, err, secs, streams};
use crate::api::error::ApiResult;
use idpool_store::{SyncDatasetRow, SyncLimits, SyncOutcome, SyncPatch, SyncRecordRow, SyncUpdate};
use idpool_wire::SyncException as E;
use idpool_wire::shapes::cognito_sync::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Cognito Sync's quotas: 20 datasets per identity, 1 MB per dataset, 1024 records.
pub const LIMITS: SyncLimits = SyncLimits {
    max_datasets_per_identity: 20,
    max_records_per_dataset: 1024,
    max_bytes_per_dataset: 1024 * 1024,
};

/// How long a SyncSessionToken from ListRecords stays good for UpdateRecords.
const SESSION_TTL_MS: i64 = 60 * 60 * 1000;
const SESSION_PURPOSE: &[u8] = b"idpool sync session";

pub fn dataset_shape(d: &SyncDatasetRow) -> Dataset {
    Dataset {
        identity_id: Some(d.identity_id.clone()),
        dataset_name: Some(d.name.clone()),
        creation_date: Some(secs(d.created_at)),
        last_modified_date: Some(secs(d.updated_at)),
        last_modified_by: Some(d.last_modified_by.clone()),
        data_storage: Some(d.data_storage),
        num_records: Some(d.num_records),
    }
}

fn record_shape(r: &SyncRecordRow) -> Record {
    Record {
        key: Some(r.key.clone()),
        value: r.value.clone(),
        sync_count: Some(r.sync_count),
        last_modified_date: Some(secs(r.last_modified_at)),
        last_modified_by: Some(r.last_modified_by.clone()),
        device_last_modified_date: r.device_last_modified_at.map(secs),
    }
}

/// What a SyncSessionToken seals: one dataset of one identity, until `exp`.
#[derive(Serialize, Deserialize)]
struct Session {
    pool: String,
    identity: String,
    dataset: String,
    exp: i64,
}

fn invalid(message: impl Into<String>) -> idpool_wire::WireError {
    err(E::InvalidParameterException, message)
}

pub async fn list_datasets(
    s: SyncCtx,
    req: ListDatasetsRequest,
) -> ApiResult<ListDatasetsResponse> {
    // ListDatasets declares no ResourceNotFoundException: an unknown pool or identity
    // is one the caller may not read.
    s.identity(
        &req.identity_pool_id,
        &req.identity_id,
        E::NotAuthorizedException,
    )
    .await?;
    let limit = req
        .max_results
        .unwrap_or(LIMITS.max_datasets_per_identity)
        .clamp(1, 1000) as u32;
    let after = req
        .next_token
        .as_deref()
        .map(|t| decode_token(t).ok_or_else(|| invalid("Invalid NextToken.")))
        .transpose()?;
    let mut rows = s
        .ctx
        .state
        .store
        .list_datasets(
            &req.identity_pool_id,
            &req.identity_id,
            after.as_deref(),
            limit + 1,
        )
        .await
        .sync_wire()?;
    let next_token = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|d| hex::encode(&d.name))
    } else {
        None
    };
    Ok(ListDatasetsResponse {
        count: Some(rows.len() as i64),
        datasets: Some(rows.iter().map(dataset_shape).collect()),
        next_token,
    })
}

fn decode_token(t: &str) -> Option<String> {
    String::from_utf8(hex::decode(t).ok()?).ok()
}

async fn live_dataset(
    s: &SyncCtx,
    pool_id: &str,
    identity_id: &str,
    name: &str,
) -> ApiResult<SyncDatasetRow> {
    s.ctx
        .state
        .store
        .get_dataset(pool_id, identity_id, name)
        .await
        .sync_wire()?
        .filter(|d| !d.deleted)
        .ok_or_else(|| {
            err(
                E::ResourceNotFoundException,
                format!("Dataset '{name}' not found."),
            )
        })
}

pub async fn describe_dataset(
    s: SyncCtx,
    req: DescribeDatasetRequest,
) -> ApiResult<DescribeDatasetResponse> {
    s.identity(
        &req.identity_pool_id,
        &req.identity_id,
        E::ResourceNotFoundException,
    )
    .await?;
    let d = live_dataset(
        &s,
        &req.identity_pool_id,
        &req.identity_id,
        &req.dataset_name,
    )
    .await?;
    Ok(DescribeDatasetResponse {
        dataset: Some(dataset_shape(&d)),
    })
}

pub async fn list_records(s: SyncCtx, req: ListRecordsRequest) -> ApiResult<ListRecordsResponse> {
    s.identity(
        &req.identity_pool_id,
        &req.identity_id,
        E::NotAuthorizedException,
    )
    .await?;
    let store = &s.ctx.state.store;
    let last = req.last_sync_count.unwrap_or(0);
    if last < 0 {
        return Err(invalid(format!(
            "No such SyncCount: {last} exists for this Dataset"
        )));
    }
    let dataset = store
        .get_dataset(&req.identity_pool_id, &req.identity_id, &req.dataset_name)
        .await
        .sync_wire()?;
    let current = dataset.as_ref().map_or(0, |d| d.sync_count);
    // A device ahead of the service: Cognito's answer, which the SDKs act on by
    // syncing from scratch.
    if last > current {
        return Err(invalid(format!(
            "No such SyncCount: {last} exists for this Dataset"
        )));
    }
    if let Some(token) = &req.sync_session_token {
        open_session(
            &s,
            token,
            &req.identity_pool_id,
            &req.identity_id,
            &req.dataset_name,
        )?;
    }
    let limit = req.max_results.unwrap_or(1024).clamp(1, 1024) as u32;
    let after = req
        .next_token
        .as_deref()
        .map(|t| decode_token(t).ok_or_else(|| invalid("Invalid NextToken.")))
        .transpose()?;
    let exists = dataset.as_ref().is_some_and(|d| !d.deleted);
    let mut records = if exists {
        store
            .list_records(
                &req.identity_pool_id,
                &req.identity_id,
                &req.dataset_name,
                last,
                after.as_deref(),
                limit + 1,
            )
            .await
            .sync_wire()?
    } else {
        Vec::new()
    };
    let next_token = if records.len() > limit as usize {
        records.truncate(limit as usize);
        records.last().map(|r| hex::encode(&r.key))
    } else {
        None
    };
    let session = Session {
        pool: req.identity_pool_id.clone(),
        identity: req.identity_id.clone(),
        dataset: req.dataset_name.clone(),
        exp: s.ctx.now + SESSION_TTL_MS,
    };
    let token = s.ctx.state.master.encrypt(
        &serde_json::to_vec(&session).expect("session serializes"),
        SESSION_PURPOSE,
    );
    Ok(ListRecordsResponse {
        count: Some(records.len() as i64),
        records: Some(records.iter().map(record_shape).collect()),
        next_token,
        dataset_sync_count: Some(current),
        last_modified_by: dataset.as_ref().map(|d| d.last_modified_by.clone()),
        merged_dataset_names: Some(Vec::new()),
        dataset_exists: Some(exists),
        dataset_deleted_after_requested_sync_count: Some(
            dataset
                .as_ref()
                .is_some_and(|d| d.deleted_sync_count > last),
        ),
        sync_session_token: Some(token),
    })
}

/// Checks a SyncSessionToken was issued by ListRecords for this very dataset and has
/// not expired.
fn open_session(
    s: &SyncCtx,
    token: &str,
    pool_id: &str,
    identity_id: &str,
    dataset: &str,
) -> ApiResult<()> {
    let session: Session = s
        .ctx
        .state
        .master
        .decrypt(token, SESSION_PURPOSE)
        .ok()
        .and_then(|plain| serde_json::from_slice(&plain).ok())
        .ok_or_else(|| invalid("Invalid SyncSessionToken."))?;
    if session.pool != pool_id || session.identity != identity_id || session.dataset != dataset {
        return Err(invalid(
            "The SyncSessionToken was issued for another dataset.",
        ));
    }
    if session.exp <= s.ctx.now {
        return Err(invalid(
            "The SyncSessionToken has expired; call ListRecords again.",
        ));
    }
    Ok(())
}

pub async fn update_records(
    s: SyncCtx,
    mut req: UpdateRecordsRequest,
) -> ApiResult<UpdateRecordsResponse> {
    s.identity(
        &req.identity_pool_id,
        &req.identity_id,
        E::ResourceNotFoundException,
    )
    .await?;
    open_session(
        &s,
        &req.sync_session_token,
        &req.identity_pool_id,
        &req.identity_id,
        &req.dataset_name,
    )?;
    let mut seen = BTreeSet::new();
    let mut patches = Vec::new();
    for p in req.record_patches.take().unwrap_or_default() {
        if !seen.insert(p.key.clone()) {
            return Err(invalid(format!(
                "Duplicate record key in RecordPatches: {}",
                p.key
            )));
        }
        if p.sync_count < 0 {
            return Err(invalid(format!("Invalid SyncCount for: {}", p.key)));
        }
        let value = match p.op.as_str() {
            "replace" => Some(p.value.ok_or_else(|| {
                invalid(format!("A replace patch needs a Value (key {}).", p.key))
            })?),
            _ => None,
        };
        patches.push(SyncPatch {
            key: p.key,
            value,
            expected_sync_count: p.sync_count,
            device_last_modified_at: p.device_last_modified_date.map(|d| (d * 1000.0) as i64),
        });
    }
    let events = super::pool_settings::events(&s, &req.identity_pool_id).await?;
    if let Some(arn) = events.get("SyncTrigger") {
        patches = sync_trigger(&s, arn, &req, patches).await?;
    }
    let update = SyncUpdate {
        pool_id: req.identity_pool_id.clone(),
        identity_id: req.identity_id.clone(),
        dataset: req.dataset_name.clone(),
        patches,
        // The device that made the change when the app names it (RegisterDevice's
        // DeviceId), else the identity.
        modified_by: req
            .device_id
            .clone()
            .unwrap_or_else(|| req.identity_id.clone()),
        now: s.ctx.now,
        limits: LIMITS,
    };
    match s
        .ctx
        .state
        .store
        .update_records(&update)
        .await
        .sync_wire()?
    {
        SyncOutcome::Applied {
            records, change, ..
        } => {
            if let Some(change) = change {
                super::devices::notify_subscribers(&s.ctx.state, &change, req.device_id.as_deref());
                streams::publish(&s.ctx.state, vec![*change]).await;
            }
            Ok(UpdateRecordsResponse {
                records: Some(records.iter().map(record_shape).collect()),
            })
        }
        SyncOutcome::Conflict {
            key,
            current,
            given,
        } => Err(err(
            E::ResourceConflictException,
            format!("Current SyncCount for: {key} is: {current} not: {given}"),
        )),
        SyncOutcome::TooManyDatasets => Err(err(
            E::LimitExceededException,
            format!(
                "Maximum number of datasets per identity exceeded: {}",
                LIMITS.max_datasets_per_identity
            ),
        )),
        SyncOutcome::TooManyRecords => Err(err(
            E::LimitExceededException,
            format!(
                "Maximum number of records per dataset exceeded: {}",
                LIMITS.max_records_per_dataset
            ),
        )),
        SyncOutcome::TooLarge => Err(err(
            E::LimitExceededException,
            format!(
                "Maximum dataset size exceeded: {} bytes",
                LIMITS.max_bytes_per_dataset
            ),
        )),
    }
}

/// Cognito Events' SyncTrigger: the function sees each patched record's old and new
/// value and answers the records to store (it may change values or drop changes).
async fn sync_trigger(
    s: &SyncCtx,
    arn: &str,
    req: &UpdateRecordsRequest,
    patches: Vec<SyncPatch>,
) -> ApiResult<Vec<SyncPatch>> {
    let current: BTreeMap<String, Option<String>> = s
        .ctx
        .state
        .store
        .list_records(
            &req.identity_pool_id,
            &req.identity_id,
            &req.dataset_name,
            0,
            None,
            LIMITS.max_records_per_dataset as u32 + 1,
        )
        .await
        .sync_wire()?
        .into_iter()
        .map(|r| (r.key, r.value))
        .collect();
    let records: serde_json::Map<String, Value> = patches
        .iter()
        .map(|p| {
            (
                p.key.clone(),
                json!({
                    "oldValue": current.get(&p.key).cloned().flatten(),
                    "newValue": p.value,
                    "op": if p.value.is_some() { "replace" } else { "remove" },
                }),
            )
        })
        .collect();
    let event = json!({
        "version": 2,
        "eventType": "SyncTrigger",
        "region": s.ctx.region,
        "identityPoolId": req.identity_pool_id,
        "identityId": req.identity_id,
        "datasetName": req.dataset_name,
        "datasetRecords": records,
    });
    let out = s
        .ctx
        .state
        .invoker
        .invoke(arn, &event)
        .await
        .map_err(|e| match e {
            crate::invoke::InvokeError::Timeout => err(
                E::LambdaThrottledException,
                "The SyncTrigger function did not answer in time.",
            ),
            other => err(
                E::InvalidLambdaFunctionOutputException,
                format!("The SyncTrigger function failed: {other:?}"),
            ),
        })?;
    let Some(answered) = out["datasetRecords"].as_object() else {
        return Err(err(
            E::InvalidLambdaFunctionOutputException,
            "The SyncTrigger function's output has no datasetRecords.",
        ));
    };
    let mut result = Vec::new();
    for p in patches {
        // A record the function left out is not changed.
        let Some(r) = answered.get(&p.key) else {
            continue;
        };
        let value = match r["op"].as_str() {
            Some("remove") => None,
            Some("replace") | None => match &r["newValue"] {
                Value::String(v) => Some(v.clone()),
                Value::Null => None,
                _ => {
                    return Err(err(
                        E::InvalidLambdaFunctionOutputException,
                        format!("newValue of {} must be a string.", p.key),
                    ));
                }
            },
            Some(other) => {
                return Err(err(
                    E::InvalidLambdaFunctionOutputException,
                    format!("Unknown op '{other}' for {}.", p.key),
                ));
            }
        };
        result.push(SyncPatch { value, ..p });
    }
    Ok(result)
}

pub async fn delete_dataset(
    s: SyncCtx,
    req: DeleteDatasetRequest,
) -> ApiResult<DeleteDatasetResponse> {
    s.identity(
        &req.identity_pool_id,
        &req.identity_id,
        E::ResourceNotFoundException,
    )
    .await?;
    let store = &s.ctx.state.store;
    let Some((before, removal)) = store
        .delete_dataset(
            &req.identity_pool_id,
            &req.identity_id,
            &req.dataset_name,
            s.ctx.now,
        )
        .await
        .sync_wire()?
    else {
        return Err(err(
            E::ResourceNotFoundException,
            format!("Dataset '{}' not found.", req.dataset_name),
        ));
    };
    streams::publish(&s.ctx.state, vec![removal]).await;
    Ok(DeleteDatasetResponse {
        dataset: Some(dataset_shape(&before)),
    })
}
