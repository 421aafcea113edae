-- idpool schema, PostgreSQL. Text columns that are ordered or range-scanned use
-- COLLATE "C": bytewise order, the same as SQLite's, so pages and prefixes agree.
CREATE TABLE pools (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE clients (
    client_id TEXT COLLATE "C" PRIMARY KEY,
    pool_id TEXT NOT NULL,
    name TEXT NOT NULL,
    secret TEXT,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX clients_by_pool ON clients (pool_id, client_id);

CREATE TABLE users (
    pool_id TEXT NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    username TEXT NOT NULL,
    sub TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    enabled BOOLEAN NOT NULL,
    enabled_text TEXT COLLATE "C" NOT NULL,
    email TEXT COLLATE "C",
    phone_number TEXT COLLATE "C",
    preferred_username TEXT COLLATE "C",
    name TEXT COLLATE "C",
    given_name TEXT COLLATE "C",
    family_name TEXT COLLATE "C",
    attributes TEXT NOT NULL,
    password TEXT,
    extra TEXT NOT NULL,
    tokens_valid_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, username_key)
);
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
    expires_at BIGINT NOT NULL,
    failed_attempts INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, username_key, purpose)
);

CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    pool_id TEXT NOT NULL,
    username TEXT NOT NULL,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    subject TEXT,
    message TEXT NOT NULL,
    code TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_by_user ON outbox (pool_id, username, seq);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    origin_jti TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (pool_id, username_key);
CREATE INDEX refresh_tokens_by_origin ON refresh_tokens (origin_jti);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signing_keys_by_pool ON signing_keys (pool_id, created_at);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
