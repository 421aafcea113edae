-- Single-use values (challenge sessions, SRP secret blocks), kept until they expire
-- so a replay on any node is refused.
CREATE TABLE used_sessions (
    key TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_sessions_by_expiry ON used_sessions (expires_at);

-- Tracked devices (ConfirmDevice, remembered devices), listed per user by device key.
CREATE TABLE devices (
    pool_id TEXT NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    device_key TEXT COLLATE "C" NOT NULL,
    group_key TEXT NOT NULL,
    verifier TEXT,
    salt TEXT,
    remembered_status TEXT,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_authenticated_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, username_key, device_key)
);
