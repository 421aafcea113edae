-- Cognito Sync: datasets of an identity (a deleted one stays as a tombstone), their
-- records (a removed one keeps its row without a value) and the change log that
-- Cognito Streams and the server-sent-events endpoint read, in seq order.
CREATE TABLE sync_datasets (
    pool_id TEXT COLLATE "C" NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    sync_count BIGINT NOT NULL,
    num_records BIGINT NOT NULL,
    data_storage BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL,
    deleted_sync_count BIGINT NOT NULL,
    PRIMARY KEY (pool_id, identity_id, name)
);
-- DeleteIdentities knows only the identity id.
CREATE INDEX sync_datasets_by_identity ON sync_datasets (identity_id);

CREATE TABLE sync_records (
    pool_id TEXT COLLATE "C" NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL,
    dataset TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value TEXT,
    sync_count BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    device_last_modified_at BIGINT,
    PRIMARY KEY (pool_id, identity_id, dataset, key)
);
CREATE INDEX sync_records_by_identity ON sync_records (identity_id);

CREATE TABLE sync_changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_id TEXT COLLATE "C" NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL,
    dataset TEXT COLLATE "C" NOT NULL,
    operation TEXT NOT NULL,
    sync_count BIGINT NOT NULL,
    records TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sync_changes_by_pool ON sync_changes (pool_id, seq);
CREATE INDEX sync_changes_by_age ON sync_changes (created_at);
