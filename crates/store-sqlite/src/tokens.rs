use crate::{SqliteStore, backend, write_error};
use async_trait::async_trait;
use idpool_store::{RefreshTokenRow, RefreshTokenStore, StoreResult, TokenSessionRow};
use sqlx::Row;

#[async_trait]
impl RefreshTokenStore for SqliteStore {
    async fn insert_refresh_token(&self, t: &RefreshTokenRow) -> StoreResult<()> {
        insert_token(&self.pool, t).await
    }

    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshTokenRow>> {
        let row = sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(RefreshTokenRow {
                token_hash: r.try_get("token_hash").map_err(backend)?,
                pool_id: r.try_get("pool_id").map_err(backend)?,
                client_id: r.try_get("client_id").map_err(backend)?,
                username_key: r.try_get("username_key").map_err(backend)?,
                origin_jti: r.try_get("origin_jti").map_err(backend)?,
                auth_time: r.try_get("auth_time").map_err(backend)?,
                created_at: r.try_get("created_at").map_err(backend)?,
                expires_at: r.try_get("expires_at").map_err(backend)?,
                revoked_at: r.try_get("revoked_at").map_err(backend)?,
                rotated_at: r.try_get("rotated_at").map_err(backend)?,
                scopes: r.try_get("scopes").map_err(backend)?,
                device_key: r.try_get("device_key").map_err(backend)?,
                context: r.try_get("context").map_err(backend)?,
            })
        })
        .transpose()
    }

    async fn revoke_refresh_token(&self, token_hash: &str, now: i64) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE origin_jti = (SELECT origin_jti FROM refresh_tokens WHERE token_hash = ?)",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(n > 0)
    }

    async fn revoke_user_refresh_tokens(
        &self,
        pool_id: &str,
        username_key: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE pool_id = ? AND username_key = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(pool_id)
            .bind(username_key)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_token_sessions(
        &self,
        pool_id: &str,
        username_key: &str,
        now: i64,
    ) -> StoreResult<Vec<TokenSessionRow>> {
        // COUNT(revoked_at) counts the revoked tokens: a session with any is over.
        let rows = sqlx::query(
            "SELECT origin_jti, MIN(client_id) AS client_id, MIN(created_at) AS created_at, MAX(COALESCE(last_used_at, created_at)) AS last_active_at, MAX(expires_at) AS expires_at, (SELECT n.context FROM refresh_tokens n WHERE n.origin_jti = refresh_tokens.origin_jti ORDER BY COALESCE(n.last_used_at, n.created_at) DESC, n.created_at DESC LIMIT 1) AS context FROM refresh_tokens WHERE pool_id = ? AND username_key = ? GROUP BY origin_jti HAVING COUNT(revoked_at) = 0 AND MAX(expires_at) > ? ORDER BY MIN(created_at), origin_jti",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(TokenSessionRow {
                    origin_jti: r.try_get("origin_jti").map_err(backend)?,
                    client_id: r.try_get("client_id").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                    last_active_at: r.try_get("last_active_at").map_err(backend)?,
                    expires_at: r.try_get("expires_at").map_err(backend)?,
                    context: r.try_get("context").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn note_refresh_token_use(
        &self,
        token_hash: &str,
        now: i64,
        context: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_tokens SET last_used_at = ?, context = ? WHERE token_hash = ?")
            .bind(now)
            .bind(context)
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn revoke_token_session(
        &self,
        pool_id: &str,
        username_key: &str,
        origin_jti: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE pool_id = ? AND username_key = ? AND origin_jti = ?",
        )
        .bind(now)
        .bind(pool_id)
        .bind(username_key)
        .bind(origin_jti)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(n > 0)
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        now: i64,
        grace_ms: i64,
        new: &RefreshTokenRow,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // The conditions make the update the arbiter: of two concurrent rotations of a
        // token with no grace period, only one finds `rotated_at` still empty.
        let rotated = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = COALESCE(rotated_at, ?1) \
             WHERE token_hash = ?3 AND revoked_at IS NULL AND expires_at > ?1 \
             AND (rotated_at IS NULL OR rotated_at + ?2 > ?1)",
        )
        .bind(now)
        .bind(grace_ms)
        .bind(old_hash)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if rotated == 0 {
            return Ok(false);
        }
        insert_token(&mut *tx, new).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }
}

async fn insert_token<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Sqlite>,
    t: &RefreshTokenRow,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, pool_id, client_id, username_key, origin_jti, auth_time, created_at, expires_at, revoked_at, rotated_at, scopes, device_key, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&t.token_hash)
    .bind(&t.pool_id)
    .bind(&t.client_id)
    .bind(&t.username_key)
    .bind(&t.origin_jti)
    .bind(t.auth_time)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.revoked_at)
    .bind(t.rotated_at)
    .bind(&t.scopes)
    .bind(&t.device_key)
    .bind(&t.context)
    .execute(executor)
    .await
    .map_err(write_error)?;
    Ok(())
}
