-- Alerts: SSL endpoints whose certificates expire soon, changed, are untrusted or do not
-- match their names, and jobs that failed, missed a run or ran out of retries. Each is
-- raised once (dedupe_key) and delivered to the operator's webhook by whichever node
-- claims it (a lease), retried with backoff, held back during the network's quiet hours.

CREATE TABLE alerts (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    kind             TEXT NOT NULL,
    dedupe_key       TEXT NOT NULL UNIQUE,
    subject          TEXT NOT NULL,
    message          TEXT NOT NULL,
    details          TEXT NOT NULL DEFAULT '{}',
    network_id       TEXT,
    job_config_id    TEXT,
    job_id           TEXT,
    created_at       BIGINT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    delivered_at     BIGINT,
    last_error       TEXT
);
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE state = 'pending';
CREATE INDEX alerts_account ON alerts (account_id, created_at);

-- Which failures of a config's jobs raise an alert (JSON: on_failure, on_missed_run,
-- on_retries_exhausted).
ALTER TABLE job_configs ADD COLUMN alerts TEXT NOT NULL DEFAULT '{}';
