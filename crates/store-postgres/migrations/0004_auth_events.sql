-- Users' sign-in and account events (AdminListUserAuthEvents), listed newest first.
CREATE TABLE auth_events (
    pool_id TEXT NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    event_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (pool_id, username_key, event_id)
);
CREATE INDEX auth_events_by_time ON auth_events (pool_id, username_key, created_at, event_id);
