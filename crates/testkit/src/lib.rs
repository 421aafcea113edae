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
    axum_router::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
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
        self.call_service("AWSCognitoIdentityProviderService", op, body)
            .await
    }

    /// CreateUserPool with `pool` (its PoolName and any settings), then a public client
    /// allowed `flows`: the pool and client ids.
    pub async fn create_pool_and_client(
        &self,
        pool: serde_json::Value,
        flows: &[&str],
    ) -> Result<(String, String), String> {
        let created = self.call("CreateUserPool", pool).await?;
        let pool_id = created["UserPool"]["Id"]
            .as_str()
            .ok_or("no pool id")?
            .to_string();
        let client = self
            .call(
                "CreateUserPoolClient",
                serde_json::json!({"UserPoolId": pool_id, "ClientName": "bench",
                                   "ExplicitAuthFlows": flows}),
            )
            .await?;
        let client_id = client["UserPoolClient"]["ClientId"]
            .as_str()
            .ok_or("no client id")?
            .to_string();
        Ok((pool_id, client_id))
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

/// Runs `op` from `concurrency` workers for `seconds` and prints the workload's JSON
/// line: operations/s, p50/p99 latency, errors and, with `server_pid`, the server's CPU
/// milliseconds per operation. `op` gets a running operation number.
pub async fn measure<F, Fut>(
    name: &str,
    seconds: u64,
    concurrency: usize,
    server_pid: Option<&str>,
    op: F,
) -> Result<(), String>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};
    let op = Arc::new(op);
    let label: Arc<str> = Arc::from(name);
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu_before = server_pid.and_then(cpu_ms);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (op, stop, next, errors, label) = (
            op.clone(),
            stop.clone(),
            next.clone(),
            errors.clone(),
            label.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match op(next.fetch_add(1, Ordering::Relaxed)).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("{label}: {e}");
                        }
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let n = all.len() as f64;
    let cpu_per = match (cpu_before, server_pid.and_then(cpu_ms)) {
        (Some(b), Some(a)) if n > 0.0 => Some((a - b) / n),
        _ => None,
    };
    println!(
        "{}",
        serde_json::json!({
            "workload": name,
            "requests": all.len(),
            "rps": n / elapsed,
            "p50_ms": quantile_ms(&all, 0.50),
            "p99_ms": quantile_ms(&all, 0.99),
            "errors": errors.load(Ordering::Relaxed),
            "concurrency": concurrency,
            "server_cpu_ms_per_req": cpu_per,
        })
    );
    Ok(())
}

impl LoadApi {
    /// A call of another JSON service on the same listener (`target` is its
    /// `X-Amz-Target` prefix, e.g. `AWSCognitoIdentityService`).
    pub async fn call_service(
        &self,
        target: &str,
        op: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let res = self
            .http
            .post(&self.endpoint)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", format!("{target}.{op}"))
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

    /// An unsigned AWS Query call (IAM, STS), which a `--dev` server takes as the admin's.
    pub async fn query(&self, action: &str, params: &[(&str, &str)]) -> Result<String, String> {
        let mut form = vec![("Action", action), ("Version", "2010-05-08")];
        form.extend_from_slice(params);
        let res = self
            .http
            .post(&self.endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("{action}: {e}"))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| format!("{action}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{action}: {status} {text}"));
        }
        Ok(text)
    }
}
