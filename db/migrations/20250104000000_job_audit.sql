-- Job history for the Keyfactor dialect: a stable integer id per job (Keyfactor's
-- JobAuditId), the attempt a user acknowledged, and the run a failed job was rescheduled as.
-- Portable SQL, like every migration: the same file runs on SQLite and PostgreSQL.

ALTER TABLE jobs ADD COLUMN audit_id BIGINT;
-- Equal to `attempt` while the latest attempt's outcome is acknowledged; a later attempt
-- (a retry) makes it stale, so a new outcome is never hidden by an old acknowledgement.
ALTER TABLE jobs ADD COLUMN acknowledged_attempt BIGINT;
-- Id of the job that re-runs this one (set once, by a reschedule).
ALTER TABLE jobs ADD COLUMN rescheduled_as TEXT;

-- Existing jobs are numbered in creation order.
UPDATE jobs SET audit_id = numbered.n
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM jobs) AS numbered
WHERE jobs.id = numbered.id;

CREATE UNIQUE INDEX jobs_audit_id ON jobs (audit_id);

-- Named counters, advanced inside the inserting transaction: the portable alternative to
-- SQLite's AUTOINCREMENT and PostgreSQL's sequences (which need different DDL).
CREATE TABLE counters (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
INSERT INTO counters (name, value) SELECT 'job_audit_id', COALESCE(MAX(audit_id), 0) FROM jobs;
