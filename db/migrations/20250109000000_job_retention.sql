-- Job retention: finished jobs older than the operator's retention are deleted, and what
-- they were is kept as counts, so "how many rotations ran, how many failed" still has an
-- answer after the rows are gone.
-- Portable SQL, like every migration: the same file runs on SQLite and PostgreSQL.

-- Purged jobs counted per account, UTC day of their end, config, operation, status and
-- result. '' stands for "none" in job_config_id and result, so the primary key (which
-- treats NULLs as distinct) merges them.
CREATE TABLE job_counts (
    account_id     TEXT NOT NULL,
    day            BIGINT NOT NULL,
    job_config_id  TEXT NOT NULL DEFAULT '',
    operation      TEXT NOT NULL,
    status         TEXT NOT NULL,
    result         TEXT NOT NULL DEFAULT '',
    count          BIGINT NOT NULL,
    PRIMARY KEY (account_id, day, job_config_id, operation, status, result)
);

-- The purge looks finished jobs up by when they ended.
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE status IN ('completed', 'failed', 'cancelled');
