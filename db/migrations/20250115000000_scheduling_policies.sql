-- Scheduling policies of a job config (maintenance and blackout windows, jitter, pause
-- after failures), kept as one JSON object the host reads into a typed policy, and the
-- record of an automatic pause: why and when, shown until the config is resumed.
ALTER TABLE job_configs ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';
ALTER TABLE job_configs ADD COLUMN paused_reason TEXT;
ALTER TABLE job_configs ADD COLUMN paused_at BIGINT;

-- The last instant a window-gated job may start: past it, the executor checks the
-- config's windows again before it runs the job (NULL: not gated).
ALTER TABLE jobs ADD COLUMN start_by BIGINT;

-- A config's latest outcomes, newest first, for the pause after N failed runs.
CREATE INDEX jobs_config_finished ON jobs (job_config_id, finished_at);
