-- Cloud keys pulled in by cckm_synchronization jobs. Each synchronizing job config (the
-- `source`) owns a snapshot of what its cloud account and region reported: a new run
-- replaces its rows, so keys deleted in the cloud disappear here too.
CREATE TABLE cloud_keys (
    id             TEXT PRIMARY KEY,            -- '<source>/<key_id>'
    account_id     TEXT NOT NULL,
    source         TEXT NOT NULL,               -- job config id (or job id) that synced it
    cloud_name     TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    resource_name  TEXT,
    aliases        TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    state          TEXT NOT NULL,
    created_at     BIGINT,
    rotated_at     BIGINT,
    attributes     TEXT NOT NULL DEFAULT '{}',
    synced_at      BIGINT NOT NULL,
    UNIQUE (account_id, source, key_id)
);

-- API listings per account and cloud.
CREATE INDEX cloud_keys_account ON cloud_keys (account_id, cloud_name, key_id);
