use crate::{SqliteStore, backend};
use async_trait::async_trait;
use idpool_store::{OutboxRow, OutboxStore, StoreResult};
use sqlx::Row;

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn push_message(&self, m: &OutboxRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO outbox (id, pool_id, username, channel, destination, subject, message, code, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&m.id)
        .bind(&m.pool_id)
        .bind(&m.username)
        .bind(&m.channel)
        .bind(&m.destination)
        .bind(&m.subject)
        .bind(&m.message)
        .bind(&m.code)
        .bind(m.created_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_messages(
        &self,
        pool_id: Option<&str>,
        username: Option<&str>,
    ) -> StoreResult<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT * FROM outbox WHERE (?1 IS NULL OR pool_id = ?1) AND (?2 IS NULL OR username = ?2) ORDER BY seq LIMIT 1000",
        )
        .bind(pool_id)
        .bind(username)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: r.try_get("id").map_err(backend)?,
                    pool_id: r.try_get("pool_id").map_err(backend)?,
                    username: r.try_get("username").map_err(backend)?,
                    channel: r.try_get("channel").map_err(backend)?,
                    destination: r.try_get("destination").map_err(backend)?,
                    subject: r.try_get("subject").map_err(backend)?,
                    message: r.try_get("message").map_err(backend)?,
                    code: r.try_get("code").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                })
            })
            .collect()
    }
}
