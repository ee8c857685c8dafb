-- Keywarden schema, version 1. Portable SQL: the same file runs on SQLite and PostgreSQL,
-- so both backends have the same logical schema by construction.
--   ids, enums, JSON  -> TEXT      (UUIDs in hyphenated lower case)
--   timestamps        -> BIGINT    (microseconds since the Unix epoch, UTC): sorts and
--                                  range-compares identically everywhere
--   counters          -> BIGINT

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    is_admin    BOOLEAN NOT NULL DEFAULT FALSE,
    label       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

CREATE TABLE job_configs (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL,
    name                TEXT NOT NULL,
    operation           TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    run_on              TEXT NOT NULL DEFAULT 'any',
    run_at              TEXT NOT NULL,
    timezone            TEXT,
    start_date          BIGINT,
    end_date            BIGINT,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    params              TEXT NOT NULL DEFAULT '{}',
    params_key          TEXT NOT NULL DEFAULT '',
    catch_up            TEXT NOT NULL DEFAULT 'skip' CHECK (catch_up IN ('skip', 'one', 'all')),
    overlap             TEXT NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
    max_retries         BIGINT NOT NULL DEFAULT 0,
    retry_backoff_secs  BIGINT NOT NULL DEFAULT 60,
    next_fire_at        BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (account_id, name)
);

-- Scheduler: due_configs.
CREATE INDEX job_configs_due ON job_configs (next_fire_at)
    WHERE disabled = FALSE AND next_fire_at IS NOT NULL;
-- API listings per account, newest first.
CREATE INDEX job_configs_account_created ON job_configs (account_id, created_at);

CREATE TABLE jobs (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL,
    job_config_id       TEXT,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    operation           TEXT NOT NULL,
    target              TEXT,
    params              TEXT NOT NULL DEFAULT '{}',
    run_on              TEXT NOT NULL DEFAULT 'any',
    status              TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    result              TEXT CHECK (result IN ('success', 'warning', 'failure')),
    message             TEXT,
    details             TEXT,
    logs                TEXT NOT NULL DEFAULT '',
    progress_done       BIGINT NOT NULL DEFAULT 0,
    progress_total      BIGINT NOT NULL DEFAULT 0,
    attempt             BIGINT NOT NULL DEFAULT 0,
    max_attempts        BIGINT NOT NULL DEFAULT 1,
    retry_backoff_secs  BIGINT NOT NULL DEFAULT 60,
    scheduled_for       BIGINT NOT NULL,
    enqueued_at         BIGINT NOT NULL,
    started_at          BIGINT,
    finished_at         BIGINT,
    processing_node     TEXT,
    lease_expires_at    BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

-- Executor: claim_jobs scans queued jobs by due time.
CREATE INDEX jobs_queue ON jobs (scheduled_for, id) WHERE status = 'queued';
-- Executor: recover_expired_leases.
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'running';
-- Scheduler overlap check and per-config history.
CREATE INDEX jobs_config ON jobs (job_config_id, status);
-- API listings per account.
CREATE INDEX jobs_account_created ON jobs (account_id, created_at);

CREATE TABLE nodes (
    id             TEXT PRIMARY KEY,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL
);

CREATE TABLE plugin_state (
    plugin       TEXT NOT NULL,
    scope        TEXT NOT NULL,
    state_key    TEXT NOT NULL,
    state_value  TEXT NOT NULL,
    PRIMARY KEY (plugin, scope, state_key)
);
