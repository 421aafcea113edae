use crate::{SqliteStore, backend, from_json, to_json};
use async_trait::async_trait;
use idpool_store::{
    SYNC_CHANGE_RETENTION_MS, StoreResult, SyncChangeRow, SyncDatasetRow, SyncOutcome,
    SyncRecordRow, SyncStore, SyncUpdate, SyncUsage,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

fn dataset_from_row(row: &SqliteRow) -> StoreResult<SyncDatasetRow> {
    Ok(SyncDatasetRow {
        pool_id: row.try_get("pool_id").map_err(backend)?,
        identity_id: row.try_get("identity_id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
        last_modified_by: row.try_get("last_modified_by").map_err(backend)?,
        sync_count: row.try_get("sync_count").map_err(backend)?,
        num_records: row.try_get("num_records").map_err(backend)?,
        data_storage: row.try_get("data_storage").map_err(backend)?,
        deleted: row.try_get("deleted").map_err(backend)?,
        deleted_sync_count: row.try_get("deleted_sync_count").map_err(backend)?,
    })
}

fn record_from_row(row: &SqliteRow) -> StoreResult<SyncRecordRow> {
    Ok(SyncRecordRow {
        key: row.try_get("key").map_err(backend)?,
        value: row.try_get("value").map_err(backend)?,
        sync_count: row.try_get("sync_count").map_err(backend)?,
        last_modified_at: row.try_get("last_modified_at").map_err(backend)?,
        last_modified_by: row.try_get("last_modified_by").map_err(backend)?,
        device_last_modified_at: row.try_get("device_last_modified_at").map_err(backend)?,
    })
}

fn change_from_row(row: &SqliteRow) -> StoreResult<SyncChangeRow> {
    Ok(SyncChangeRow {
        seq: row.try_get("seq").map_err(backend)?,
        pool_id: row.try_get("pool_id").map_err(backend)?,
        identity_id: row.try_get("identity_id").map_err(backend)?,
        dataset: row.try_get("dataset").map_err(backend)?,
        operation: row.try_get("operation").map_err(backend)?,
        sync_count: row.try_get("sync_count").map_err(backend)?,
        records: from_json(row.try_get::<&str, _>("records").map_err(backend)?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
    })
}

async fn select_dataset(
    conn: &mut SqliteConnection,
    pool_id: &str,
    identity_id: &str,
    name: &str,
) -> StoreResult<Option<SyncDatasetRow>> {
    let row = sqlx::query(
        "SELECT * FROM sync_datasets WHERE pool_id = ? AND identity_id = ? AND name = ?",
    )
    .bind(pool_id)
    .bind(identity_id)
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(backend)?;
    row.as_ref().map(dataset_from_row).transpose()
}

/// Appends one log entry and drops the entries past retention. SQLite has one writer,
/// so `seq` order is commit order.
async fn insert_change(
    conn: &mut SqliteConnection,
    change: &SyncChangeRow,
) -> StoreResult<SyncChangeRow> {
    sqlx::query("DELETE FROM sync_changes WHERE created_at < ?")
        .bind(change.created_at - SYNC_CHANGE_RETENTION_MS)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO sync_changes (pool_id, identity_id, dataset, operation, sync_count, records, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
    )
    .bind(&change.pool_id)
    .bind(&change.identity_id)
    .bind(&change.dataset)
    .bind(&change.operation)
    .bind(change.sync_count)
    .bind(to_json(&change.records))
    .bind(change.created_at)
    .fetch_one(conn)
    .await
    .map_err(backend)?;
    Ok(SyncChangeRow {
        seq,
        ..change.clone()
    })
}

#[async_trait]
impl SyncStore for SqliteStore {
    async fn get_dataset(
        &self,
        pool_id: &str,
        identity_id: &str,
        name: &str,
    ) -> StoreResult<Option<SyncDatasetRow>> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        select_dataset(&mut conn, pool_id, identity_id, name).await
    }

    async fn list_datasets(
        &self,
        pool_id: &str,
        identity_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SyncDatasetRow>> {
        let rows = sqlx::query(
            "SELECT * FROM sync_datasets WHERE pool_id = ? AND identity_id = ? AND deleted = 0 \
             AND name > ? ORDER BY name LIMIT ?",
        )
        .bind(pool_id)
        .bind(identity_id)
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(dataset_from_row).collect()
    }

    async fn list_pool_datasets(
        &self,
        pool_id: &str,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<SyncDatasetRow>> {
        let (after_identity, after_name) = after.unwrap_or(("", ""));
        let rows = sqlx::query(
            "SELECT * FROM sync_datasets WHERE pool_id = ? AND deleted = 0 \
             AND (identity_id > ? OR (identity_id = ? AND name > ?)) \
             ORDER BY identity_id, name LIMIT ?",
        )
        .bind(pool_id)
        .bind(after_identity)
        .bind(after_identity)
        .bind(after_name)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(dataset_from_row).collect()
    }

    async fn list_records(
        &self,
        pool_id: &str,
        identity_id: &str,
        dataset: &str,
        after_sync_count: i64,
        after_key: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SyncRecordRow>> {
        let rows = sqlx::query(
            "SELECT * FROM sync_records WHERE pool_id = ? AND identity_id = ? AND dataset = ? \
             AND sync_count > ? AND key > ? ORDER BY key LIMIT ?",
        )
        .bind(pool_id)
        .bind(identity_id)
        .bind(dataset)
        .bind(after_sync_count)
        .bind(after_key.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(record_from_row).collect()
    }

    async fn update_records(&self, u: &SyncUpdate) -> StoreResult<SyncOutcome> {
        // IMMEDIATE: the writer's lock from the first statement, so the checks below
        // read what no other writer can change before commit.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let existing = select_dataset(&mut tx, &u.pool_id, &u.identity_id, &u.dataset).await?;
        let live = existing.as_ref().is_some_and(|d| !d.deleted);
        if u.patches.is_empty() {
            let dataset = existing.unwrap_or_else(|| SyncDatasetRow::placeholder(u));
            return Ok(SyncOutcome::Applied {
                dataset,
                records: Vec::new(),
                change: None,
            });
        }
        if !live {
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sync_datasets WHERE pool_id = ? AND identity_id = ? AND deleted = 0",
            )
            .bind(&u.pool_id)
            .bind(&u.identity_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            if count >= u.limits.max_datasets_per_identity {
                return Ok(SyncOutcome::TooManyDatasets);
            }
        }
        let base = existing
            .clone()
            .unwrap_or_else(|| SyncDatasetRow::placeholder(u));
        let (mut num_records, mut data_storage) = if live {
            (base.num_records, base.data_storage)
        } else {
            (0, 0)
        };
        let sync_count = base.sync_count + 1;
        let mut records = Vec::with_capacity(u.patches.len());
        for p in &u.patches {
            let current = sqlx::query(
                "SELECT * FROM sync_records WHERE pool_id = ? AND identity_id = ? AND dataset = ? AND key = ?",
            )
            .bind(&u.pool_id)
            .bind(&u.identity_id)
            .bind(&u.dataset)
            .bind(&p.key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            let current = current.as_ref().map(record_from_row).transpose()?;
            let current_count = current.as_ref().map_or(0, |r| r.sync_count);
            if current_count != p.expected_sync_count {
                return Ok(SyncOutcome::Conflict {
                    key: p.key.clone(),
                    current: current_count,
                    given: p.expected_sync_count,
                });
            }
            let record = SyncRecordRow {
                key: p.key.clone(),
                value: p.value.clone(),
                sync_count,
                last_modified_at: u.now,
                last_modified_by: u.modified_by.clone(),
                device_last_modified_at: p.device_last_modified_at,
            };
            if let Some(old) = &current {
                data_storage -= old.size();
                num_records -= i64::from(old.value.is_some());
            }
            data_storage += record.size();
            num_records += i64::from(record.value.is_some());
            sqlx::query(
                "INSERT INTO sync_records (pool_id, identity_id, dataset, key, value, sync_count, last_modified_at, last_modified_by, device_last_modified_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pool_id, identity_id, dataset, key) DO UPDATE SET \
                 value = excluded.value, sync_count = excluded.sync_count, last_modified_at = excluded.last_modified_at, \
                 last_modified_by = excluded.last_modified_by, device_last_modified_at = excluded.device_last_modified_at",
            )
            .bind(&u.pool_id)
            .bind(&u.identity_id)
            .bind(&u.dataset)
            .bind(&record.key)
            .bind(&record.value)
            .bind(record.sync_count)
            .bind(record.last_modified_at)
            .bind(&record.last_modified_by)
            .bind(record.device_last_modified_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            records.push(record);
        }
        if num_records > u.limits.max_records_per_dataset {
            return Ok(SyncOutcome::TooManyRecords);
        }
        if data_storage > u.limits.max_bytes_per_dataset {
            return Ok(SyncOutcome::TooLarge);
        }
        let dataset = SyncDatasetRow {
            created_at: if live { base.created_at } else { u.now },
            updated_at: u.now,
            last_modified_by: u.modified_by.clone(),
            sync_count,
            num_records,
            data_storage,
            deleted: false,
            ..base
        };
        sqlx::query(
            "INSERT INTO sync_datasets (pool_id, identity_id, name, created_at, updated_at, last_modified_by, sync_count, num_records, data_storage, deleted, deleted_sync_count) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pool_id, identity_id, name) DO UPDATE SET \
             created_at = excluded.created_at, updated_at = excluded.updated_at, last_modified_by = excluded.last_modified_by, \
             sync_count = excluded.sync_count, num_records = excluded.num_records, data_storage = excluded.data_storage, \
             deleted = excluded.deleted",
        )
        .bind(&dataset.pool_id)
        .bind(&dataset.identity_id)
        .bind(&dataset.name)
        .bind(dataset.created_at)
        .bind(dataset.updated_at)
        .bind(&dataset.last_modified_by)
        .bind(dataset.sync_count)
        .bind(dataset.num_records)
        .bind(dataset.data_storage)
        .bind(dataset.deleted)
        .bind(dataset.deleted_sync_count)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let change = insert_change(&mut tx, &SyncChangeRow::replace(&dataset, &records)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(SyncOutcome::Applied {
            dataset,
            records,
            change: Some(Box::new(change)),
        })
    }

    async fn delete_dataset(
        &self,
        pool_id: &str,
        identity_id: &str,
        name: &str,
        now: i64,
    ) -> StoreResult<Option<(SyncDatasetRow, SyncChangeRow)>> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let Some(before) = select_dataset(&mut tx, pool_id, identity_id, name)
            .await?
            .filter(|d| !d.deleted)
        else {
            return Ok(None);
        };
        let sync_count = before.sync_count + 1;
        sqlx::query(
            "UPDATE sync_datasets SET deleted = ?, sync_count = ?, deleted_sync_count = ?, num_records = 0, \
             data_storage = 0, updated_at = ? WHERE pool_id = ? AND identity_id = ? AND name = ?",
        )
        .bind(true)
        .bind(sync_count)
        .bind(sync_count)
        .bind(now)
        .bind(pool_id)
        .bind(identity_id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "DELETE FROM sync_records WHERE pool_id = ? AND identity_id = ? AND dataset = ?",
        )
        .bind(pool_id)
        .bind(identity_id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let change =
            insert_change(&mut tx, &SyncChangeRow::remove(&before, sync_count, now)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Some((before, change)))
    }

    async fn sync_usage(&self, pool_id: &str, identity_id: Option<&str>) -> StoreResult<SyncUsage> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN deleted = 0 THEN 1 ELSE 0 END), 0) AS datasets, \
             COALESCE(SUM(data_storage), 0) AS bytes, \
             COALESCE(SUM(sync_count), 0) AS sessions, \
             MAX(updated_at) AS last_modified \
             FROM sync_datasets WHERE pool_id = ? AND (? IS NULL OR identity_id = ?)",
        )
        .bind(pool_id)
        .bind(identity_id)
        .bind(identity_id)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(SyncUsage {
            dataset_count: row.try_get("datasets").map_err(backend)?,
            data_storage: row.try_get("bytes").map_err(backend)?,
            sync_sessions: row.try_get("sessions").map_err(backend)?,
            last_modified: row.try_get("last_modified").map_err(backend)?,
        })
    }

    async fn append_changes(&self, changes: &[SyncChangeRow]) -> StoreResult<Vec<SyncChangeRow>> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            out.push(insert_change(&mut tx, c).await?);
        }
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn list_changes(
        &self,
        pool_id: &str,
        identity_id: Option<&str>,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<SyncChangeRow>> {
        let rows = sqlx::query(
            "SELECT * FROM sync_changes WHERE pool_id = ? AND seq > ? AND (? IS NULL OR identity_id = ?) \
             ORDER BY seq LIMIT ?",
        )
        .bind(pool_id)
        .bind(after_seq)
        .bind(identity_id)
        .bind(identity_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(change_from_row).collect()
    }
}
