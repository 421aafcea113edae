use crate::{PgStore, backend};
use async_trait::async_trait;
use idpool_store::{CodeRow, CodeStore, StoreResult};
use sqlx::Row;

#[async_trait]
impl CodeStore for PgStore {
    async fn put_code(&self, c: &CodeRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO codes (pool_id, username_key, purpose, code_hash, expires_at, failed_attempts, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (pool_id, username_key, purpose) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, \
             failed_attempts = excluded.failed_attempts, created_at = excluded.created_at",
        )
        .bind(&c.pool_id)
        .bind(&c.username_key)
        .bind(&c.purpose)
        .bind(&c.code_hash)
        .bind(c.expires_at)
        .bind(c.failed_attempts)
        .bind(c.created_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn get_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
    ) -> StoreResult<Option<CodeRow>> {
        let row = sqlx::query(
            "SELECT * FROM codes WHERE pool_id = $1 AND username_key = $2 AND purpose = $3",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| {
            Ok(CodeRow {
                pool_id: r.try_get("pool_id").map_err(backend)?,
                username_key: r.try_get("username_key").map_err(backend)?,
                purpose: r.try_get("purpose").map_err(backend)?,
                code_hash: r.try_get("code_hash").map_err(backend)?,
                expires_at: r.try_get("expires_at").map_err(backend)?,
                failed_attempts: r.try_get("failed_attempts").map_err(backend)?,
                created_at: r.try_get("created_at").map_err(backend)?,
            })
        })
        .transpose()
    }

    async fn record_code_failure(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
    ) -> StoreResult<i32> {
        let n: Option<i32> = sqlx::query_scalar(
            "UPDATE codes SET failed_attempts = failed_attempts + 1 WHERE pool_id = $1 AND username_key = $2 AND purpose = $3 RETURNING failed_attempts",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(n.unwrap_or(0))
    }

    async fn delete_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: &str,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "DELETE FROM codes WHERE pool_id = $1 AND username_key = $2 AND purpose = $3",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(purpose)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(n > 0)
    }
}
