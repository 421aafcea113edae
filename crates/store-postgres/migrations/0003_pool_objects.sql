-- Pool sub-resources kept as Cognito documents (groups, resource servers, identity
-- providers, domains, UI customizations, ...), listed per pool and kind by key.
-- global_key is the key for kinds unique across pools (domains) and NULL otherwise;
-- NULLs never collide, so the unique index binds only those kinds.
CREATE TABLE pool_objects (
    pool_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    global_key TEXT,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, kind, key)
);
CREATE UNIQUE INDEX pool_objects_global_key ON pool_objects (kind, global_key);

-- Group memberships, read both ways: a group's users and a user's groups.
CREATE TABLE group_members (
    pool_id TEXT NOT NULL,
    group_name TEXT COLLATE "C" NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (pool_id, group_name, username_key)
);
CREATE INDEX group_members_by_user ON group_members (pool_id, username_key, group_name);
