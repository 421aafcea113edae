use crate::{SqliteStore, backend};
use async_trait::async_trait;
use idpool_store::{SessionStore, StoreResult};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn consume_once(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
        let inserted = sqlx::query("INSERT INTO used_sessions (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        // Spent sessions are only worth keeping until they expire; sweep now and then
        // instead of on every call.
        if now % 32 == 0 {
            sqlx::query("DELETE FROM used_sessions WHERE expires_at < ?")
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        }
        Ok(inserted == 1)
    }

    async fn is_consumed(&self, key: &str) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT expires_at FROM used_sessions WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.is_some())
    }
}
