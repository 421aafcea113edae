use crate::{PgStore, backend};
use async_trait::async_trait;
use idpool_store::{DeviceRow, DeviceStore, StoreResult};
use sqlx::Row;

fn device_from_row(r: &sqlx::postgres::PgRow) -> StoreResult<DeviceRow> {
    let attributes: String = r.try_get("attributes").map_err(backend)?;
    Ok(DeviceRow {
        pool_id: r.try_get("pool_id").map_err(backend)?,
        username_key: r.try_get("username_key").map_err(backend)?,
        device_key: r.try_get("device_key").map_err(backend)?,
        group_key: r.try_get("group_key").map_err(backend)?,
        verifier: r.try_get("verifier").map_err(backend)?,
        salt: r.try_get("salt").map_err(backend)?,
        remembered_status: r.try_get("remembered_status").map_err(backend)?,
        attributes: serde_json::from_str(&attributes).map_err(backend)?,
        created_at: r.try_get("created_at").map_err(backend)?,
        updated_at: r.try_get("updated_at").map_err(backend)?,
        last_authenticated_at: r.try_get("last_authenticated_at").map_err(backend)?,
    })
}

#[async_trait]
impl DeviceStore for PgStore {
    async fn put_device(&self, d: &DeviceRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO devices (pool_id, username_key, device_key, group_key, verifier, salt, remembered_status, attributes, created_at, updated_at, last_authenticated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (pool_id, username_key, device_key) DO UPDATE SET group_key = excluded.group_key, verifier = excluded.verifier, salt = excluded.salt, remembered_status = excluded.remembered_status, attributes = excluded.attributes, updated_at = excluded.updated_at, last_authenticated_at = excluded.last_authenticated_at",
        )
        .bind(&d.pool_id)
        .bind(&d.username_key)
        .bind(&d.device_key)
        .bind(&d.group_key)
        .bind(&d.verifier)
        .bind(&d.salt)
        .bind(&d.remembered_status)
        .bind(serde_json::Value::Object(d.attributes.clone()).to_string())
        .bind(d.created_at)
        .bind(d.updated_at)
        .bind(d.last_authenticated_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn get_device(
        &self,
        pool_id: &str,
        username_key: &str,
        device_key: &str,
    ) -> StoreResult<Option<DeviceRow>> {
        let row = sqlx::query(
            "SELECT * FROM devices WHERE pool_id = $1 AND username_key = $2 AND device_key = $3",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(device_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn list_devices(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<DeviceRow>> {
        let rows = sqlx::query(
            "SELECT * FROM devices WHERE pool_id = $1 AND username_key = $2 AND device_key > $3 ORDER BY device_key LIMIT $4",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(device_from_row).collect()
    }

    async fn delete_device(
        &self,
        pool_id: &str,
        username_key: &str,
        device_key: &str,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "DELETE FROM devices WHERE pool_id = $1 AND username_key = $2 AND device_key = $3",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(device_key)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(n > 0)
    }
}
