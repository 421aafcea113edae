-- idpool schema, SQLite. Text compares bytewise (BINARY), which keyset pagination
-- and prefix ranges rely on; PostgreSQL uses COLLATE "C" for the same order.
CREATE TABLE pools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    name TEXT NOT NULL,
    secret TEXT,
    config TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX clients_by_pool ON clients (pool_id, client_id);

CREATE TABLE users (
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    username TEXT NOT NULL,
    sub TEXT NOT NULL,
    status TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    enabled_text TEXT NOT NULL,
    email TEXT,
    phone_number TEXT,
    preferred_username TEXT,
    name TEXT,
    given_name TEXT,
    family_name TEXT,
    attributes TEXT NOT NULL,
    password TEXT,
    extra TEXT NOT NULL,
    tokens_valid_after INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (pool_id, username_key)
) WITHOUT ROWID;
-- One index per ListUsers filter attribute, ending in username_key so a filtered page
-- is read in pagination order.
CREATE INDEX users_by_sub ON users (pool_id, sub, username_key);
CREATE INDEX users_by_email ON users (pool_id, email, username_key);
CREATE INDEX users_by_phone ON users (pool_id, phone_number, username_key);
CREATE INDEX users_by_preferred ON users (pool_id, preferred_username, username_key);
CREATE INDEX users_by_name ON users (pool_id, name, username_key);
CREATE INDEX users_by_given_name ON users (pool_id, given_name, username_key);
CREATE INDEX users_by_family_name ON users (pool_id, family_name, username_key);
CREATE INDEX users_by_status ON users (pool_id, status, username_key);
CREATE INDEX users_by_enabled ON users (pool_id, enabled_text, username_key);

CREATE TABLE codes (
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    purpose TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (pool_id, username_key, purpose)
);

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    pool_id TEXT NOT NULL,
    username TEXT NOT NULL,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    subject TEXT,
    message TEXT NOT NULL,
    code TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_by_user ON outbox (pool_id, username, seq);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    origin_jti TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (pool_id, username_key);
CREATE INDEX refresh_tokens_by_origin ON refresh_tokens (origin_jti);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX signing_keys_by_pool ON signing_keys (pool_id, created_at);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
