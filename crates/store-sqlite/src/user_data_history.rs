//! Reads of the user-data journal that migration 13's triggers write.
use crate::objects::object_from_row;
use crate::users::user_from_row;
use crate::{SqliteStore, backend};
use async_trait::async_trait;
use idpool_store::{ObjectKind, StoreResult, UserDataAt, UserDataHistoryStore};
use sqlx::Row;

#[async_trait]
impl UserDataHistoryStore for SqliteStore {
    async fn user_data_at(&self, pool_id: &str, since: i64) -> StoreResult<UserDataAt> {
        // One read transaction: the three journals are seen at the same instant.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut at = UserDataAt::default();
        // The first change of a row after `since` recorded the row as it was then.
        let rows = sqlx::query(
            "SELECT * FROM users_history WHERE pool_id = ? AND changed_at > ? \
             ORDER BY username_key, seq",
        )
        .bind(pool_id)
        .bind(since)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        for row in &rows {
            let key: String = row.try_get("username_key").map_err(backend)?;
            UserDataAt::keep_first(&mut at.users, key, || {
                existed(row)?.then(|| user_from_row(row)).transpose()
            })?;
        }
        let rows = sqlx::query(
            "SELECT * FROM groups_history WHERE pool_id = ? AND changed_at > ? ORDER BY key, seq",
        )
        .bind(pool_id)
        .bind(since)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        for row in &rows {
            let key: String = row.try_get("key").map_err(backend)?;
            UserDataAt::keep_first(&mut at.groups, key, || {
                existed(row)?
                    .then(|| object_from_row(row, ObjectKind::Group))
                    .transpose()
            })?;
        }
        let rows = sqlx::query(
            "SELECT group_name, username_key, existed FROM group_members_history \
             WHERE pool_id = ? AND changed_at > ? ORDER BY group_name, username_key, seq",
        )
        .bind(pool_id)
        .bind(since)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        for row in &rows {
            let key: (String, String) = (
                row.try_get("group_name").map_err(backend)?,
                row.try_get("username_key").map_err(backend)?,
            );
            UserDataAt::keep_first(&mut at.memberships, key, || existed(row))?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(at)
    }

    async fn prune_user_data_history(&self, before: i64) -> StoreResult<u64> {
        let mut pruned = 0;
        for table in ["users_history", "group_members_history", "groups_history"] {
            pruned += sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE changed_at < ?"
            )))
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        }
        Ok(pruned)
    }
}

/// Whether a journal entry recorded a row (else: there was none before).
fn existed(row: &sqlx::sqlite::SqliteRow) -> StoreResult<bool> {
    Ok(row.try_get::<i64, _>("existed").map_err(backend)? != 0)
}
