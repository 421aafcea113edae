use crate::{SqliteStore, backend, from_json, to_json, write_error};
use async_trait::async_trait;
use idpool_store::{
    IdentityPoolRow, IdentityRow, IdentityStore, StoreError, StoreResult, login_providers,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn pool_from_row(row: &SqliteRow) -> StoreResult<IdentityPoolRow> {
    Ok(IdentityPoolRow {
        id: row.try_get("id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        config: from_json(row.try_get::<&str, _>("config").map_err(backend)?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

fn identity_from_row(row: &SqliteRow) -> StoreResult<IdentityRow> {
    Ok(IdentityRow {
        identity_id: row.try_get("identity_id").map_err(backend)?,
        pool_id: row.try_get("pool_id").map_err(backend)?,
        logins: from_json(row.try_get::<&str, _>("logins").map_err(backend)?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

async fn get_identity_in(
    tx: &mut sqlx::SqliteConnection,
    identity_id: &str,
) -> StoreResult<Option<IdentityRow>> {
    let row = sqlx::query("SELECT * FROM identities WHERE identity_id = ?")
        .bind(identity_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    row.as_ref().map(identity_from_row).transpose()
}

/// Takes the identity for a write first (on SQLite, the database's write lock, so
/// the reads that follow cannot go stale before the writes), then reads it.
async fn lock_identity(
    tx: &mut sqlx::SqliteConnection,
    identity_id: &str,
    now: i64,
) -> StoreResult<Option<IdentityRow>> {
    let n = sqlx::query("UPDATE identities SET updated_at = ? WHERE identity_id = ?")
        .bind(now)
        .bind(identity_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    get_identity_in(tx, identity_id).await
}

/// Recomputes an identity's provider names from its linked logins.
async fn refresh_logins(
    tx: &mut sqlx::SqliteConnection,
    mut identity: IdentityRow,
    now: i64,
) -> StoreResult<IdentityRow> {
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT login_key FROM identity_logins WHERE identity_id = ? ORDER BY login_key",
    )
    .bind(&identity.identity_id)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    identity.logins = login_providers(&keys);
    identity.updated_at = now;
    sqlx::query("UPDATE identities SET logins = ?, updated_at = ? WHERE identity_id = ?")
        .bind(to_json(&identity.logins))
        .bind(now)
        .bind(&identity.identity_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(identity)
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn create_identity_pool(&self, p: &IdentityPoolRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO identity_pools (id, name, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
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
        let row = sqlx::query("SELECT * FROM identity_pools WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(pool_from_row).transpose()
    }

    async fn update_identity_pool(&self, p: &IdentityPoolRow) -> StoreResult<()> {
        sqlx::query("UPDATE identity_pools SET name = ?, config = ?, updated_at = ? WHERE id = ?")
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
            "DELETE FROM identity_logins WHERE pool_id = ?",
            "DELETE FROM identities WHERE pool_id = ?",
            // Sync data goes with the pool: a pool created later never inherits it.
            "DELETE FROM sync_records WHERE pool_id = ?",
            "DELETE FROM sync_datasets WHERE pool_id = ?",
            "DELETE FROM sync_changes WHERE pool_id = ?",
        ] {
            sqlx::query(sql)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let n = sqlx::query("DELETE FROM identity_pools WHERE id = ?")
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
        let rows = sqlx::query("SELECT * FROM identity_pools WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(pool_from_row).collect()
    }

    async fn find_identity_by_login(
        &self,
        pool_id: &str,
        login_key: &str,
    ) -> StoreResult<Option<IdentityRow>> {
        let row = sqlx::query(
            "SELECT i.* FROM identity_logins l JOIN identities i ON i.identity_id = l.identity_id WHERE l.pool_id = ? AND l.login_key = ?",
        )
        .bind(pool_id)
        .bind(login_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(identity_from_row).transpose()
    }

    async fn identity_login_keys(&self, identity_id: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT login_key FROM identity_logins WHERE identity_id = ? ORDER BY login_key",
        )
        .bind(identity_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    async fn create_identity(
        &self,
        new: &IdentityRow,
        login_keys: &[String],
    ) -> StoreResult<IdentityRow> {
        let row = IdentityRow {
            logins: login_providers(login_keys),
            ..new.clone()
        };
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO identities (identity_id, pool_id, logins, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&row.identity_id)
            .bind(&row.pool_id)
            .bind(to_json(&row.logins))
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        for key in login_keys {
            sqlx::query(
                "INSERT INTO identity_logins (pool_id, login_key, identity_id) VALUES (?, ?, ?)",
            )
            .bind(&row.pool_id)
            .bind(key)
            .bind(&row.identity_id)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        }
        tx.commit().await.map_err(write_error)?;
        Ok(row)
    }

    async fn link_logins(
        &self,
        identity_id: &str,
        login_keys: &[String],
        now: i64,
    ) -> StoreResult<Option<IdentityRow>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let Some(identity) = lock_identity(&mut tx, identity_id, now).await? else {
            return Ok(None);
        };
        for key in login_keys {
            let owner: Option<String> = sqlx::query_scalar(
                "SELECT identity_id FROM identity_logins WHERE pool_id = ? AND login_key = ?",
            )
            .bind(&identity.pool_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            match owner {
                Some(owner) if owner == identity_id => {}
                Some(_) => {
                    return Err(StoreError::Conflict(
                        "login linked to another identity".into(),
                    ));
                }
                None => {
                    sqlx::query(
                        "INSERT INTO identity_logins (pool_id, login_key, identity_id) VALUES (?, ?, ?)",
                    )
                    .bind(&identity.pool_id)
                    .bind(key)
                    .bind(identity_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(write_error)?;
                }
            }
        }
        let row = refresh_logins(&mut tx, identity, now).await?;
        tx.commit().await.map_err(write_error)?;
        Ok(Some(row))
    }

    async fn unlink_logins(
        &self,
        identity_id: &str,
        login_keys: &[String],
        now: i64,
    ) -> StoreResult<Option<IdentityRow>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let Some(identity) = lock_identity(&mut tx, identity_id, now).await? else {
            return Ok(None);
        };
        for key in login_keys {
            sqlx::query("DELETE FROM identity_logins WHERE identity_id = ? AND login_key = ?")
                .bind(identity_id)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let row = refresh_logins(&mut tx, identity, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(row))
    }

    async fn merge_identities(
        &self,
        source_id: &str,
        destination_id: &str,
        now: i64,
    ) -> StoreResult<Option<IdentityRow>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let Some(destination) = lock_identity(&mut tx, destination_id, now).await? else {
            return Ok(None);
        };
        if get_identity_in(&mut tx, source_id).await?.is_none() {
            return Ok(None);
        }
        sqlx::query("UPDATE identity_logins SET identity_id = ? WHERE identity_id = ?")
            .bind(destination_id)
            .bind(source_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("DELETE FROM identities WHERE identity_id = ?")
            .bind(source_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let row = refresh_logins(&mut tx, destination, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(row))
    }

    async fn get_identity(&self, identity_id: &str) -> StoreResult<Option<IdentityRow>> {
        let row = sqlx::query("SELECT * FROM identities WHERE identity_id = ?")
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
            "SELECT * FROM identities WHERE pool_id = ? AND identity_id > ? ORDER BY identity_id LIMIT ?",
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
            "DELETE FROM identity_logins WHERE identity_id = ?",
            "DELETE FROM sync_records WHERE identity_id = ?",
            "DELETE FROM sync_datasets WHERE identity_id = ?",
        ] {
            sqlx::query(sql)
                .bind(identity_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let n = sqlx::query("DELETE FROM identities WHERE identity_id = ?")
            .bind(identity_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }
}
