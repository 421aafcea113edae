-- The journal behind point-in-time recovery (InitiatePointInTimeRecovery): every change
-- to a user, a group membership or a group records the row as it was before, so the
-- state of the user data at any instant of the recovery period can be rebuilt.
-- Triggers write it, so no write path (API, hosted UI, import, federation) can skip it.
-- `existed = 0` records that the row did not exist before (an insert); the other
-- columns then stay NULL. `changed_at` is Unix milliseconds; `seq` orders the changes
-- of one row. Rows older than the longest recovery period (14 days) are pruned.
CREATE TABLE users_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at INTEGER NOT NULL,
    existed INTEGER NOT NULL,
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    username TEXT,
    sub TEXT,
    status TEXT,
    enabled INTEGER,
    attributes TEXT,
    password TEXT,
    extra TEXT,
    tokens_valid_after INTEGER,
    created_at INTEGER,
    updated_at INTEGER
);
CREATE INDEX users_history_by_time ON users_history (pool_id, changed_at);
CREATE INDEX users_history_by_age ON users_history (changed_at);

CREATE TRIGGER users_journal_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_history (changed_at, existed, pool_id, username_key)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 0,
            NEW.pool_id, NEW.username_key);
END;
CREATE TRIGGER users_journal_update AFTER UPDATE ON users BEGIN
    INSERT INTO users_history (changed_at, existed, pool_id, username_key, username, sub,
        status, enabled, attributes, password, extra, tokens_valid_after, created_at, updated_at)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 1,
            OLD.pool_id, OLD.username_key, OLD.username, OLD.sub, OLD.status, OLD.enabled,
            OLD.attributes, OLD.password, OLD.extra, OLD.tokens_valid_after, OLD.created_at,
            OLD.updated_at);
END;
CREATE TRIGGER users_journal_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_history (changed_at, existed, pool_id, username_key, username, sub,
        status, enabled, attributes, password, extra, tokens_valid_after, created_at, updated_at)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 1,
            OLD.pool_id, OLD.username_key, OLD.username, OLD.sub, OLD.status, OLD.enabled,
            OLD.attributes, OLD.password, OLD.extra, OLD.tokens_valid_after, OLD.created_at,
            OLD.updated_at);
END;

CREATE TABLE group_members_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at INTEGER NOT NULL,
    existed INTEGER NOT NULL,
    pool_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    username_key TEXT NOT NULL
);
CREATE INDEX group_members_history_by_time ON group_members_history (pool_id, changed_at);
CREATE INDEX group_members_history_by_age ON group_members_history (changed_at);

CREATE TRIGGER group_members_journal_insert AFTER INSERT ON group_members BEGIN
    INSERT INTO group_members_history (changed_at, existed, pool_id, group_name, username_key)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 0,
            NEW.pool_id, NEW.group_name, NEW.username_key);
END;
CREATE TRIGGER group_members_journal_delete AFTER DELETE ON group_members BEGIN
    INSERT INTO group_members_history (changed_at, existed, pool_id, group_name, username_key)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 1,
            OLD.pool_id, OLD.group_name, OLD.username_key);
END;

-- Groups only: the other pool objects are configuration, which a recovery leaves alone.
CREATE TABLE groups_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at INTEGER NOT NULL,
    existed INTEGER NOT NULL,
    pool_id TEXT NOT NULL,
    key TEXT NOT NULL,
    doc TEXT,
    created_at INTEGER,
    updated_at INTEGER
);
CREATE INDEX groups_history_by_time ON groups_history (pool_id, changed_at);
CREATE INDEX groups_history_by_age ON groups_history (changed_at);

CREATE TRIGGER groups_journal_insert AFTER INSERT ON pool_objects WHEN NEW.kind = 'group' BEGIN
    INSERT INTO groups_history (changed_at, existed, pool_id, key)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 0, NEW.pool_id, NEW.key);
END;
CREATE TRIGGER groups_journal_update AFTER UPDATE ON pool_objects WHEN OLD.kind = 'group' BEGIN
    INSERT INTO groups_history (changed_at, existed, pool_id, key, doc, created_at, updated_at)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 1,
            OLD.pool_id, OLD.key, OLD.doc, OLD.created_at, OLD.updated_at);
END;
CREATE TRIGGER groups_journal_delete AFTER DELETE ON pool_objects WHEN OLD.kind = 'group' BEGIN
    INSERT INTO groups_history (changed_at, existed, pool_id, key, doc, created_at, updated_at)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 1,
            OLD.pool_id, OLD.key, OLD.doc, OLD.created_at, OLD.updated_at);
END;
