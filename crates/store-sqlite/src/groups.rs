use crate::objects::object_from_row;
use crate::users::user_from_row;
use crate::{SqliteStore, backend};
use async_trait::async_trait;
use idpool_store::{GroupMemberStore, ObjectKind, PoolObjectRow, StoreResult, UserRow};

#[async_trait]
impl GroupMemberStore for SqliteStore {
    async fn add_member(&self, pool_id: &str, group: &str, username_key: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO group_members (pool_id, group_name, username_key) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(pool_id)
        .bind(group)
        .bind(username_key)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn remove_member(
        &self,
        pool_id: &str,
        group: &str,
        username_key: &str,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "DELETE FROM group_members WHERE pool_id = ? AND group_name = ? AND username_key = ?",
        )
        .bind(pool_id)
        .bind(group)
        .bind(username_key)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(n > 0)
    }

    async fn list_members(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        let rows = sqlx::query(
            "SELECT u.* FROM group_members m JOIN users u ON u.pool_id = m.pool_id AND u.username_key = m.username_key \
             WHERE m.pool_id = ? AND m.group_name = ? AND m.username_key > ? ORDER BY m.username_key LIMIT ?",
        )
        .bind(pool_id)
        .bind(group)
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn list_groups_of_user(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<PoolObjectRow>> {
        let rows = sqlx::query(
            "SELECT o.* FROM group_members m JOIN pool_objects o ON o.pool_id = m.pool_id AND o.kind = 'group' AND o.key = m.group_name \
             WHERE m.pool_id = ? AND m.username_key = ? AND m.group_name > ? ORDER BY m.group_name LIMIT ?",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| object_from_row(r, ObjectKind::Group))
            .collect()
    }
}
