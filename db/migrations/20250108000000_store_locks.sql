-- Certificate-store write locks: two jobs writing one store (Management, Reenrollment)
-- never run at once, on one node or several. A lock names the job holding it and expires
-- (a node that died while holding it does not block the store for good).
-- Portable SQL, like every migration: the same file runs on SQLite and PostgreSQL.

CREATE TABLE store_locks (
    store_id    TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
