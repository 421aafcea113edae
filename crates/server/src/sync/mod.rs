//! cognito-sync over REST JSON: any method under `/identitypools`. The operation is
//! the one whose HTTP method and URI template (generated from the botocore model)
//! match; its input is gathered from URI labels, the query string, headers and the JSON
//! body; then the model validation, the caller check and the handler named after the
//! operation.
//!
//! Who may call: in dev mode anyone, as for every service. In production, a SigV4
//! signature from the admin key ("developer credentials") or from the temporary
//! credentials of an identity (what mobile apps use), which reach only that identity's
//! own data, as Cognito Sync's do.
//!
//! Where is operation X? `fn <snake_case_of_X>` in `datasets.rs` (datasets and
//! records), `usage.rs` (usage), `pool_settings.rs` (configuration, events, bulk
//! publish) or `devices.rs` (push sync devices and subscriptions). Cognito Streams
//! delivery and the server-sent-events endpoint are `streams.rs`.

mod datasets;
mod devices;
mod pool_settings;
pub mod streams;
mod usage;

use crate::api::Ctx;
use crate::api::error::ApiResult;
use crate::state::SharedState;
use crate::sts::session::{self, Caller};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use idpool_store::{IdentityPoolRow, IdentityRow, StoreError};
use idpool_wire::query::{QueryError, QueryErrorCode as Q};
use idpool_wire::rest::{Location, match_static};
use idpool_wire::sigv4::RequestParts;
use idpool_wire::{FrameworkError, SyncException as E, SyncOperation, WireError};
use serde_json::{Map, Value};

/// Who is calling, as far as Sync cares.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncCaller {
    /// The admin key (production) or anyone (dev mode without temporary credentials).
    Developer,
    /// Temporary credentials of one identity of one identity pool.
    Identity {
        pool_id: String,
        identity_id: String,
    },
}

/// What a Sync handler gets: the request context and the caller.
pub struct SyncCtx {
    pub ctx: Ctx,
    pub caller: SyncCaller,
}

pub fn err(code: E, message: impl Into<String>) -> WireError {
    WireError::sync(code, message)
}

/// Store failures: logged, never sent.
pub fn store_err(e: StoreError) -> WireError {
    match e {
        StoreError::Conflict(m) => {
            tracing::warn!(conflict = %m, "unexpected storage conflict");
            err(E::InternalErrorException, "An internal error occurred.")
        }
        StoreError::Backend(m) => {
            tracing::error!(error = %m, "storage failure");
            err(E::InternalErrorException, "An internal error occurred.")
        }
    }
}

pub trait OrSync<T> {
    fn sync_wire(self) -> ApiResult<T>;
}

impl<T> OrSync<T> for Result<T, StoreError> {
    fn sync_wire(self) -> ApiResult<T> {
        self.map_err(store_err)
    }
}

impl SyncCtx {
    /// Operations Cognito allows only with developer credentials (pool configuration,
    /// pool usage, bulk publish).
    pub fn developer_only(&self) -> ApiResult<()> {
        match &self.caller {
            SyncCaller::Developer => Ok(()),
            SyncCaller::Identity { .. } => Err(err(
                E::NotAuthorizedException,
                "This operation can only be called with developer credentials.",
            )),
        }
    }

    /// Operations Cognito allows only with an identity's own temporary credentials
    /// (push sync devices). Dev mode lets anyone through, as everywhere.
    pub fn identity_only(&self) -> ApiResult<()> {
        match &self.caller {
            SyncCaller::Developer if !self.ctx.state.config.dev => Err(err(
                E::NotAuthorizedException,
                "This operation can only be called with the temporary credentials of an identity.",
            )),
            _ => Ok(()),
        }
    }

    /// The identity pool, or `missing` (the exception the operation declares for it).
    pub async fn pool(&self, pool_id: &str, missing: E) -> ApiResult<IdentityPoolRow> {
        if let SyncCaller::Identity { pool_id: own, .. } = &self.caller
            && own != pool_id
        {
            return Err(err(
                E::NotAuthorizedException,
                format!("Access to IdentityPool '{pool_id}' is forbidden."),
            ));
        }
        self.ctx
            .state
            .store
            .get_identity_pool(pool_id)
            .await
            .sync_wire()?
            .ok_or_else(|| err(missing, format!("IdentityPool '{pool_id}' not found.")))
    }

    /// The identity, checked to be in the pool and to be the caller's own.
    pub async fn identity(
        &self,
        pool_id: &str,
        identity_id: &str,
        missing: E,
    ) -> ApiResult<IdentityRow> {
        if let SyncCaller::Identity {
            identity_id: own, ..
        } = &self.caller
            && own != identity_id
        {
            return Err(err(
                E::NotAuthorizedException,
                format!("Access to Identity '{identity_id}' is forbidden."),
            ));
        }
        self.pool(pool_id, missing).await?;
        self.ctx
            .state
            .store
            .get_identity(identity_id)
            .await
            .sync_wire()?
            .filter(|i| i.pool_id == pool_id)
            .ok_or_else(|| err(missing, format!("Identity '{identity_id}' not found.")))
    }
}

/// Drops an identity pool's Sync settings, devices and subscriptions when the pool is
/// deleted (its datasets go with the pool in the store), so a pool created later
/// inherits nothing.
pub async fn forget_pool(store: &dyn idpool_store::Store, pool_id: &str) -> Result<(), StoreError> {
    use idpool_store::ObjectKind as K;
    for kind in [
        K::SyncConfiguration,
        K::SyncEvents,
        K::SyncBulkPublish,
        K::SyncDevice,
        K::SyncSubscription,
    ] {
        loop {
            let page = store.list_objects(pool_id, kind, None, 500).await?;
            if page.is_empty() {
                break;
            }
            for o in page {
                store.delete_object(pool_id, kind, &o.key).await?;
            }
        }
    }
    Ok(())
}

/// Unix milliseconds as the epoch seconds of REST JSON timestamps.
pub fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// `/identitypools` and everything under it.
pub async fn handle(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match serve(state, &method, &uri, &headers, &body).await {
        Ok(v) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response(),
        Err(e) => crate::wire_error_response(&e),
    }
}

async fn serve(
    state: SharedState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, WireError> {
    let path = uri.path();
    let Some((op, labels)) = SyncOperation::ALL.iter().find_map(|op| {
        let (m, template) = op.http();
        if m != method.as_str() {
            return None;
        }
        match_static(template, path).map(|labels| (*op, labels))
    }) else {
        return Err(WireError::framework(
            FrameworkError::UnknownOperationException,
            format!("{method} {path} is not a cognito-sync operation."),
        ));
    };
    let header_list = crate::header_list(headers);
    let parts = RequestParts {
        method: method.as_str(),
        path,
        query: uri.query().unwrap_or(""),
        headers: &header_list,
        body,
    };
    let ctx = Ctx::for_state(state);
    let caller = authenticate(&ctx, &parts)?;
    let input = gather_input(op, labels, uri.query().unwrap_or(""), headers, body)?;
    idpool_wire::validate::sync_model().validate(op.input_shape(), &input)?;
    let mut ctx = ctx;
    ctx.operation = op.name();
    if let Some(region) = header_list
        .iter()
        .find(|(n, _)| n == "authorization")
        .and_then(|(_, v)| idpool_wire::sigv4::parse_authorization(v).ok())
        .map(|a| a.region)
    {
        ctx.region = region;
    }
    let result = dispatch(SyncCtx { ctx, caller }, op, input).await;
    if let Err(e) = &result
        && let idpool_wire::ErrorCode::Sync(code) = e.code
    {
        debug_assert!(
            op.allowed_errors().contains(&code),
            "{} may not return {}",
            op.name(),
            code.name()
        );
    }
    result
}

/// Checks the signature and names the caller. Temporary credentials are verified in
/// every mode (they name an identity); otherwise the admin key outside dev mode.
fn authenticate(ctx: &Ctx, parts: &RequestParts<'_>) -> Result<SyncCaller, WireError> {
    match session::authenticate(&ctx.state, parts, ctx.now_s()) {
        Ok(Caller::Admin { .. }) => Ok(SyncCaller::Developer),
        Ok(Caller::Session(grant)) => {
            let key = |k: &str| {
                grant
                    .keys
                    .get(&format!("{}:{k}", crate::identity::openid::PROVIDER))
                    .and_then(|v| v.first())
                    .cloned()
            };
            match (key("aud"), key("sub")) {
                (Some(pool_id), Some(identity_id)) => Ok(SyncCaller::Identity {
                    pool_id,
                    identity_id,
                }),
                _ => Err(err(
                    E::NotAuthorizedException,
                    "These credentials were not issued for a Cognito identity.",
                )),
            }
        }
        Err(e) => Err(framework_auth_error(e)),
    }
}

fn framework_auth_error(e: QueryError) -> WireError {
    let code = match e.code {
        Q::MissingAuthenticationToken => FrameworkError::MissingAuthenticationTokenException,
        Q::IncompleteSignature => FrameworkError::IncompleteSignatureException,
        Q::SignatureDoesNotMatch => FrameworkError::InvalidSignatureException,
        Q::ExpiredToken | Q::ExpiredTokenException => FrameworkError::ExpiredTokenException,
        _ => FrameworkError::UnrecognizedClientException,
    };
    WireError::framework(code, e.message)
}

/// The operation's input as one JSON object: the body's members plus those the model
/// binds to URI labels, the query string and headers.
fn gather_input(
    op: SyncOperation,
    labels: Vec<(&'static str, String)>,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, WireError> {
    let mut input = match crate::api::parse_body(body)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let query: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect();
    for b in op.bindings() {
        let raw = match b.location {
            Location::Uri => labels
                .iter()
                .find(|(l, _)| *l == b.name)
                .map(|(_, v)| v.clone()),
            Location::Query => query
                .iter()
                .find(|(k, _)| k == b.name)
                .map(|(_, v)| v.clone()),
            Location::Header => headers
                .get(b.name)
                .and_then(|v| v.to_str().ok())
                .map(String::from),
        };
        let Some(raw) = raw else { continue };
        let value = if b.integer {
            Value::from(raw.parse::<i64>().map_err(|_| {
                WireError::framework(
                    FrameworkError::SerializationException,
                    format!("{} must be an integer, not '{raw}'.", b.name),
                )
            })?)
        } else {
            Value::String(raw)
        };
        input.insert(b.member.to_string(), value);
    }
    Ok(Value::Object(input))
}

async fn dispatch(s: SyncCtx, op: SyncOperation, input: Value) -> ApiResult<Value> {
    use crate::api::run;
    use SyncOperation as Op;
    match op {
        Op::ListDatasets => run(s, input, datasets::list_datasets).await,
        Op::DescribeDataset => run(s, input, datasets::describe_dataset).await,
        Op::ListRecords => run(s, input, datasets::list_records).await,
        Op::UpdateRecords => run(s, input, datasets::update_records).await,
        Op::DeleteDataset => run(s, input, datasets::delete_dataset).await,
        Op::DescribeIdentityPoolUsage => run(s, input, usage::describe_identity_pool_usage).await,
        Op::DescribeIdentityUsage => run(s, input, usage::describe_identity_usage).await,
        Op::ListIdentityPoolUsage => run(s, input, usage::list_identity_pool_usage).await,
        Op::BulkPublish => run(s, input, pool_settings::bulk_publish).await,
        Op::GetBulkPublishDetails => run(s, input, pool_settings::get_bulk_publish_details).await,
        Op::SetCognitoEvents => run(s, input, pool_settings::set_cognito_events).await,
        Op::GetCognitoEvents => run(s, input, pool_settings::get_cognito_events).await,
        Op::SetIdentityPoolConfiguration => {
            run(s, input, pool_settings::set_identity_pool_configuration).await
        }
        Op::GetIdentityPoolConfiguration => {
            run(s, input, pool_settings::get_identity_pool_configuration).await
        }
        Op::RegisterDevice => run(s, input, devices::register_device).await,
        Op::SubscribeToDataset => run(s, input, devices::subscribe_to_dataset).await,
        Op::UnsubscribeFromDataset => run(s, input, devices::unsubscribe_from_dataset).await,
    }
}
