-- Identity pools (cognito-identity) and their identities. An identity's logins (a
-- provider and the subject there) each map to exactly one identity of the pool.
CREATE TABLE identity_pools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE identities (
    identity_id TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    logins TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX identities_by_pool ON identities (pool_id, identity_id);

CREATE TABLE identity_logins (
    pool_id TEXT NOT NULL,
    login_key TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    PRIMARY KEY (pool_id, login_key)
);
CREATE INDEX identity_logins_by_identity ON identity_logins (identity_id);
