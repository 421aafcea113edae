use crate::{PgStore, backend, from_json, to_json, write_error};
use async_trait::async_trait;
use idpool_store::{ClientRow, ClientStore, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;

fn client_from_row(row: &PgRow) -> StoreResult<ClientRow> {
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
impl ClientStore for PgStore {
    async fn create_client(&self, c: &ClientRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO clients (client_id, pool_id, name, secret, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
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
        let row = sqlx::query("SELECT * FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn update_client(&self, c: &ClientRow) -> StoreResult<()> {
        sqlx::query("UPDATE clients SET name = $1, secret = $2, config = $3, updated_at = $4 WHERE client_id = $5")
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
        let n = sqlx::query("DELETE FROM clients WHERE client_id = $1")
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
        let rows = sqlx::query("SELECT * FROM clients WHERE pool_id = $1 AND client_id > $2 ORDER BY client_id LIMIT $3")
            .bind(pool_id)
            .bind(after.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(client_from_row).collect()
    }
}
