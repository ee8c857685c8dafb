-- Certificate-store write locks: two jobs writing one store (Management, Reenrollment)
-- never run at once, on one node or several. A lock names the job holding it and expires
-- (a node that died while holding it does not block the store for good).
-- Portable SQL, like every migration: the same file runs on SQLite and PostgreSQL.

CREATE TABLE store_locks (
    store_id    TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Large request payloads stored once per account by content hash (a certificate that a
-- Management request adds to hundreds of stores), referenced from each job's params
-- instead of copied into every job.
CREATE TABLE payloads (
    account_id  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, sha256)
);
