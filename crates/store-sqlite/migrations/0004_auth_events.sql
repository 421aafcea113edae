-- Users' sign-in and account events (AdminListUserAuthEvents), listed newest first.
CREATE TABLE auth_events (
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (pool_id, username_key, event_id)
);
CREATE INDEX auth_events_by_time ON auth_events (pool_id, username_key, created_at, event_id);
