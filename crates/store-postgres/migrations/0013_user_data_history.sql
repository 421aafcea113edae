-- The journal behind point-in-time recovery (InitiatePointInTimeRecovery): every change
-- to a user, a group membership or a group records the row as it was before, so the
-- state of the user data at any instant of the recovery period can be rebuilt.
-- Triggers write it, so no write path (API, hosted UI, import, federation) can skip it.
-- `existed = false` records that the row did not exist before (an insert); the other
-- columns then stay NULL. `changed_at` is Unix milliseconds; `seq` orders the changes
-- of one row (changes of one row are serialized by its row lock, so their sequence
-- numbers are in commit order). Rows older than the longest recovery period (14 days)
-- are pruned.
CREATE TABLE users_history (
    seq BIGSERIAL PRIMARY KEY,
    changed_at BIGINT NOT NULL,
    existed BOOLEAN NOT NULL,
    pool_id TEXT NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    username TEXT,
    sub TEXT,
    status TEXT,
    enabled BOOLEAN,
    attributes TEXT,
    password TEXT,
    extra TEXT,
    tokens_valid_after BIGINT,
    created_at BIGINT,
    updated_at BIGINT
);
CREATE INDEX users_history_by_time ON users_history (pool_id, changed_at);
CREATE INDEX users_history_by_age ON users_history (changed_at);

CREATE FUNCTION users_journal() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO users_history (changed_at, existed, pool_id, username_key)
        VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint, false,
                NEW.pool_id, NEW.username_key);
    ELSE
        INSERT INTO users_history (changed_at, existed, pool_id, username_key, username, sub,
            status, enabled, attributes, password, extra, tokens_valid_after, created_at,
            updated_at)
        VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint, true,
                OLD.pool_id, OLD.username_key, OLD.username, OLD.sub, OLD.status, OLD.enabled,
                OLD.attributes, OLD.password, OLD.extra, OLD.tokens_valid_after,
                OLD.created_at, OLD.updated_at);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_journal AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_journal();

CREATE TABLE group_members_history (
    seq BIGSERIAL PRIMARY KEY,
    changed_at BIGINT NOT NULL,
    existed BOOLEAN NOT NULL,
    pool_id TEXT NOT NULL,
    group_name TEXT COLLATE "C" NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL
);
CREATE INDEX group_members_history_by_time ON group_members_history (pool_id, changed_at);
CREATE INDEX group_members_history_by_age ON group_members_history (changed_at);

CREATE FUNCTION group_members_journal() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO group_members_history (changed_at, existed, pool_id, group_name, username_key)
        VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint, false,
                NEW.pool_id, NEW.group_name, NEW.username_key);
    ELSE
        INSERT INTO group_members_history (changed_at, existed, pool_id, group_name, username_key)
        VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint, true,
                OLD.pool_id, OLD.group_name, OLD.username_key);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER group_members_journal AFTER INSERT OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION group_members_journal();

-- Groups only: the other pool objects are configuration, which a recovery leaves alone.
CREATE TABLE groups_history (
    seq BIGSERIAL PRIMARY KEY,
    changed_at BIGINT NOT NULL,
    existed BOOLEAN NOT NULL,
    pool_id TEXT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    doc TEXT,
    created_at BIGINT,
    updated_at BIGINT
);
CREATE INDEX groups_history_by_time ON groups_history (pool_id, changed_at);
CREATE INDEX groups_history_by_age ON groups_history (changed_at);

CREATE FUNCTION groups_journal() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO groups_history (changed_at, existed, pool_id, key)
        VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint, false,
                NEW.pool_id, NEW.key);
    ELSE
        INSERT INTO groups_history (changed_at, existed, pool_id, key, doc, created_at, updated_at)
        VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint, true,
                OLD.pool_id, OLD.key, OLD.doc, OLD.created_at, OLD.updated_at);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER groups_journal_insert AFTER INSERT ON pool_objects
    FOR EACH ROW WHEN (NEW.kind = 'group') EXECUTE FUNCTION groups_journal();
CREATE TRIGGER groups_journal_change AFTER UPDATE OR DELETE ON pool_objects
    FOR EACH ROW WHEN (OLD.kind = 'group') EXECUTE FUNCTION groups_journal();
