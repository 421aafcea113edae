use crate::{SqliteStore, backend, from_json, to_json, write_error};
use async_trait::async_trait;
use idpool_store::{
    FilterOp, IndexedAttr, StoreResult, UserCursor, UserFilter, UserRow, UserStore,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// Above every code point, so `[prefix, prefix + MAX)` is exactly the strings that start
/// with `prefix` under bytewise order: a range the index serves, unlike LIKE.
const PREFIX_END: char = '\u{10FFFF}';

pub(crate) fn user_from_row(row: &SqliteRow) -> StoreResult<UserRow> {
    let password: Option<String> = row.try_get("password").map_err(backend)?;
    Ok(UserRow {
        pool_id: row.try_get("pool_id").map_err(backend)?,
        username: row.try_get("username").map_err(backend)?,
        username_key: row.try_get("username_key").map_err(backend)?,
        sub: row.try_get("sub").map_err(backend)?,
        status: row.try_get("status").map_err(backend)?,
        enabled: row.try_get::<i64, _>("enabled").map_err(backend)? != 0,
        attributes: from_json(row.try_get::<&str, _>("attributes").map_err(backend)?)?,
        password: password.as_deref().map(from_json).transpose()?,
        extra: from_json(row.try_get::<&str, _>("extra").map_err(backend)?)?,
        tokens_valid_after: row.try_get("tokens_valid_after").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

/// The table clause that makes SQLite use the filtered attribute's index. Without
/// statistics its planner prefers the primary key for `ORDER BY username_key` and
/// scans the whole pool for a selective filter (half a second at a million users).
fn users_indexed_by(attr: IndexedAttr) -> &'static str {
    match attr {
        IndexedAttr::Username => "users",
        IndexedAttr::Email => "users INDEXED BY users_by_email",
        IndexedAttr::PhoneNumber => "users INDEXED BY users_by_phone",
        IndexedAttr::PreferredUsername => "users INDEXED BY users_by_preferred",
        IndexedAttr::Name => "users INDEXED BY users_by_name",
        IndexedAttr::GivenName => "users INDEXED BY users_by_given_name",
        IndexedAttr::FamilyName => "users INDEXED BY users_by_family_name",
        IndexedAttr::Sub => "users INDEXED BY users_by_sub",
        IndexedAttr::UserStatus => "users INDEXED BY users_by_status",
        IndexedAttr::Enabled => "users INDEXED BY users_by_enabled",
    }
}

const INDEXED: [IndexedAttr; 7] = [
    IndexedAttr::Email,
    IndexedAttr::PhoneNumber,
    IndexedAttr::PreferredUsername,
    IndexedAttr::Name,
    IndexedAttr::GivenName,
    IndexedAttr::FamilyName,
    IndexedAttr::Enabled,
];

/// The INSERT of one user, for `create_user` and `create_users`.
fn insert_user(u: &UserRow) -> sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    let mut q = sqlx::query(
            "INSERT INTO users (pool_id, username_key, username, sub, status, enabled, attributes, password, extra, tokens_valid_after, created_at, updated_at, \
             email, phone_number, preferred_username, name, given_name, family_name, enabled_text) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&u.pool_id)
        .bind(&u.username_key)
        .bind(&u.username)
        .bind(&u.sub)
        .bind(&u.status)
        .bind(u.enabled as i64)
        .bind(to_json(&u.attributes))
        .bind(u.password.as_ref().map(to_json))
        .bind(to_json(&u.extra))
        .bind(u.tokens_valid_after)
        .bind(u.created_at)
        .bind(u.updated_at);
    for attr in INDEXED {
        q = q.bind(u.indexed_value(attr));
    }
    q
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, u: &UserRow) -> StoreResult<()> {
        insert_user(u)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn create_users(&self, users: &[UserRow]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for u in users {
            insert_user(u)
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
        }
        tx.commit().await.map_err(backend)?;
        // Back-to-back bulk transactions starve SQLite's passive auto-checkpoint: the
        // WAL grew to 6 GB importing a million users. A truncating checkpoint after each
        // batch keeps it small. It is best effort: when other writers hold it off past
        // the busy timeout, the import goes on and a later batch checkpoints.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::debug!(error = %e, "WAL checkpoint after a bulk insert deferred");
        }
        Ok(())
    }

    async fn get_user(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query("SELECT * FROM users WHERE pool_id = ? AND username_key = ?")
            .bind(pool_id)
            .bind(username_key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn get_user_for_session(
        &self,
        pool_id: &str,
        username_key: &str,
        origin_jti: &str,
    ) -> StoreResult<Option<(UserRow, bool)>> {
        let row = sqlx::query(
            "SELECT u.*, EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.origin_jti = ? AND r.revoked_at IS NOT NULL) AS origin_revoked \
             FROM users u WHERE u.pool_id = ? AND u.username_key = ?",
        )
        .bind(origin_jti)
        .bind(pool_id)
        .bind(username_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| {
            Ok((
                user_from_row(&r)?,
                r.try_get::<bool, _>("origin_revoked").map_err(backend)?,
            ))
        })
        .transpose()
    }

    async fn find_users_by(
        &self,
        pool_id: &str,
        attr: IndexedAttr,
        value: &str,
    ) -> StoreResult<Vec<UserRow>> {
        let sql = format!(
            "SELECT * FROM users WHERE pool_id = ? AND {} = ? ORDER BY username_key LIMIT 100",
            attr.column()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(pool_id)
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn update_user(&self, u: &UserRow) -> StoreResult<()> {
        let mut q = sqlx::query(
            "UPDATE users SET username = ?, sub = ?, status = ?, enabled = ?, attributes = ?, password = ?, extra = ?, tokens_valid_after = ?, updated_at = ?, \
             email = ?, phone_number = ?, preferred_username = ?, name = ?, given_name = ?, family_name = ?, enabled_text = ? \
             WHERE pool_id = ? AND username_key = ?",
        )
        .bind(&u.username)
        .bind(&u.sub)
        .bind(&u.status)
        .bind(u.enabled as i64)
        .bind(to_json(&u.attributes))
        .bind(u.password.as_ref().map(to_json))
        .bind(to_json(&u.extra))
        .bind(u.tokens_valid_after)
        .bind(u.updated_at);
        for attr in INDEXED {
            q = q.bind(u.indexed_value(attr));
        }
        q.bind(&u.pool_id)
            .bind(&u.username_key)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn delete_user(&self, pool_id: &str, username_key: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let n = sqlx::query("DELETE FROM users WHERE pool_id = ? AND username_key = ?")
            .bind(pool_id)
            .bind(username_key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        sqlx::query("DELETE FROM codes WHERE pool_id = ? AND username_key = ?")
            .bind(pool_id)
            .bind(username_key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("DELETE FROM devices WHERE pool_id = ? AND username_key = ?")
            .bind(pool_id)
            .bind(username_key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("DELETE FROM group_members WHERE pool_id = ? AND username_key = ?")
            .bind(pool_id)
            .bind(username_key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("DELETE FROM auth_events WHERE pool_id = ? AND username_key = ?")
            .bind(pool_id)
            .bind(username_key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&UserFilter>,
        after: Option<&UserCursor>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        let start = UserCursor::default();
        let after = after.unwrap_or(&start);
        // One lower bound for prefix listings ordered by value: the later of the prefix
        // and the cursor. Given both, a generic (prepared) plan may start its index scan
        // at the cursor's bound and walk every value below the prefix.
        let lower = match filter {
            Some(f) => std::cmp::max(
                (f.value.as_str(), ""),
                (after.value.as_str(), after.username_key.as_str()),
            ),
            None => ("", ""),
        };
        let rows = match filter {
            None => sqlx::query("SELECT * FROM users WHERE pool_id = ? AND username_key > ? ORDER BY username_key LIMIT ?")
                .bind(pool_id)
                .bind(&after.username_key)
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await,
            Some(f) => {
                let col = f.attr.column();
                let from = users_indexed_by(f.attr);
                match f.op {
                    FilterOp::Equals => sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT * FROM {from} WHERE pool_id = ? AND {col} = ? AND username_key > ? ORDER BY username_key LIMIT ?"
                    )))
                    .bind(pool_id)
                    .bind(&f.value)
                    .bind(&after.username_key)
                    .bind(limit as i64)
                    .fetch_all(&self.pool)
                    .await,
                    FilterOp::Prefix if f.orders_by_value() => sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT * FROM {from} WHERE pool_id = ? AND ({col}, username_key) > (?, ?) AND {col} < ? \
                         ORDER BY {col}, username_key LIMIT ?"
                    )))
                    .bind(pool_id)
                    .bind(lower.0)
                    .bind(lower.1)
                    .bind(format!("{}{PREFIX_END}", f.value))
                    .bind(limit as i64)
                    .fetch_all(&self.pool)
                    .await,
                    FilterOp::Prefix => sqlx::query(
                        "SELECT * FROM users WHERE pool_id = ? AND username_key >= ? AND username_key < ? AND username_key > ? ORDER BY username_key LIMIT ?",
                    )
                    .bind(pool_id)
                    .bind(&f.value)
                    .bind(format!("{}{PREFIX_END}", f.value))
                    .bind(&after.username_key)
                    .bind(limit as i64)
                    .fetch_all(&self.pool)
                    .await,
                }
            }
        }
        .map_err(backend)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn count_users(&self, pool_id: &str) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE pool_id = ?")
            .bind(pool_id)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }
}
