//! The idpool server: configuration, storage start-up and every HTTP edge.
//! `app(state)` builds the router; `run(config, listener)` serves until shutdown.

pub mod access;
pub mod api;
pub mod config;
pub mod delivery;
pub mod external_oidc;
pub mod geo;
pub mod iam;
pub mod identity;
pub mod invoke;
pub mod oauth;
pub mod ops;
pub mod query_api;
#[cfg(feature = "s3")]
pub mod s3;
pub mod state;
pub mod sts;
pub mod sync;
pub mod ui;
pub mod verified_tokens;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use config::Config;
use idpool_core::crypto::MasterKey;
use idpool_store::Store;
use idpool_wire::{FrameworkError, WireError};
use state::{AppState, SharedState};
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;

/// Cognito's largest requests (user import, branding assets) stay well under this.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

pub fn app(state: SharedState) -> Router {
    let mut router = Router::new()
        .route("/", post(aws_json))
        .route("/health", get(ops::health))
        .route("/_idpool/authorize", post(access::authorize_endpoint))
        .route(
            "/_idpool/auth-event-feedback",
            get(api::auth_events::feedback_link_page).post(api::auth_events::feedback_link),
        )
        .route(
            "/cognito-identity/.well-known/jwks.json",
            get(identity::openid_jwks),
        )
        .route(
            "/cognito-identity/.well-known/openid-configuration",
            get(identity::openid_configuration),
        )
        .route("/{pool_id}/.well-known/jwks.json", get(oauth::jwks))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(oauth::openid_configuration),
        )
        .route("/_idpool/ui-logo/{pool_id}/{client}", get(oauth::ui_logo))
        // cognito-sync (REST JSON): the operation is told by method and path.
        .route("/identitypools", any(sync::handle))
        .route("/identitypools/{*rest}", any(sync::handle))
        .route(
            "/_idpool/sync/streams/{identity_pool_id}",
            get(sync::streams::subscribe),
        )
        .route(
            "/_idpool/user-import/{pool_id}/{job_id}",
            put(user_import_upload).layer(DefaultBodyLimit::max(api::import_jobs::MAX_CSV_BYTES)),
        );
    // The authorization server and hosted pages: on a pool's domain at the root, and
    // on any host under /{poolId} (the pool's issuer URL).
    router = router
        .merge(oauth_routes())
        .nest("/{pool_id}", oauth_routes());
    if state.config.dev {
        router = router
            .route("/_idpool/reset", post(ops::reset))
            // The moto conformance suite resets state through moto's own endpoint.
            .route("/moto-api/reset", post(ops::reset))
            .route("/_idpool/outbox", get(ops::outbox));
    }
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(add_request_id))
        .with_state(state)
}

fn oauth_routes() -> Router<SharedState> {
    use oauth::{authorize, token};
    Router::new()
        .route("/oauth2/authorize", get(authorize::authorize))
        .route("/oauth2/token", post(token::token))
        .route(
            "/oauth2/userInfo",
            get(token::user_info).post(token::user_info),
        )
        .route("/oauth2/revoke", post(token::revoke))
        .route("/oauth2/idpresponse", get(oauth::federation::idp_response))
        .route(
            oauth::federation::saml::ACS_PATH,
            post(oauth::federation::saml::idp_response),
        )
        .route(
            oauth::federation::saml_logout::LOGOUT_PATH,
            post(oauth::federation::saml_logout::logout_response),
        )
        .route("/federate", get(oauth::federation::federate_from_page))
        .route("/logout", get(token::logout))
        .route("/login", get(ui::login_page).post(ui::login_submit))
        .route("/challenge", post(ui::challenge_submit))
        .route("/signup", get(ui::signup_page).post(ui::signup_submit))
        .route("/confirm", post(ui::confirm_submit))
        .route(
            "/forgotPassword",
            get(ui::forgot_password_page).post(ui::forgot_password_submit),
        )
        .route(
            "/confirmForgotPassword",
            post(ui::confirm_forgot_password_page),
        )
}

/// The pre-signed upload URL of CreateUserImportJob (the S3 PUT of Cognito's).
async fn user_import_upload(
    State(state): State<SharedState>,
    Path((pool_id, job_id)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let ctx = api::Ctx::for_state(state);
    let expires = q.get("expires").and_then(|e| e.parse().ok()).unwrap_or(0);
    let signature = q.get("signature").map(String::as_str).unwrap_or_default();
    let (status, message) =
        api::import_jobs::upload_csv(&ctx, &pool_id, &job_id, expires, signature, &body).await;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, message).into_response()
}

/// Every response carries `x-amzn-RequestId`, as AWS's do; SDKs log it.
async fn add_request_id(mut res: Response) -> Response {
    let name = HeaderName::from_static("x-amzn-requestid");
    if !res.headers().contains_key(&name) {
        let id = uuid_v4();
        res.headers_mut()
            .insert(name, HeaderValue::from_str(&id).expect("uuid is ASCII"));
    }
    res
}

fn uuid_v4() -> String {
    idpool_core::ids::uuid()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [("content-type", "application/json")],
        r#"{"message":"Not Found"}"#,
    )
        .into_response()
}

pub fn wire_error_response(e: &WireError) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", e.code.name()),
        ],
        e.body(),
    )
        .into_response()
}

/// The TCP peer of a request, when the listener records it.
pub type Peer = Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>;

/// The end user's address: the TCP peer, or, when the peer is one of the configured
/// reverse proxies (`--trusted-proxies`), the nearest X-Forwarded-For address that is
/// not one of them. Addresses further left are whatever the client claimed, so they
/// are never believed.
pub fn client_ip(
    config: &config::Config,
    peer: Peer,
    headers: &HeaderMap,
) -> Option<std::net::IpAddr> {
    let trusted = |ip: std::net::IpAddr| config.trusted_proxies.iter().any(|r| r.contains(ip));
    let mut ip = peer?.0.0.ip();
    if !trusted(ip) {
        return Some(ip);
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for hop in forwarded.into_iter().rev() {
        ip = hop;
        if !trusted(hop) {
            break;
        }
    }
    Some(ip)
}

async fn aws_json(
    State(state): State<SharedState>,
    peer: Peer,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return wire_error_response(&WireError::framework(
                FrameworkError::RequestEntityTooLargeException,
                format!("Request body exceeds {MAX_BODY_BYTES} bytes."),
            ));
        }
        Err(e) => {
            return wire_error_response(&WireError::framework(
                FrameworkError::SerializationException,
                e.body_text(),
            ));
        }
    };
    let header_list = header_list(&headers);
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    if target.is_none() && query_api::is_query_request(content_type) {
        let parts = idpool_wire::sigv4::RequestParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            headers: &header_list,
            body: &body,
        };
        return query_api::handle(state, parts).await;
    }
    let req = api::RawRequest {
        target,
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &header_list,
        body: &body,
        peer: client_ip(&state.config, peer, &headers),
    };
    let handled = match target {
        Some(t) if identity::is_identity_target(t) => identity::handle(state, req).await,
        _ => api::handle(state, req).await,
    };
    match handled {
        Ok(v) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response(),
        Err(e) => wire_error_response(&e),
    }
}

/// Headers as the SigV4 verifier reads them: lower-cased names, repeated headers
/// repeated.
pub fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Opens the store, loads or creates the master key and admin keys, and builds state.
pub async fn build_state(config: Config, public_url: String) -> Result<SharedState, String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    let store: Arc<dyn Store> = if config.database_url.starts_with("postgres") {
        Arc::new(
            idpool_store_postgres::PgStore::connect(&config.database_url)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else {
        Arc::new(
            idpool_store_sqlite::SqliteStore::connect(&config.database_url)
                .await
                .map_err(|e| e.to_string())?,
        )
    };
    let master = load_master_key(&config, store.as_ref()).await?;
    let admin_key = match &config.admin_access_key {
        Some(k) => k.clone(),
        None => load_or_create_admin_key(&config, store.as_ref(), &master).await?,
    };
    let senders = delivery::Senders {
        mailer: match &config.smtp_url {
            Some(url) => Some(delivery::Mailer::new(url, &config.smtp_from)?),
            None => None,
        },
        sms: match &config.sms_webhook {
            Some(webhook) => Some(delivery::SignedWebhook::new(
                webhook.clone(),
                "SMS webhook",
            )?),
            None => None,
        },
        push: match &config.push_webhook {
            Some(webhook) => Some(delivery::SignedWebhook::new(
                webhook.clone(),
                "push webhook",
            )?),
            None => None,
        },
    };
    let geoip = match &config.geoip_database {
        Some(path) => Some(geo::GeoIp::open(path)?),
        None => None,
    };
    let config_triggers = config.triggers.clone();
    let ui_templates = Arc::new(ui::load_templates(config.ui_templates_dir.as_deref())?);
    Ok(Arc::new(AppState {
        store,
        master,
        config,
        public_url,
        admin_key,
        senders,
        geoip,
        invoker: crate::invoke::Invoker::new(config_triggers),
        ui_templates,
        signing_keys: RwLock::new(Default::default()),
        verified_tokens: Default::default(),
        external_oidc: Default::default(),
        role_policies: Default::default(),
        log_configs: Default::default(),
    }))
}

/// The master key from config, else from `master.key` in the data dir (generated on
/// first start). A check value in the store catches a node started with the wrong key
/// before it writes anything unreadable.
async fn load_master_key(config: &Config, store: &dyn Store) -> Result<MasterKey, String> {
    let hex_key = match &config.master_key {
        Some(k) => k.trim().to_string(),
        None => {
            let path = config.data_dir.join("master.key");
            match std::fs::read_to_string(&path) {
                Ok(k) => k.trim().to_string(),
                Err(_) => {
                    let k = hex::encode(idpool_core::crypto::random_bytes(32));
                    write_secret_file(&path, &k)?;
                    if !config.dev {
                        eprintln!(
                            "idpool: generated a master key in {}; back it up (losing it loses every password).",
                            path.display()
                        );
                    }
                    k
                }
            }
        }
    };
    let bytes = hex::decode(&hex_key)
        .map_err(|_| "the master key must be 64 hex characters".to_string())?;
    let master = MasterKey::from_bytes(&bytes).map_err(|e| e.to_string())?;
    let check = master.encrypt(b"idpool", b"master-key-check");
    let stored = store
        .put_setting_if_absent("master_key_check", &check)
        .await
        .map_err(|e| e.to_string())?;
    if master.decrypt(&stored, b"master-key-check").is_err() {
        return Err("the master key does not match the one this database was created with".into());
    }
    Ok(master)
}

fn write_secret_file(path: &std::path::Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    #[cfg(unix)]
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    };
    #[cfg(not(unix))]
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    let mut f = file.map_err(|e| format!("creating {}: {e}", path.display()))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Production needs an admin key pair; without one in the environment, one is generated
/// once, kept in the store (so every node shares it) and printed on first start.
async fn load_or_create_admin_key(
    config: &Config,
    store: &dyn Store,
    master: &MasterKey,
) -> Result<(String, String), String> {
    let id = format!(
        "AKIA{}",
        idpool_core::ids::random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    );
    let secret = idpool_core::ids::random_string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        40,
    );
    let proposed = format!("{id}:{}", master.encrypt_str(&secret, b"admin-secret"));
    let stored = store
        .put_setting_if_absent("admin_access_key", &proposed)
        .await
        .map_err(|e| e.to_string())?;
    let (stored_id, enc) = stored
        .split_once(':')
        .ok_or("stored admin key is malformed")?;
    let stored_secret = master
        .decrypt_str(enc, b"admin-secret")
        .map_err(|e| e.to_string())?;
    if stored == proposed && !config.dev {
        println!("idpool: generated admin credentials (shown once):");
        println!("  IDPOOL_ADMIN_ACCESS_KEY_ID={stored_id}");
        println!("  IDPOOL_ADMIN_SECRET_ACCESS_KEY={stored_secret}");
    }
    Ok((stored_id.to_string(), stored_secret))
}

/// Serves on `listener` until ctrl-c / SIGTERM.
pub async fn run(config: Config, listener: TcpListener) -> Result<(), String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let dev = config.dev;
    let s3_listen = config.s3_listen;
    let state = build_state(config, public_url).await?;
    api::point_in_time_recovery::spawn_journal_pruning(state.clone());
    // Dropping `stop` tells the other listeners to finish with the main one.
    let (stop, stopped) = tokio::sync::watch::channel(());
    let s3 = match s3_listen {
        Some(s3_addr) => Some(start_s3_endpoint(state.clone(), s3_addr, stopped).await?),
        None => None,
    };
    println!(
        "idpool listening on http://{addr}{}",
        if dev { " (dev mode)" } else { "" }
    );
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        drop(stop);
    })
    .await
    .map_err(|e| e.to_string());
    if let Some(s3) = s3 {
        s3.await.map_err(|e| e.to_string())??;
    }
    served
}

type Listening = tokio::task::JoinHandle<Result<(), String>>;

#[cfg(feature = "s3")]
async fn start_s3_endpoint(
    state: SharedState,
    addr: std::net::SocketAddr,
    mut stopped: tokio::sync::watch::Receiver<()>,
) -> Result<Listening, String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        format!("binding the S3 endpoint to {addr} (--s3-listen; \"off\" disables it): {e}")
    })?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("idpool S3 endpoint on http://{bound}");
    Ok(tokio::spawn(s3::serve(state, listener, async move {
        let _ = stopped.changed().await;
    })))
}

#[cfg(not(feature = "s3"))]
async fn start_s3_endpoint(
    _state: SharedState,
    _addr: std::net::SocketAddr,
    _stopped: tokio::sync::watch::Receiver<()>,
) -> Result<Listening, String> {
    tracing::info!("this idpool was built without the S3 endpoint (cargo feature \"s3\")");
    Ok(tokio::spawn(async { Ok(()) }))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
pub mod reexports {
    pub use axum;
}
