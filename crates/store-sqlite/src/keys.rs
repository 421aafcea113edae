use crate::{SqliteStore, backend, write_error};
use async_trait::async_trait;
use idpool_store::{SigningKeyRow, SigningKeyStore, StoreResult};
use sqlx::Row;

#[async_trait]
impl SigningKeyStore for SqliteStore {
    async fn list_signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKeyRow>> {
        let rows = sqlx::query(
            "SELECT * FROM signing_keys WHERE pool_id = ? ORDER BY created_at DESC, kid DESC",
        )
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRow {
                    pool_id: r.try_get("pool_id").map_err(backend)?,
                    kid: r.try_get("kid").map_err(backend)?,
                    private_key: r.try_get("private_key").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn insert_signing_key(&self, k: &SigningKeyRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, pool_id, private_key, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&k.kid)
        .bind(&k.pool_id)
        .bind(&k.private_key)
        .bind(k.created_at)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }
}
