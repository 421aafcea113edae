//! PostgreSQL backend: for production and for many stateless nodes sharing one database.
//! Every node runs the migrations at start; an advisory lock makes that safe.

mod auth_events;
mod clients;
mod codes;
mod devices;
mod groups;
mod identities;
mod keys;
mod objects;
mod outbox;
mod pools;
mod sessions;
mod sync;
mod tokens;
mod user_data_history;
mod users;

use async_trait::async_trait;
use idpool_store::{SettingsStore, Store, StoreError, StoreResult};
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// Migrations in order; each runs once, in a transaction, recorded in `idpool_migrations`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "sessions_devices",
        include_str!("../migrations/0002_sessions_devices.sql"),
    ),
    (
        3,
        "pool_objects",
        include_str!("../migrations/0003_pool_objects.sql"),
    ),
    (
        4,
        "auth_events",
        include_str!("../migrations/0004_auth_events.sql"),
    ),
    (
        5,
        "refresh_rotation",
        include_str!("../migrations/0005_refresh_rotation.sql"),
    ),
    (
        6,
        "refresh_scopes",
        include_str!("../migrations/0006_refresh_scopes.sql"),
    ),
    (
        7,
        "identity_pools",
        include_str!("../migrations/0007_identity_pools.sql"),
    ),
    (9, "sync", include_str!("../migrations/0009_sync.sql")),
    (
        10,
        "refresh_device",
        include_str!("../migrations/0010_refresh_device.sql"),
    ),
    (
        11,
        "refresh_context",
        include_str!("../migrations/0011_refresh_context.sql"),
    ),
    (
        12,
        "refresh_last_used",
        include_str!("../migrations/0012_refresh_last_used.sql"),
    ),
    (
        13,
        "user_data_history",
        include_str!("../migrations/0013_user_data_history.sql"),
    ),
];

const TABLES: &[&str] = &[
    "pools",
    "clients",
    "users",
    "codes",
    "outbox",
    "refresh_tokens",
    "signing_keys",
    "settings",
    "used_sessions",
    "devices",
    "pool_objects",
    "group_members",
    "auth_events",
    "identity_pools",
    "identities",
    "identity_logins",
    "sync_datasets",
    "sync_records",
    "sync_changes",
    // After the tables whose triggers write them: a reset leaves no journal behind.
    "users_history",
    "group_members_history",
    "groups_history",
];

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://...`) and runs pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(backend)?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Runs every pending migration in one transaction under an advisory lock, so nodes
    /// starting together against a fresh database neither race on the bookkeeping table
    /// nor apply a migration twice.
    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock(7112025)")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS idpool_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for (version, name, sql) in MIGRATIONS {
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM idpool_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            if done.is_some() {
                continue;
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query("INSERT INTO idpool_migrations (version, name) VALUES ($1, $2)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            tracing::info!(version, name, "applied postgres migration");
        }
        tx.commit().await.map_err(backend)
    }
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Unique-key violations become `Conflict`; anything else is a backend failure.
pub(crate) fn write_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_string())
        }
        _ => backend(e),
    }
}

pub(crate) fn to_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("JSON values always serialize")
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(backend)
}

#[async_trait]
impl SettingsStore for PgStore {
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn put_setting_if_absent(&self, name: &str, value: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(self
            .get_setting(name)
            .await?
            .unwrap_or_else(|| value.to_string()))
    }
}

#[async_trait]
impl Store for PgStore {
    async fn reset(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for table in TABLES {
            // Settings hold the admin keys and the master-key check: a reset wipes
            // Cognito state, not the server's identity.
            if *table == "settings" {
                continue;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }
}

#[cfg(test)]
mod tests {
    /// Needs `IDPOOL_TEST_POSTGRES_URL` (CI sets it). Creates a database of its own and
    /// drops it afterwards, so runs never see each other's rows.
    #[tokio::test]
    async fn conformance() {
        let Ok(admin_url) = std::env::var("IDPOOL_TEST_POSTGRES_URL") else {
            eprintln!("IDPOOL_TEST_POSTGRES_URL unset: skipping the PostgreSQL conformance run");
            return;
        };
        let (url, cleanup) = super::testing::fresh_database(&admin_url).await;
        let store = super::PgStore::connect(&url).await.unwrap();
        idpool_store::conformance::run_all(&store).await;
        drop(store);
        let again = super::PgStore::connect(&url).await.unwrap();
        idpool_store::conformance::run_all(&again).await;
        again.pool.close().await;
        cleanup.await;
    }
}

/// Test support shared with the server's integration tests.
pub mod testing {
    use sqlx::Connection;

    /// Creates `idpool_test_<uuid>` next to the database of `admin_url` and returns its
    /// URL and a future that drops it.
    pub async fn fresh_database(
        admin_url: &str,
    ) -> (String, impl std::future::Future<Output = ()> + use<>) {
        let name = format!("idpool_test_{}", uuid_like());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("connect to IDPOOL_TEST_POSTGRES_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(admin_url);
        let url = format!("{base}/{name}");
        let admin = admin_url.to_string();
        let cleanup = async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
            }
        };
        (url, cleanup)
    }

    fn uuid_like() -> String {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{:x}{:x}", t, std::process::id())
    }
}
