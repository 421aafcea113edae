use crate::{PgStore, backend, from_json, to_json, write_error};
use async_trait::async_trait;
use idpool_store::{AuthEventRow, AuthEventStore, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;

fn event_from_row(row: &PgRow) -> StoreResult<AuthEventRow> {
    Ok(AuthEventRow {
        pool_id: row.try_get("pool_id").map_err(backend)?,
        username_key: row.try_get("username_key").map_err(backend)?,
        event_id: row.try_get("event_id").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        doc: from_json(row.try_get::<&str, _>("doc").map_err(backend)?)?,
    })
}

#[async_trait]
impl AuthEventStore for PgStore {
    async fn insert_auth_event(&self, e: &AuthEventRow, keep_after: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO auth_events (pool_id, username_key, event_id, created_at, doc) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&e.pool_id)
        .bind(&e.username_key)
        .bind(&e.event_id)
        .bind(e.created_at)
        .bind(to_json(&e.doc))
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
        sqlx::query(
            "DELETE FROM auth_events WHERE pool_id = $1 AND username_key = $2 AND created_at < $3",
        )
        .bind(&e.pool_id)
        .bind(&e.username_key)
        .bind(keep_after)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn get_auth_event(
        &self,
        pool_id: &str,
        username_key: &str,
        event_id: &str,
    ) -> StoreResult<Option<AuthEventRow>> {
        let row = sqlx::query(
            "SELECT * FROM auth_events WHERE pool_id = $1 AND username_key = $2 AND event_id = $3",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(event_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn update_auth_event(&self, e: &AuthEventRow) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE auth_events SET doc = $1 WHERE pool_id = $2 AND username_key = $3 AND event_id = $4",
        )
        .bind(to_json(&e.doc))
        .bind(&e.pool_id)
        .bind(&e.username_key)
        .bind(&e.event_id)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(n > 0)
    }

    async fn list_auth_events(
        &self,
        pool_id: &str,
        username_key: &str,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<AuthEventRow>> {
        let (t, id) = before.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(
            "SELECT * FROM auth_events WHERE pool_id = $1 AND username_key = $2 \
             AND (created_at < $3 OR (created_at = $4 AND event_id < $5)) \
             ORDER BY created_at DESC, event_id DESC LIMIT $6",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(t)
        .bind(t)
        .bind(id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(event_from_row).collect()
    }
}
