//! Push sync: RegisterDevice, SubscribeToDataset, UnsubscribeFromDataset, and the
//! notifications a dataset change sends to the devices subscribed to it
//! (`notify_subscribers`). Devices and subscriptions are pool objects of the identity
//! pool. Cognito sends the notifications through the pool's SNS platform applications;
//! idpool, which has no SNS, POSTs them to `--push-webhook-url`, a push relay of the
//! operator's own that forwards them to APNs or FCM.

use super::{OrSync, SyncCtx, err};
use crate::api::error::ApiResult;
use crate::state::SharedState;
use idpool_store::{ObjectKind, PoolObjectRow, SyncChangeRow};
use idpool_wire::SyncException as E;
use idpool_wire::shapes::cognito_sync::*;
use serde_json::json;

/// The pool's PushSync must name an SNS platform application for the device's
/// platform (`arn:aws:sns:region:account:app/GCM/name`).
async fn check_push_sync(s: &SyncCtx, pool_id: &str, platform: Option<&str>) -> ApiResult<()> {
    let (push, _) = super::pool_settings::configuration(&s.ctx.state, pool_id).await?;
    let arns = push.and_then(|p| p.application_arns).unwrap_or_default();
    let configured = match platform {
        Some(p) => arns.iter().any(|a| a.contains(&format!(":app/{p}/"))),
        None => !arns.is_empty(),
    };
    if configured {
        Ok(())
    } else {
        Err(err(
            E::InvalidConfigurationException,
            match platform {
                Some(p) => {
                    format!("Push sync is not configured for platform {p} in this identity pool.")
                }
                None => "Push sync is not configured for this identity pool.".to_string(),
            },
        ))
    }
}

pub async fn register_device(
    s: SyncCtx,
    req: RegisterDeviceRequest,
) -> ApiResult<RegisterDeviceResponse> {
    s.identity_only()?;
    s.identity(
        &req.identity_pool_id,
        &req.identity_id,
        E::ResourceNotFoundException,
    )
    .await?;
    check_push_sync(&s, &req.identity_pool_id, Some(&req.platform)).await?;
    // The same device (identity, platform, push token) always gets the same id, on
    // every node, so re-registering after a reinstall is harmless.
    let digest = s.ctx.state.master.keyed_hash(
        format!(
            "idpool sync device\n{}\n{}\n{}\n{}",
            req.identity_pool_id, req.identity_id, req.platform, req.token
        )
        .as_bytes(),
    );
    let hex = hex::encode(&digest[..16]);
    let device_id = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    s.ctx
        .state
        .store
        .put_object(&PoolObjectRow {
            pool_id: req.identity_pool_id.clone(),
            kind: ObjectKind::SyncDevice,
            key: device_id.clone(),
            doc: json!({"IdentityId": req.identity_id, "Platform": req.platform, "Token": req.token}),
            created_at: s.ctx.now,
            updated_at: s.ctx.now,
        })
        .await
        .sync_wire()?;
    Ok(RegisterDeviceResponse {
        device_id: Some(device_id),
    })
}

/// The device, which must be registered to this identity.
async fn own_device(
    s: &SyncCtx,
    pool_id: &str,
    identity_id: &str,
    device_id: &str,
) -> ApiResult<()> {
    let device = s
        .ctx
        .state
        .store
        .get_object(pool_id, ObjectKind::SyncDevice, device_id)
        .await
        .sync_wire()?;
    match device {
        Some(d) if d.doc["IdentityId"] == identity_id => Ok(()),
        _ => Err(err(
            E::ResourceNotFoundException,
            format!("Device '{device_id}' not found."),
        )),
    }
}

fn subscription_key(identity_id: &str, dataset: &str, device_id: &str) -> String {
    format!("{identity_id}/{dataset}/{device_id}")
}

pub async fn subscribe_to_dataset(
    s: SyncCtx,
    req: SubscribeToDatasetRequest,
) -> ApiResult<SubscribeToDatasetResponse> {
    s.identity_only()?;
    s.identity(
        &req.identity_pool_id,
        &req.identity_id,
        E::ResourceNotFoundException,
    )
    .await?;
    check_push_sync(&s, &req.identity_pool_id, None).await?;
    own_device(&s, &req.identity_pool_id, &req.identity_id, &req.device_id).await?;
    s.ctx
        .state
        .store
        .put_object(&PoolObjectRow {
            pool_id: req.identity_pool_id.clone(),
            kind: ObjectKind::SyncSubscription,
            key: subscription_key(&req.identity_id, &req.dataset_name, &req.device_id),
            doc: json!({"IdentityId": req.identity_id, "DatasetName": req.dataset_name, "DeviceId": req.device_id}),
            created_at: s.ctx.now,
            updated_at: s.ctx.now,
        })
        .await
        .sync_wire()?;
    Ok(SubscribeToDatasetResponse {})
}

pub async fn unsubscribe_from_dataset(
    s: SyncCtx,
    req: UnsubscribeFromDatasetRequest,
) -> ApiResult<UnsubscribeFromDatasetResponse> {
    s.identity_only()?;
    s.identity(
        &req.identity_pool_id,
        &req.identity_id,
        E::ResourceNotFoundException,
    )
    .await?;
    check_push_sync(&s, &req.identity_pool_id, None).await?;
    own_device(&s, &req.identity_pool_id, &req.identity_id, &req.device_id).await?;
    s.ctx
        .state
        .store
        .delete_object(
            &req.identity_pool_id,
            ObjectKind::SyncSubscription,
            &subscription_key(&req.identity_id, &req.dataset_name, &req.device_id),
        )
        .await
        .sync_wire()?;
    Ok(UnsubscribeFromDatasetResponse {})
}

/// After a change of a dataset, every device subscribed to it but the one that made the
/// change gets Cognito's silent notification (`SyncTrigger`, with the new sync count),
/// so it syncs. In the background: the request that made the change does not wait for
/// the relay.
pub fn notify_subscribers(state: &SharedState, change: &SyncChangeRow, changed_by: Option<&str>) {
    if state.senders.push.is_none() {
        return;
    }
    let (state, change) = (state.clone(), change.clone());
    let changed_by = changed_by.map(String::from);
    tokio::spawn(async move {
        if let Err(e) = send_notifications(&state, &change, changed_by.as_deref()).await {
            tracing::warn!(pool = %change.pool_id, dataset = %change.dataset, error = %e, "push sync notification failed");
        }
    });
}

async fn send_notifications(
    state: &SharedState,
    change: &SyncChangeRow,
    changed_by: Option<&str>,
) -> Result<(), String> {
    let Some(push) = &state.senders.push else {
        return Ok(());
    };
    let (config, _) = super::pool_settings::configuration(state, &change.pool_id)
        .await
        .map_err(|e| e.message)?;
    let arns = config.and_then(|c| c.application_arns).unwrap_or_default();
    if arns.is_empty() {
        return Ok(());
    }
    let prefix = format!("{}/{}/", change.identity_id, change.dataset);
    let mut after = prefix.clone();
    let mut failures = Vec::new();
    loop {
        let page = state
            .store
            .list_objects(
                &change.pool_id,
                ObjectKind::SyncSubscription,
                Some(&after),
                100,
            )
            .await
            .map_err(|e| e.to_string())?;
        let in_range: Vec<&PoolObjectRow> =
            page.iter().filter(|r| r.key.starts_with(&prefix)).collect();
        for subscription in &in_range {
            let Some(device_id) = subscription.doc["DeviceId"].as_str() else {
                continue;
            };
            if Some(device_id) == changed_by {
                continue;
            }
            let Some(device) = state
                .store
                .get_object(&change.pool_id, ObjectKind::SyncDevice, device_id)
                .await
                .map_err(|e| e.to_string())?
            else {
                continue;
            };
            let platform = device.doc["Platform"].as_str().unwrap_or_default();
            let Some(application) = arns
                .iter()
                .find(|a| a.contains(&format!(":app/{platform}/")))
            else {
                continue;
            };
            let body = json!({
                "platform": platform,
                "token": device.doc["Token"],
                "deviceId": device_id,
                "applicationArn": application,
                // What Cognito's notification carries in its data.
                "data": {
                    "source": "cognito-sync",
                    "type": "SyncTrigger",
                    "syncCount": change.sync_count,
                    "identityPoolId": change.pool_id,
                    "identityId": change.identity_id,
                    "datasetName": change.dataset,
                },
            });
            if let Err(e) = push.post(body.to_string(), change.created_at / 1000).await {
                failures.push(format!("device {device_id}: {e}"));
            }
        }
        if page.len() < 100 || in_range.len() < page.len() {
            break;
        }
        after = page.last().map(|r| r.key.clone()).unwrap_or_default();
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}
