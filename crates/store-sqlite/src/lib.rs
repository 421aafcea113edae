//! SQLite backend: the default, zero set-up store. One file in the data directory,
//! WAL mode so readers never wait for the writer.

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
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
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

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or a plain path)
    /// and runs pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: durable across process crashes; a power cut may lose
            // the last transactions but never corrupts the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS idpool_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        for (version, name, sql) in MIGRATIONS {
            let mut tx = self.pool.begin().await.map_err(backend)?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM idpool_migrations WHERE version = ?")
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
            sqlx::query("INSERT INTO idpool_migrations (version, name) VALUES (?, ?)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            tracing::info!(version, name, "applied sqlite migration");
        }
        Ok(())
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
impl SettingsStore for SqliteStore {
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn put_setting_if_absent(&self, name: &str, value: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
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
impl Store for SqliteStore {
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
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conformance() {
        let dir = std::env::temp_dir().join(format!("idpool-sqlite-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = super::SqliteStore::connect(dir.join("idpool.db").to_str().unwrap())
            .await
            .unwrap();
        idpool_store::conformance::run_all(&store).await;
        // Reopening runs no migration twice.
        drop(store);
        let again = super::SqliteStore::connect(dir.join("idpool.db").to_str().unwrap())
            .await
            .unwrap();
        idpool_store::conformance::run_all(&again).await;
        std::fs::remove_dir_all(&dir).ok();
    }
}
