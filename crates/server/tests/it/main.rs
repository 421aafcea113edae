//! The one integration-test binary: the real server on 127.0.0.1:0, driven by the Rust
//! AWS SDK and a raw requester. Each area is a module; each scenario runs on SQLite and,
//! when IDPOOL_TEST_POSTGRES_URL is set, on PostgreSQL.

mod lifecycle;
mod management;
mod sigv4;
mod srp_mfa;
mod wire;

use idpool_testkit::{Backend, TestServer};

/// The backends a scenario runs on. CI sets IDPOOL_TEST_POSTGRES_URL; then a missing
/// PostgreSQL is a failure, not a skip.
pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if idpool_testkit::postgres_url().is_some() {
        b.push(Backend::Postgres);
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but IDPOOL_TEST_POSTGRES_URL is unset: the PostgreSQL backend would go untested"
        );
    }
    b
}

pub async fn dev_server(backend: Backend) -> TestServer {
    TestServer::dev(backend).await.expect("test server starts")
}
