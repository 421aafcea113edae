use crate::{PgStore, backend, from_json, to_json, write_error};
use async_trait::async_trait;
use idpool_store::{PoolRow, PoolStore, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;

fn pool_from_row(row: &PgRow) -> StoreResult<PoolRow> {
    Ok(PoolRow {
        id: row.try_get("id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        config: from_json(row.try_get::<&str, _>("config").map_err(backend)?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

#[async_trait]
impl PoolStore for PgStore {
    async fn create_pool(&self, pool: &PoolRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO pools (id, name, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&pool.id)
            .bind(&pool.name)
            .bind(to_json(&pool.config))
            .bind(pool.created_at)
            .bind(pool.updated_at)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn get_pool(&self, id: &str) -> StoreResult<Option<PoolRow>> {
        let row = sqlx::query("SELECT * FROM pools WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(pool_from_row).transpose()
    }

    async fn update_pool(&self, pool: &PoolRow) -> StoreResult<()> {
        sqlx::query("UPDATE pools SET name = $1, config = $2, updated_at = $3 WHERE id = $4")
            .bind(&pool.name)
            .bind(to_json(&pool.config))
            .bind(pool.updated_at)
            .bind(&pool.id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_pool(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let deleted = sqlx::query("DELETE FROM pools WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        for table in [
            "clients",
            "users",
            "codes",
            "outbox",
            "refresh_tokens",
            "signing_keys",
            "devices",
            "pool_objects",
            "group_members",
            "auth_events",
            // Last: deleting the users above journals them.
            "users_history",
            "group_members_history",
            "groups_history",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE pool_id = $1"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(deleted > 0)
    }

    async fn list_pools(&self, after: Option<&str>, limit: u32) -> StoreResult<Vec<PoolRow>> {
        let rows = sqlx::query("SELECT * FROM pools WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(pool_from_row).collect()
    }
}
