use crate::{SqliteStore, backend, from_json, to_json, write_error};
use async_trait::async_trait;
use idpool_store::{ObjectKind, PoolObjectRow, PoolObjectStore, StoreResult};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

pub(crate) fn object_from_row(row: &SqliteRow, kind: ObjectKind) -> StoreResult<PoolObjectRow> {
    Ok(PoolObjectRow {
        pool_id: row.try_get("pool_id").map_err(backend)?,
        kind,
        key: row.try_get("key").map_err(backend)?,
        doc: from_json(row.try_get::<&str, _>("doc").map_err(backend)?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

fn global_key(o: &PoolObjectRow) -> Option<&str> {
    o.kind.globally_unique().then_some(o.key.as_str())
}

#[async_trait]
impl PoolObjectStore for SqliteStore {
    async fn create_object(&self, o: &PoolObjectRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO pool_objects (pool_id, kind, key, global_key, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&o.pool_id)
        .bind(o.kind.as_str())
        .bind(&o.key)
        .bind(global_key(o))
        .bind(to_json(&o.doc))
        .bind(o.created_at)
        .bind(o.updated_at)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn put_object(&self, o: &PoolObjectRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO pool_objects (pool_id, kind, key, global_key, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (pool_id, kind, key) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
        )
        .bind(&o.pool_id)
        .bind(o.kind.as_str())
        .bind(&o.key)
        .bind(global_key(o))
        .bind(to_json(&o.doc))
        .bind(o.created_at)
        .bind(o.updated_at)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn get_object(
        &self,
        pool_id: &str,
        kind: ObjectKind,
        key: &str,
    ) -> StoreResult<Option<PoolObjectRow>> {
        let row =
            sqlx::query("SELECT * FROM pool_objects WHERE pool_id = ? AND kind = ? AND key = ?")
                .bind(pool_id)
                .bind(kind.as_str())
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        row.as_ref().map(|r| object_from_row(r, kind)).transpose()
    }

    async fn find_global_object(
        &self,
        kind: ObjectKind,
        key: &str,
    ) -> StoreResult<Option<PoolObjectRow>> {
        let row = sqlx::query("SELECT * FROM pool_objects WHERE kind = ? AND global_key = ?")
            .bind(kind.as_str())
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(|r| object_from_row(r, kind)).transpose()
    }

    async fn delete_object(&self, pool_id: &str, kind: ObjectKind, key: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let n = sqlx::query("DELETE FROM pool_objects WHERE pool_id = ? AND kind = ? AND key = ?")
            .bind(pool_id)
            .bind(kind.as_str())
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if kind == ObjectKind::Group {
            sqlx::query("DELETE FROM group_members WHERE pool_id = ? AND group_name = ?")
                .bind(pool_id)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn list_objects(
        &self,
        pool_id: &str,
        kind: ObjectKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<PoolObjectRow>> {
        let rows = sqlx::query(
            "SELECT * FROM pool_objects WHERE pool_id = ? AND kind = ? AND key > ? ORDER BY key LIMIT ?",
        )
        .bind(pool_id)
        .bind(kind.as_str())
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|r| object_from_row(r, kind)).collect()
    }

    async fn count_objects(&self, pool_id: &str, kind: ObjectKind) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM pool_objects WHERE pool_id = ? AND kind = ?")
            .bind(pool_id)
            .bind(kind.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }
}
