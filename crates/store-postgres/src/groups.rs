use crate::objects::object_from_row;
use crate::users::user_from_row;
use crate::{PgStore, backend};
use async_trait::async_trait;
use idpool_store::{GroupMemberStore, ObjectKind, PoolObjectRow, StoreResult, UserRow};

#[async_trait]
impl GroupMemberStore for PgStore {
    async fn add_member(&self, pool_id: &str, group: &str, username_key: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO group_members (pool_id, group_name, username_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
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
            "DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2 AND username_key = $3",
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
             WHERE m.pool_id = $1 AND m.group_name = $2 AND m.username_key > $3 ORDER BY m.username_key LIMIT $4",
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
             WHERE m.pool_id = $1 AND m.username_key = $2 AND m.group_name > $3 ORDER BY m.group_name LIMIT $4",
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
