-- Cognito Sync: datasets of an identity (a deleted one stays as a tombstone), their
-- records (a removed one keeps its row without a value) and the change log that
-- Cognito Streams and the server-sent-events endpoint read, in seq order.
CREATE TABLE sync_datasets (
    pool_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_modified_by TEXT NOT NULL,
    sync_count INTEGER NOT NULL,
    num_records INTEGER NOT NULL,
    data_storage INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    deleted_sync_count INTEGER NOT NULL,
    PRIMARY KEY (pool_id, identity_id, name)
);
-- DeleteIdentities knows only the identity id.
CREATE INDEX sync_datasets_by_identity ON sync_datasets (identity_id);

CREATE TABLE sync_records (
    pool_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    sync_count INTEGER NOT NULL,
    last_modified_at INTEGER NOT NULL,
    last_modified_by TEXT NOT NULL,
    device_last_modified_at INTEGER,
    PRIMARY KEY (pool_id, identity_id, dataset, key)
);
CREATE INDEX sync_records_by_identity ON sync_records (identity_id);

CREATE TABLE sync_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    operation TEXT NOT NULL,
    sync_count INTEGER NOT NULL,
    records TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX sync_changes_by_pool ON sync_changes (pool_id, seq);
CREATE INDEX sync_changes_by_age ON sync_changes (created_at);
