use crate::{SqliteStore, backend, from_json, to_json, write_error};
use async_trait::async_trait;
use idpool_store::{ClientRow, ClientStore, StoreResult};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn client_from_row(row: &SqliteRow) -> StoreResult<ClientRow> {
    Ok(ClientRow {
        client_id: row.try_get("client_id").map_err(backend)?,
        pool_id: row.try_get("pool_id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        secret: row.try_get("secret").map_err(backend)?,
        config: from_json(row.try_get::<&str, _>("config").map_err(backend)?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn create_client(&self, c: &ClientRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO clients (client_id, pool_id, name, secret, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(&c.client_id)
            .bind(&c.pool_id)
            .bind(&c.name)
            .bind(&c.secret)
            .bind(to_json(&c.config))
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<ClientRow>> {
        let row = sqlx::query("SELECT * FROM clients WHERE client_id = ?")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn update_client(&self, c: &ClientRow) -> StoreResult<()> {
        sqlx::query("UPDATE clients SET name = ?, secret = ?, config = ?, updated_at = ? WHERE client_id = ?")
            .bind(&c.name)
            .bind(&c.secret)
            .bind(to_json(&c.config))
            .bind(c.updated_at)
            .bind(&c.client_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM clients WHERE client_id = ?")
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn list_clients(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ClientRow>> {
        let rows = sqlx::query(
            "SELECT * FROM clients WHERE pool_id = ? AND client_id > ? ORDER BY client_id LIMIT ?",
        )
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(client_from_row).collect()
    }
}
