//! Cognito Streams: every dataset change, as the JSON record Cognito puts on the
//! pool's Kinesis stream, goes (a) to the HTTP URL the config file maps the stream's
//! name to (`[streams."<StreamName>"] url = ...`), when the pool's CognitoStreams
//! configuration names it with StreamingStatus ENABLED, and (b) to subscribers of
//! `GET /_idpool/sync/streams/{IdentityPoolId}`, server-sent events read from the
//! change log in the database, so a subscriber on any node sees the changes made on
//! every node, and resumes after a reconnect from `Last-Event-ID`.

use super::SyncCaller;
use crate::api::Ctx;
use crate::state::SharedState;
use crate::sts::session::{self, Caller};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use idpool_store::SyncChangeRow;
use idpool_wire::sigv4::RequestParts;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

/// How often a subscriber's node looks for new entries in the change log.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// Per delivery attempt to a stream URL; three attempts.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
const DELIVERY_ATTEMPTS: u32 = 3;

/// The record Cognito Streams writes for one sync (AWS's announcement of Cognito
/// Streams documents it): the whole change inline, times in epoch milliseconds.
pub fn kinesis_record(c: &SyncChangeRow) -> Value {
    json!({
        "identityPoolId": c.pool_id,
        "identityId": c.identity_id,
        "dataSetName": c.dataset,
        "operation": c.operation,
        "kinesisSyncRecords": c.records.iter().map(|r| json!({
            "key": r.key,
            "value": r.value,
            "syncCount": r.sync_count,
            "lastModifiedDate": r.last_modified_at,
            "deviceLastModifiedDate": r.device_last_modified_at.unwrap_or(r.last_modified_at),
            "op": if r.value.is_some() { "replace" } else { "remove" },
        })).collect::<Vec<_>>(),
        "lastModifiedDate": c.created_at,
        "kinesisSyncRecordsURL": null,
        "payloadType": "Inline",
        "syncCount": c.sync_count,
    })
}

/// Delivers committed changes to the pool's stream URL in the background: the
/// request that made them does not wait for the receiver. The target is the one
/// configured when the change was made.
pub async fn publish(state: &SharedState, changes: Vec<SyncChangeRow>) {
    let Some(target) = target(state, &changes).await else {
        return;
    };
    tokio::spawn(async move { send(target, &changes).await });
}

/// Delivers changes of one pool, in order, to its stream URL if it has one.
pub async fn deliver(state: &SharedState, changes: &[SyncChangeRow]) {
    if let Some(target) = target(state, changes).await {
        send(target, changes).await;
    }
}

/// The stream name and URL of the changes' pool: its CognitoStreams names a stream
/// the config file maps, with StreamingStatus ENABLED.
async fn target(state: &SharedState, changes: &[SyncChangeRow]) -> Option<(String, String)> {
    let first = changes.first()?;
    if state.config.streams.is_empty() {
        return None;
    }
    match super::pool_settings::configuration(state, &first.pool_id).await {
        Ok((_, Some(c))) if c.streaming_status.as_deref() == Some("ENABLED") => {
            c.stream_name.and_then(|name| {
                state
                    .config
                    .streams
                    .get(&name)
                    .map(|t| (name, t.url.clone()))
            })
        }
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, "reading the CognitoStreams configuration");
            None
        }
    }
}

async fn send((stream, url): (String, String), changes: &[SyncChangeRow]) {
    let client = match reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "building the stream delivery client");
            return;
        }
    };
    for change in changes {
        let body = kinesis_record(change).to_string();
        let mut delivered = false;
        for attempt in 1..=DELIVERY_ATTEMPTS {
            let sent = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-idpool-stream-name", &stream)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => {
                    tracing::warn!(%stream, status = %r.status(), attempt, "stream delivery refused")
                }
                Err(e) => tracing::warn!(%stream, error = %e, attempt, "stream delivery failed"),
            }
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        if !delivered {
            tracing::error!(%stream, dataset = %change.dataset, "dropped a Cognito Streams record after {DELIVERY_ATTEMPTS} attempts");
        }
    }
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// `GET /_idpool/sync/streams/{IdentityPoolId}`: the pool's changes as server-sent
/// events, each `id:` the change's position and `data:` its Cognito Streams record.
/// Starts after `Last-Event-ID` (or `?after=N`), else at the oldest change kept (a
/// day's worth). Dev mode: anyone. Production: SigV4 by the admin key (every identity)
/// or by an identity's temporary credentials (its own changes only).
pub async fn subscribe(
    State(state): State<SharedState>,
    Path(pool_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::for_state(state.clone());
    let header_list = crate::header_list(&headers);
    let parts = RequestParts {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &header_list,
        body: b"",
    };
    let caller = match session::authenticate(&state, &parts, ctx.now_s()) {
        Ok(Caller::Admin { .. }) => SyncCaller::Developer,
        Ok(Caller::Session(grant)) => {
            let key = |k: &str| {
                grant
                    .keys
                    .get(&format!("{}:{k}", crate::identity::openid::PROVIDER))
                    .and_then(|v| v.first())
                    .cloned()
            };
            match (key("aud"), key("sub")) {
                (Some(pool_id), Some(identity_id)) => SyncCaller::Identity {
                    pool_id,
                    identity_id,
                },
                _ => {
                    return plain(
                        StatusCode::FORBIDDEN,
                        "These credentials were not issued for a Cognito identity.",
                    );
                }
            }
        }
        Err(e) => return plain(StatusCode::FORBIDDEN, &e.message),
    };
    let only_identity = match caller {
        SyncCaller::Developer => None,
        SyncCaller::Identity {
            pool_id: own,
            identity_id,
        } => {
            if own != pool_id {
                return plain(
                    StatusCode::FORBIDDEN,
                    "Access to this identity pool is forbidden.",
                );
            }
            Some(identity_id)
        }
    };
    match state.store.get_identity_pool(&pool_id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return plain(
                StatusCode::NOT_FOUND,
                &format!("IdentityPool '{pool_id}' not found."),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "storage failure");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "An internal error occurred.",
            );
        }
    }
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(query.get("after").map(String::as_str))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let cursor = Cursor {
        state,
        pool_id,
        only_identity,
        after,
        pending: VecDeque::new(),
    };
    let events = futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(change) = c.pending.pop_front() {
                let event = Event::default()
                    .id(change.seq.to_string())
                    .data(kinesis_record(&change).to_string());
                return Some((Ok::<Event, Infallible>(event), c));
            }
            match c
                .state
                .store
                .list_changes(&c.pool_id, c.only_identity.as_deref(), c.after, 100)
                .await
            {
                Ok(batch) if !batch.is_empty() => {
                    c.after = batch.last().map_or(c.after, |b| b.seq);
                    c.pending.extend(batch);
                }
                Ok(_) => tokio::time::sleep(POLL_EVERY).await,
                Err(e) => {
                    tracing::error!(error = %e, "reading the sync change log");
                    tokio::time::sleep(POLL_EVERY * 4).await;
                }
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

struct Cursor {
    state: SharedState,
    pool_id: String,
    only_identity: Option<String>,
    after: i64,
    pending: VecDeque<SyncChangeRow>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use idpool_store::SyncRecordRow;

    /// The record's field names are Cognito Streams' (consumers parse them).
    #[test]
    fn kinesis_record_is_cognito_streams_shape() {
        let change = SyncChangeRow {
            seq: 9,
            pool_id: "us-east-1:p".into(),
            identity_id: "us-east-1:i".into(),
            dataset: "d".into(),
            operation: "replace".into(),
            sync_count: 4,
            records: vec![
                SyncRecordRow {
                    key: "k".into(),
                    value: Some("v".into()),
                    sync_count: 4,
                    last_modified_at: 1000,
                    last_modified_by: "dev".into(),
                    device_last_modified_at: Some(900),
                },
                SyncRecordRow {
                    key: "gone".into(),
                    value: None,
                    sync_count: 4,
                    last_modified_at: 1000,
                    last_modified_by: "dev".into(),
                    device_last_modified_at: None,
                },
            ],
            created_at: 1000,
        };
        assert_eq!(
            kinesis_record(&change),
            json!({
                "identityPoolId": "us-east-1:p",
                "identityId": "us-east-1:i",
                "dataSetName": "d",
                "operation": "replace",
                "kinesisSyncRecords": [
                    {"key": "k", "value": "v", "syncCount": 4, "lastModifiedDate": 1000,
                     "deviceLastModifiedDate": 900, "op": "replace"},
                    {"key": "gone", "value": null, "syncCount": 4, "lastModifiedDate": 1000,
                     "deviceLastModifiedDate": 1000, "op": "remove"},
                ],
                "lastModifiedDate": 1000,
                "kinesisSyncRecordsURL": null,
                "payloadType": "Inline",
                "syncCount": 4,
            })
        );
    }
}
