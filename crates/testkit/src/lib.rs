//! Boots the real idpool server on 127.0.0.1:0 inside the test process and hands out
//! clients: the Rust AWS SDK and a raw requester for what the SDK will not send.

use aws_credential_types::Credentials;
use aws_sdk_cognitoidentityprovider as cip;
use idpool_server::config::ServeArgs;
use std::path::PathBuf;

/// Which database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub url: String,
    pub data_dir: PathBuf,
    pub admin_key: (String, String),
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The PostgreSQL URL tests use, when the environment gives one.
pub fn postgres_url() -> Option<String> {
    std::env::var("IDPOOL_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

impl TestServer {
    /// A dev-mode server (any credentials accepted).
    pub async fn dev(backend: Backend) -> Option<TestServer> {
        Self::start(backend, true).await
    }

    /// A production-mode server whose admin key pair is `admin_key`.
    pub async fn production(backend: Backend) -> Option<TestServer> {
        Self::start(backend, false).await
    }

    /// None when `backend` is PostgreSQL and no test database is configured.
    async fn start(backend: Backend, dev: bool) -> Option<TestServer> {
        let data_dir = std::env::temp_dir().join(format!("idpool-test-{}", uuid::Uuid::new_v4()));
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(shared_postgres_database().await?),
        };
        let admin_key = (
            "AKIAIDPOOLTESTKEY000".to_string(),
            format!("secret-{}", uuid::Uuid::new_v4()),
        );
        let args = ServeArgs {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: Some(data_dir.clone()),
            database_url,
            dev,
            // One master key for every test server: they may share one PostgreSQL
            // database, and a server refuses a database made with another key.
            master_key: Some("11".repeat(32)),
            ..Default::default()
        };
        let mut config = args.resolve().expect("test config resolves");
        config.admin_access_key = Some(admin_key.clone());
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = idpool_server::build_state(config, url.clone())
            .await
            .expect("server state builds");
        let router = idpool_server::app(state);
        let task = tokio::spawn(async move {
            let _ = axum_serve(listener, router).await;
        });
        Some(TestServer {
            url,
            data_dir,
            admin_key,
            task,
        })
    }

    /// The Rust AWS SDK pointed at this server, signing with `key_id`/`secret`.
    pub fn sdk_with(&self, key_id: &str, secret: &str) -> cip::Client {
        let conf = cip::Config::builder()
            .behavior_version(cip::config::BehaviorVersion::latest())
            .region(cip::config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::new(
                key_id,
                secret,
                None,
                None,
                "idpool-testkit",
            ))
            .build();
        cip::Client::from_conf(conf)
    }

    /// The SDK with this server's admin credentials.
    pub fn sdk(&self) -> cip::Client {
        self.sdk_with(&self.admin_key.0, &self.admin_key.1)
    }

    /// A raw AWS JSON 1.1 call: returns (status, headers, body as JSON or text).
    pub async fn raw(
        &self,
        target: Option<&str>,
        body: &str,
    ) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
        let mut req = reqwest::Client::new()
            .post(format!("{}/", self.url))
            .header("content-type", "application/x-amz-json-1.1")
            .body(body.to_string());
        if let Some(t) = target {
            req = req.header("x-amz-target", t);
        }
        let res = req.send().await.expect("request reaches the server");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, headers, json)
    }

    /// The dev outbox for a user, oldest first.
    pub async fn outbox(&self, pool_id: &str, username: &str) -> Vec<serde_json::Value> {
        let url = format!(
            "{}/_idpool/outbox?userPoolId={pool_id}&username={username}",
            self.url
        );
        reqwest::get(url).await.unwrap().json().await.unwrap()
    }

    /// The newest code sent to a user.
    pub async fn last_code(&self, pool_id: &str, username: &str) -> String {
        let msgs = self.outbox(pool_id, username).await;
        msgs.last()
            .and_then(|m| m["code"].as_str())
            .expect("a message with a code")
            .to_string()
    }
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    router: axum_router::Router,
) -> std::io::Result<()> {
    axum_router::serve(listener, router).await
}

mod axum_router {
    pub use idpool_server::reexports::axum::{Router, serve};
}

/// One database per test process, created on first use; tests isolate by fresh pools.
async fn shared_postgres_database() -> Option<String> {
    use tokio::sync::OnceCell;
    static DB: OnceCell<String> = OnceCell::const_new();
    let admin = postgres_url()?;
    Some(
        DB.get_or_init(|| async move {
            let (url, _cleanup) = idpool_store_postgres::testing::fresh_database(&admin).await;
            // Dropped by name prefix at the start of the next run (see cleanup below);
            // a static cannot run async cleanup at process exit.
            url
        })
        .await
        .clone(),
    )
}

/// An unsigned cognito-idp caller for the load generators (`src/bin/`): one JSON
/// request per call, errors as text.
pub struct LoadApi {
    pub http: reqwest::Client,
    /// The server's base URL with a trailing slash.
    pub endpoint: String,
}

impl LoadApi {
    pub fn new(http: reqwest::Client, endpoint: &str) -> LoadApi {
        LoadApi {
            http,
            endpoint: format!("{}/", endpoint.trim_end_matches('/')),
        }
    }

    pub async fn call(
        &self,
        op: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let res = self
            .http
            .post(&self.endpoint)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "X-Amz-Target",
                format!("AWSCognitoIdentityProviderService.{op}"),
            )
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("{op}: {e}"))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| format!("{op}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{op}: {status} {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{op}: {e}"))
    }
}

/// CPU milliseconds (user + system) a process has used so far, from /proc: load
/// generators report the server's CPU per request with it.
pub fn cpu_ms(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks * 10.0)
}

/// The `p` quantile (0..1) of sorted latencies, in milliseconds.
pub fn quantile_ms(sorted: &[std::time::Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}
