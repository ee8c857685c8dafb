-- Facts the API dialects need, stored once instead of derived on every request.
-- Portable SQL, like every migration: the same file runs on SQLite and PostgreSQL.

-- What a config's jobs act on (cloud name, certificate store type), computed when the
-- config is written and copied into each job it fires.
ALTER TABLE job_configs ADD COLUMN target TEXT;
-- The kind of schedule: interval, daily, weekly, monthly or once. NULL only for configs
-- written before this migration; the server classifies those when it starts.
ALTER TABLE job_configs ADD COLUMN schedule_kind TEXT
    CHECK (schedule_kind IN ('interval', 'daily', 'weekly', 'monthly', 'once'));
-- The schedule as the client gave it when it came as a recurrence rather than cron
-- (JSON, e.g. {"kind":"weekly","days":["Mon"],"at":"2024-01-01T02:30:00Z"}).
ALTER TABLE job_configs ADD COLUMN recurrence TEXT;

-- The kind of schedule of a job's config when it was enqueued (Keyfactor's ScheduleType);
-- NULL for a job of no config or of an immediate request. Kept with the job, so editing
-- or deleting its config does not rewrite its history.
ALTER TABLE jobs ADD COLUMN schedule_kind TEXT
    CHECK (schedule_kind IN ('interval', 'daily', 'weekly', 'monthly', 'once'));
