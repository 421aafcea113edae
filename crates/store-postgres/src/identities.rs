use crate::{PgStore, backend, from_json, to_json, write_error};
use async_trait::async_trait;
use idpool_store::{IdentityPoolRow, IdentityRow, IdentityStore, StoreError, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;

fn pool_from_row(row: &PgRow) -> StoreResult<IdentityPoolRow> {
    Ok(IdentityPoolRow {
        id: row.try_get("id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        config: from_json(row.try_get::<&str, _>("config").map_err(backend)?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

fn identity_from_row(row: &PgRow) -> StoreResult<IdentityRow> {
    Ok(IdentityRow {
        identity_id: row.try_get("identity_id").map_err(backend)?,
        pool_id: row.try_get("pool_id").map_err(backend)?,
        logins: from_json(row.try_get::<&str, _>("logins").map_err(backend)?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn create_identity_pool(&self, p: &IdentityPoolRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO identity_pools (id, name, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&p.id)
            .bind(&p.name)
            .bind(to_json(&p.config))
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn get_identity_pool(&self, id: &str) -> StoreResult<Option<IdentityPoolRow>> {
        let row = sqlx::query("SELECT * FROM identity_pools WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(pool_from_row).transpose()
    }

    async fn update_identity_pool(&self, p: &IdentityPoolRow) -> StoreResult<()> {
        sqlx::query(
            "UPDATE identity_pools SET name = $1, config = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(&p.name)
        .bind(to_json(&p.config))
        .bind(p.updated_at)
        .bind(&p.id)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn delete_identity_pool(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for sql in [
            "DELETE FROM identity_logins WHERE pool_id = $1",
            "DELETE FROM identities WHERE pool_id = $1",
            // Sync data goes with the pool: a pool created later never inherits it.
            "DELETE FROM sync_records WHERE pool_id = $1",
            "DELETE FROM sync_datasets WHERE pool_id = $1",
            "DELETE FROM sync_changes WHERE pool_id = $1",
        ] {
            sqlx::query(sql)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let n = sqlx::query("DELETE FROM identity_pools WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn list_identity_pools(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<IdentityPoolRow>> {
        let rows = sqlx::query("SELECT * FROM identity_pools WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(pool_from_row).collect()
    }

    async fn identity_for_login(
        &self,
        login_key: Option<&str>,
        new: &IdentityRow,
    ) -> StoreResult<IdentityRow> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        if let Some(key) = login_key {
            let found = sqlx::query(
                "SELECT i.* FROM identity_logins l JOIN identities i ON i.identity_id = l.identity_id WHERE l.pool_id = $1 AND l.login_key = $2",
            )
            .bind(&new.pool_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            if let Some(row) = found {
                return identity_from_row(&row);
            }
        }
        sqlx::query("INSERT INTO identities (identity_id, pool_id, logins, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&new.identity_id)
            .bind(&new.pool_id)
            .bind(to_json(&new.logins))
            .bind(new.created_at)
            .bind(new.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        if let Some(key) = login_key {
            sqlx::query(
                "INSERT INTO identity_logins (pool_id, login_key, identity_id) VALUES ($1, $2, $3)",
            )
            .bind(&new.pool_id)
            .bind(key)
            .bind(&new.identity_id)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        }
        match tx.commit().await {
            Ok(()) => Ok(new.clone()),
            Err(e) => Err(StoreError::Backend(e.to_string())),
        }
    }

    async fn get_identity(&self, identity_id: &str) -> StoreResult<Option<IdentityRow>> {
        let row = sqlx::query("SELECT * FROM identities WHERE identity_id = $1")
            .bind(identity_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(identity_from_row).transpose()
    }

    async fn list_identities(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<IdentityRow>> {
        let rows = sqlx::query(
            "SELECT * FROM identities WHERE pool_id = $1 AND identity_id > $2 ORDER BY identity_id LIMIT $3",
        )
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn delete_identity(&self, identity_id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for sql in [
            "DELETE FROM identity_logins WHERE identity_id = $1",
            "DELETE FROM sync_records WHERE identity_id = $1",
            "DELETE FROM sync_datasets WHERE identity_id = $1",
        ] {
            sqlx::query(sql)
                .bind(identity_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let n = sqlx::query("DELETE FROM identities WHERE identity_id = $1")
            .bind(identity_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }
}
